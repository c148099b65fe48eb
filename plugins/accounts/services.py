"""What the account pages do: log in (rate limited, in constant time), log out, email a
password-reset link, welcome a new account, erase one at its owner's request.

Creating users, passwords and reset tokens are the kernel's (``mercato``): the admin
and the demo need them too.
"""

from datetime import UTC, datetime

from mercato import (
    enqueue,
    erase_user,
    find_user,
    forget_user,
    hash_password,
    make_reset_token,
    normalize_email,
    public_route_url,
    rate_limit,
    rate_limit_check,
    rate_limit_hit,
    remember_user,
    verify_password,
)


def settings_of(registry) -> dict:
    """``mercato.accounts.*``, validated by ``schemas.Settings``."""
    return registry.settings["mercato.accounts"]


def dummy_hash(registry) -> str:
    """A hash at the configured cost, checked when no account matches an email, so a
    login for an unknown email takes as long as one for a known email.

    Made on first use (once per app) rather than at start-up: at cost 12 it takes a
    third of a second.
    """
    cached = getattr(registry, "_mercato_accounts_dummy_hash", None)
    if cached is None:
        cached = hash_password("not a real password", settings_of(registry)["bcrypt_rounds"])
        registry._mercato_accounts_dummy_hash = cached
    return cached


def authenticate(request, email: str, password: str):
    """The active user with this email and password, else None.

    Takes the same time whether or not the email has an account: an unknown email is
    checked against a dummy hash of the same cost. Failures are counted per account
    (known or not), so repeated guesses get a 429 and the answer never tells which.
    """
    account_key = normalize_email(email)
    rate_limit(request, "login.ip")
    rate_limit_check(request, "login.account", account_key)
    user = find_user(request.dbsession, email)
    if user is None:
        verify_password(password, dummy_hash(request.registry))
    elif verify_password(password, user.password_hash) and user.is_active:
        return user
    rate_limit_hit(request, "login.account", account_key)
    return None


def password_confirmed(request, user, password: str) -> bool:
    """Whether ``password`` is ``user``'s, asked again before a change that needs it (a
    new password, erasing the account). A wrong one counts as a failed login of the
    account (``login.account``): a session left open cannot guess it any faster."""
    account_key = normalize_email(user.email)
    rate_limit_check(request, "login.account", account_key)
    if verify_password(password, user.password_hash):
        return True
    rate_limit_hit(request, "login.account", account_key)
    return False


def log_in(request, user) -> None:
    """Make ``user`` the session's identity: the session id is rotated, its data (the
    guest's cart) kept; then every plugin's ``mercato_user_logged_in`` runs."""
    remember_user(request, user)
    user.last_login_at = datetime.now(UTC)
    request.hooks.mercato_user_logged_in(request=request, user=user)


def log_out(request) -> None:
    forget_user(request)


def request_password_reset(request, email: str) -> None:
    """Email a reset link if ``email`` has an account; otherwise do nothing visible.

    Limited per client address and per account. The caller answers the same way
    either way, so the form cannot be used to find out who has an account.
    """
    account_key = normalize_email(email)
    rate_limit(request, "password_reset.ip")
    rate_limit(request, "password_reset.account", account_key)
    user = find_user(request.dbsession, email)
    if user is None or not user.is_active:
        return
    ttl = settings_of(request.registry)["reset_token_ttl"]
    token = make_reset_token(request.registry.settings["mercato.secret"], user, ttl)
    enqueue(
        request.dbsession,
        "account.password_reset",
        {
            "email": user.email,
            "name": user.name,
            "reset_url": public_route_url(request, "password_reset", token=token),
            "expires_in_minutes": ttl // 60,
        },
    )


class StaffAccount(Exception):
    """A staff account is closed by an admin, not erased by its owner."""


def erase_account(request, user) -> None:
    """The customer's own erasure, once they typed their password: their account, saved
    cart and the like are gone, this browser is a guest's; orders stay (the kernel's
    ``erase_user``). Sessions on other devices are emptied at their next request."""
    if user.is_staff:
        raise StaffAccount()
    erase_user(request, user)
    forget_user(request)


def account_created(request, user) -> None:
    enqueue(
        request.dbsession,
        "account.created",
        {
            "email": user.email,
            "name": user.name,
            "account_url": public_route_url(request, "account"),
        },
    )
