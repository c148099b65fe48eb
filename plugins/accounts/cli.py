"""``mercato user create [--admin|--staff] EMAIL``: how a shop gets its first admin.

The password is read from ``MERCATO_USER_PASSWORD`` (for scripts) or asked for twice
on the terminal; it never appears on the command line, where ``ps`` would show it.
"""

import getpass
import os
import sys

import transaction
from sqlalchemy.orm import Session
from zope.sqlalchemy import register

from mercato import EmailTaken, create_user, make_engine
from mercato import validate_form as validate

from .schemas import RegisterSchema

PASSWORD_ENV = "MERCATO_USER_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def _read_password() -> str | None:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        print(
            f"mercato user create: no terminal to ask for the password: set {PASSWORD_ENV}",
            file=sys.stderr,
        )
        return None
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Repeat the password: "):
        print("mercato user create: the two passwords do not match", file=sys.stderr)
        return None
    return password


def cmd_user_create(args, env) -> int:
    role = "admin" if args.admin else "staff" if args.staff else "customer"
    password = _read_password()
    if password is None:
        return 1
    _values, errors = validate(
        RegisterSchema(),
        {
            "name": args.name or args.email,
            "email": args.email,
            "password": password,
            "password_confirm": password,
        },
    )
    if errors:
        for field, message in errors.items():
            print(f"mercato user create: {field}: {message}", file=sys.stderr)
        return 1
    rounds = env.settings["mercato.accounts"]["bcrypt_rounds"]
    engine = make_engine(env.settings)
    manager = transaction.TransactionManager(explicit=True)
    session = Session(engine)
    register(session, transaction_manager=manager)
    try:
        with manager:
            user = create_user(
                session, args.email, password, name=args.name or "", role=role, rounds=rounds
            )
            email, user_id = user.email, user.id
    except EmailTaken:
        print(f"mercato user create: an account with {args.email} exists already", file=sys.stderr)
        return 1
    finally:
        session.close()
        engine.dispose()
    print(f"created {role} {email} (id {user_id})")
    return 0


def add_commands(subparsers) -> None:
    """Add ``user`` to the ``mercato`` command."""
    p = subparsers.add_parser("user", help="manage accounts (create the first admin)")
    actions = p.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help=f"create an account; the password comes from ${PASSWORD_ENV} or a prompt"
    )
    role = create.add_mutually_exclusive_group()
    role.add_argument("--admin", action="store_true", help="an admin: may do everything")
    role.add_argument("--staff", action="store_true", help="staff: the back office")
    create.add_argument("--name", default="", help="the person's name")
    create.add_argument("email")
    create.set_defaults(func=cmd_user_create)
