"""``mercato cart …``: maintenance commands for store owners and cron."""

from mercato import make_engine

from .store import delete_backups_older_than

DAY = 24 * 3600


def add_commands(subparsers) -> None:
    cart = subparsers.add_parser("cart", help="cart maintenance")
    commands = cart.add_subparsers(dest="cart_command", metavar="COMMAND", required=True)
    cleanup = commands.add_parser(
        "cleanup",
        help="delete PostgreSQL backups of carts idle longer than mercato.cart.idle_days",
    )
    cleanup.add_argument(
        "--older-than-days",
        type=int,
        default=None,
        help="delete backups not changed for this many days (default: mercato.cart.idle_days)",
    )
    cleanup.set_defaults(func=cleanup_command)


def cleanup_command(args, env) -> int:
    days = args.older_than_days or env.settings["mercato.cart"]["idle_days"]
    if days < 1:
        print("mercato cart cleanup: --older-than-days must be at least 1")
        return 2
    engine = make_engine(env.settings)
    try:
        deleted = delete_backups_older_than(engine, days * DAY)
    finally:
        engine.dispose()
    print(f"mercato cart cleanup: deleted {deleted} cart backup(s) idle for over {days} days")
    return 0
