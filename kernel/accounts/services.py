"""What accounts do, apart from the web: create, authenticate, log in, reset passwords.

The views and the ``mercato user`` command call these; other kernel code may too.
"""

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import ratelimit
from ..exceptions import ConfigurationError
from ..outbox import enqueue
from ..security import forget_user, remember_user
from .models import ROLES, User
from .passwords import DEFAULT_ROUNDS, dummy_hash, hash_password, verify_password


@dataclass(frozen=True)
class AccountSettings:
    rounds: int = DEFAULT_ROUNDS
    reset_ttl: int = 3600
    # Where links in emails point; never the request's Host header, which anyone can
    # set to their own site to harvest reset tokens.
    public_url: str | None = None


def read_settings(settings: dict) -> AccountSettings:
    """``mercato.accounts.bcrypt_rounds`` (4–31, default 12),
    ``mercato.accounts.reset_token_ttl`` (seconds, default 3600) and ``mercato.public_url``."""
    try:
        rounds = int(settings.get("mercato.accounts.bcrypt_rounds", DEFAULT_ROUNDS))
        if not 4 <= rounds <= 31:
            raise ValueError
    except ValueError:
        raise ConfigurationError(
            "mercato: setting mercato.accounts.bcrypt_rounds is not valid: "
            "expected a whole number from 4 to 31 (12 recommended)"
        ) from None
    try:
        reset_ttl = int(settings.get("mercato.accounts.reset_token_ttl", 3600))
        if reset_ttl <= 0:
            raise ValueError
    except ValueError:
        raise ConfigurationError(
            "mercato: setting mercato.accounts.reset_token_ttl is not valid: "
            "expected a number of seconds"
        ) from None
    public_url = (settings.get("mercato.public_url") or "").rstrip("/") or None
    return AccountSettings(rounds=rounds, reset_ttl=reset_ttl, public_url=public_url)


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


def set_password(user: User, password: str, rounds: int) -> None:
    """Change the password; the user's other sessions end at their next request."""
    user.password_hash = hash_password(password, rounds)
    user.password_changed_at = datetime.now(UTC)


def set_role(user: User, role: str) -> None:
    """Change the role; the user's sessions end at their next request (privilege change)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    user.role = role


def authenticate(request, email: str, password: str) -> User | None:
    """The active user with this email and password, else None.

    Takes the same time whether or not the email has an account: an unknown email is
    checked against a dummy hash of the same cost. Failures are counted per account
    (known or not), so repeated guesses get a 429 and the answer never tells which.
    """
    account_key = normalize_email(email)
    ratelimit.limit(request, "login.ip")
    ratelimit.check(request, "login.account", account_key)
    user = find_user(request.dbsession, email)
    if user is None:
        verify_password(password, dummy_hash(request.registry))
    elif verify_password(password, user.password_hash) and user.is_active:
        return user
    ratelimit.hit(request, "login.account", account_key)
    return None


def log_in(request, user: User) -> None:
    """Make ``user`` the session's identity: the session id is rotated, its data (the
    guest's cart) kept; then every plugin's ``mercato_user_logged_in`` runs."""
    remember_user(request, user)
    user.last_login_at = datetime.now(UTC)
    request.hooks.mercato_user_logged_in(request=request, user=user)


def log_out(request) -> None:
    forget_user(request)


# ---------------------------------------------------------------------------
# Password reset tokens
# ---------------------------------------------------------------------------
#
# ``<user id>.<expiry epoch>.<signature>``, the signature an HMAC (keyed from
# mercato.secret) over the id, the expiry and the user's current password hash. So a
# token is tamper-proof, expires, and is single-use: setting the new password changes
# the hash it was signed over, which voids it (and every other outstanding token).


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


def request_password_reset(request, email: str) -> None:
    """Email a reset link if ``email`` has an account; otherwise do nothing visible.

    Limited per client address and per account. The caller answers the same way
    either way, so the form cannot be used to find out who has an account.
    """
    account_key = normalize_email(email)
    ratelimit.limit(request, "password_reset.ip")
    ratelimit.limit(request, "password_reset.account", account_key)
    user = find_user(request.dbsession, email)
    if user is None or not user.is_active:
        return
    settings = request.registry.mercato_accounts
    token = make_reset_token(request.registry.settings["mercato.secret"], user, settings.reset_ttl)
    enqueue(
        request.dbsession,
        "account.password_reset",
        {
            "email": user.email,
            "name": user.name,
            "reset_url": public_route_url(request, "password_reset", token=token),
            "expires_in_minutes": settings.reset_ttl // 60,
        },
    )


def public_route_url(request, route_name: str, **kw) -> str:
    """An absolute URL for emails: on ``mercato.public_url`` when set."""
    public_url = request.registry.mercato_accounts.public_url
    if public_url:
        kw["_app_url"] = public_url
    return request.route_url(route_name, **kw)


def account_created(request, user: User) -> None:
    enqueue(
        request.dbsession,
        "account.created",
        {
            "email": user.email,
            "name": user.name,
            "account_url": public_route_url(request, "account"),
        },
    )
