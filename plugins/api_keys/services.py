"""Making, finding and revoking API keys.

A secret is ``mk_live_`` and 43 characters of ``secrets.token_urlsafe(32)``: 256
random bits. It is stored as its SHA-256 only. A slow password hash (bcrypt) is for
secrets people choose, which are guessable; nobody can enumerate 2**256 random
values however fast the hash, and a fast, unsalted hash lets the key be found by an
indexed lookup in one query, where bcrypt would cost ~0.35 s per API request and a
scan of every key.
"""

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update

from mercato import User

from .models import ApiKey

SECRET_PREFIX = "mk_live_"  # noqa: S105 (what every key starts with, not a secret)
SECRET_FORMAT = re.compile(r"^mk_live_[A-Za-z0-9_-]{43}$")
SHOWN_PREFIX = len(SECRET_PREFIX) + 4  # "mk_live_AbC1": enough to recognise a key
# Last use is written at most this often per key: a busy integration must not turn
# every read into a write on the same row.
LAST_USE_PRECISION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(dbsession, name: str, owner: User, scopes, created_by: User) -> tuple[ApiKey, str]:
    """A new key and its secret, which is never available again once this returns."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:SHOWN_PREFIX],
        secret_hash=hash_secret(secret),
        scopes=sorted(scopes),
        owner_id=owner.id,
        created_by_id=created_by.id,
    )
    dbsession.add(key)
    dbsession.flush()
    return key, secret


def find_key(dbsession, secret: str) -> ApiKey | None:
    """The working key whose secret this is: not revoked, its owner active; else None.

    The lookup is by the secret's hash: an attacker timing it learns about hashes, not
    about secrets."""
    if not SECRET_FORMAT.match(secret):
        return None  # garbage (a NUL byte …) never reaches the database
    key = dbsession.scalars(
        select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret))
    ).one_or_none()
    if key is None or key.revoked_at is not None or not key.owner.is_active:
        return None
    return key


def note_use(engine, key: ApiKey) -> None:
    """Record that ``key`` was used now, if the recorded use is older than a minute.

    On a connection of its own, committed at once: the use is recorded even when the
    request fails (a 4xx rolls its transaction back), and the row is not kept locked
    for the request's length. The ``WHERE`` keeps concurrent requests from writing
    twice."""
    now = datetime.now(UTC)
    if key.last_used_at is not None and now - key.last_used_at < LAST_USE_PRECISION:
        return
    with engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USE_PRECISION),
            )
            .values(last_used_at=now)
        )


def revoke_key(dbsession, key_id: int) -> ApiKey | None:
    """Revoke the key (at once: the next request with it gets 401); None if unknown."""
    key = dbsession.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    return key


def all_keys(dbsession) -> list[ApiKey]:
    """Working keys first, then the newest."""
    return dbsession.scalars(
        select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc()).limit(500)
    ).all()


def possible_owners(dbsession) -> list[User]:
    """Who a key may act as: active staff members and admins."""
    return dbsession.scalars(
        select(User)
        .where(User.role.in_(("staff", "admin")), User.is_active.is_(True))
        .order_by(User.email)
    ).all()
