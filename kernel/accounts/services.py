"""What is done to accounts wherever it is done: create and find users, set a password or
a role, password-reset tokens, links for emails.

The accounts plugin (registration, login, password reset), the admin (staff invitations,
roles) and ``mercato demo`` call these. Hashing costs ``rounds``, chosen by the caller
(the accounts plugin's ``mercato.accounts.bcrypt_rounds``).
"""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..outbox import enqueue
from .models import ROLES, User
from .passwords import DEFAULT_ROUNDS, hash_password


class EmailTaken(Exception):
    """An account with this email exists already."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(dbsession: Session, email: str) -> User | None:
    return dbsession.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    dbsession: Session,
    email: str,
    password: str,
    *,
    name: str = "",
    role: str = "customer",
    rounds: int = DEFAULT_ROUNDS,
) -> User:
    """Add a user (flushed, so it has an id). Raises ``EmailTaken``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    email = normalize_email(email)
    if find_user(dbsession, email) is not None:
        raise EmailTaken(email)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password, rounds),
        password_changed_at=datetime.now(UTC),
    )
    dbsession.add(user)
    dbsession.flush()
    return user


def set_password(user: User, password: str, rounds: int = DEFAULT_ROUNDS) -> None:
    """Change the password; the user's other sessions end at their next request."""
    user.password_hash = hash_password(password, rounds)
    user.password_changed_at = datetime.now(UTC)


def set_role(user: User, role: str) -> None:
    """Change the role; the user's sessions end at their next request (privilege change)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    user.role = role


def erase_user(request, user: User) -> None:
    """Erase a customer's account in the request's transaction (the right to erasure):
    every plugin drops what it keeps of them (``mercato_user_erased``), the account and
    its addresses are deleted, ``account.erased`` (``email``, ``name``) goes to the
    outbox. Their orders stay, as the law on invoices asks: the email and addresses
    they were placed with, no link to an account. ``ValueError`` for a staff account:
    an admin makes it a customer's first."""
    if user.is_staff:
        raise ValueError("a staff account is not erased: make it a customer's first")
    request.hooks.mercato_user_erased(request=request, user=user)
    enqueue(request.dbsession, "account.erased", {"email": user.email, "name": user.name})
    request.dbsession.delete(user)
    request.dbsession.flush()


def public_route_url(request, route_name: str, **kw) -> str:
    """An absolute URL for emails: on ``mercato.public_url`` when set, never on the
    request's Host header, which anyone can set to their own site to harvest links."""
    public_url = (request.registry.settings.get("mercato.public_url") or "").rstrip("/")
    if public_url:
        kw["_app_url"] = public_url
    return request.route_url(route_name, **kw)


# ---------------------------------------------------------------------------
# Password reset tokens
# ---------------------------------------------------------------------------
#
# ``<user id>.<expiry epoch>.<signature>``, the signature an HMAC (keyed from
# mercato.secret) over the id, the expiry and the user's current password hash. So a
# token is tamper-proof, expires, and is single-use: setting the new password changes
# the hash it was signed over, which voids it (and every other outstanding token).
# Made by the accounts plugin (forgotten password) and the admin (staff invitations),
# checked by the accounts plugin's reset page.


def _reset_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"mercato.accounts.password-reset", hashlib.sha256).digest()


def _reset_signature(secret: str, user: User, expires: int) -> str:
    message = f"{user.id}.{expires}.{user.password_hash}".encode()
    digest = hmac.new(_reset_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_reset_token(secret: str, user: User, ttl: int, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl)
    return f"{user.id}.{expires}.{_reset_signature(secret, user, expires)}"


def user_for_reset_token(dbsession: Session, secret: str, token: str) -> User | None:
    """The user a valid, unexpired, unused token was made for, else None."""
    try:
        user_id, expires, signature = token.split(".")
        user_id, expires = int(user_id), int(expires)
    except (AttributeError, ValueError):
        return None
    if expires < time.time():
        return None
    user = dbsession.get(User, user_id)
    if user is None or not user.is_active:
        return None
    expected = _reset_signature(secret, user, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    return user
