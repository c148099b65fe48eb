"""``mercato reconcile``: safe to run from cron, as often as you like."""

import json


def cmd_reconcile(args, env) -> int:
    from .reconcile import reconcile

    registry = env.app().registry
    report = reconcile(registry, grace=args.grace, action_timeout=args.action_timeout)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(
            f"reconcile: {len(report.voided)} authorization(s) voided, "
            f"{len(report.captured)} order(s) captured, "
            f"{len(report.marked_paid)} marked paid, "
            f"{len(report.cancelled)} abandoned order(s) cancelled, "
            f"{len(report.failed)} failure(s)"
        )
        for failure in report.failed:
            print(f"  failed: {failure}")
    # Non-zero so that cron mails someone; the next run tries the failures again.
    return 1 if report.failed else 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "reconcile",
        help="void authorizations without an order, capture orders not yet captured",
    )
    p.add_argument(
        "--grace",
        type=int,
        default=None,
        metavar="SECONDS",
        help="leave payments younger than this alone (default: mercato.payment_grace_seconds)",
    )
    p.add_argument(
        "--action-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="cancel orders waiting this long for 3-D Secure "
        "(default: mercato.payment_action_seconds)",
    )
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=cmd_reconcile)
