"""A page cache shared by every shopper, with personal holes, validated by tags.

A catalog page is the same for every shopper but for a few parts: the mini-cart, the
account links, flash messages, the add-to-cart form with its CSRF token. A page
rendered through ``render_cached`` is kept in Redis with those parts left as holes
(the template calls ``personal_slot()`` / ``personal_block()`` instead of ``slot()`` /
``include``; they reach ``hole`` here through ``registry.personal_part``); every
request fills the holes afresh, so a cached page is never one shopper's page served
to another.

Freshness is by tags, not by time alone: a page is stored with the versions of the
tags it depends on (``catalog``, ``catalog:product:<slug>`` …), read *before* it was
rendered, and served only while those versions are unchanged. Whoever changes the data
calls ``invalidate_pages(dbsession, *tags)``; the versions are bumped in Redis once that
session commits, so a page can never be stored as fresh with data older than its
versions. ``mercato.page_cache.max_age`` bounds what a missed invalidation could cost.

One lookup is one Redis round trip (the tag versions and the page, pipelined: two
keys, so Redis Cluster works; no transaction across them is needed). When Redis
fails, pages are rendered as if there were no cache, and without their personal parts
(they need the session and the cart, both in Redis): the shared page from PostgreSQL.
"""

import hashlib
import json
import logging
import secrets
import weakref
import zlib

from markupsafe import Markup
from pyramid.renderers import render
from redis.exceptions import RedisClusterException, RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from mercato.db import REGISTRY_KEY, TM_KEY
from mercato.money import Money
from mercato.redis_client import make_redis, redis_down
from mercato.slots import render_block, render_slot

log = logging.getLogger(__name__)

TAGS_KEY = "mercato:pagecache:tags"
EPOCH = "$epoch"  # a field of TAGS_KEY, not a tag
PAGE_PREFIX = "mercato:page:"
HOLES_KEY = "mercato.page_holes"  # in request.environ while a page is being recorded
LEFT_OUT_KEY = "mercato.personal_left_out"  # in request.environ once a part was left out
PENDING_KEY = "mercato.page_tags"  # in session.info until the session commits

# Holes are written into the recorded page as NUL-delimited markers: PostgreSQL text
# cannot hold NUL, so no product name or description can forge one; the per-process
# token guards against anything else.
_TOKEN = secrets.token_hex(8)


def _marker(index: int) -> str:
    return f"\x00{_TOKEN}:{index}\x00"


# -- recording and filling holes ---------------------------------------------------


def _no_store(request, response) -> None:
    response.cache_control.no_store = True


def _leave_out(request) -> bool:
    """Whether Redis is down, so that personal parts are left out; such a page must
    not be kept by any cache (it lacks the add-to-cart form and the account links)."""
    if not redis_down(request):
        return False
    if not request.environ.get(LEFT_OUT_KEY):
        request.environ[LEFT_OUT_KEY] = True
        request.add_response_callback(_no_store)
    return True


def hole(request, kind: str, name: str, context: dict, fill_now) -> Markup:
    """A personal part of a page: rendered now, or left as a hole while recording."""
    holes = request.environ.get(HOLES_KEY)
    if holes is None:
        return Markup("") if _leave_out(request) else fill_now()
    holes.append([kind, name, context])
    return Markup(_marker(len(holes) - 1))  # noqa: S704 - our own marker, no user data


def _fill_hole(request, kind: str, name: str, context: dict) -> str:
    if _leave_out(request):
        return ""
    if kind == "slot":
        return render_slot(request, name, context)
    return render_block(request, name)


def _fill(request, entry: dict) -> str:
    parts = entry["parts"]
    holes = entry["holes"]
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part)
        else:
            kind, name, context = holes[int(part.split(":", 1)[1])]
            out.append(_fill_hole(request, kind, name, context))
    return "".join(out)


def _split(body: str, hole_count: int) -> list[str] | None:
    """Text and markers alternating, or None when the body's markers are not ours."""
    parts = body.split("\x00")
    markers = parts[1::2]
    if len(parts) % 2 == 0 or len(markers) != hole_count:
        return None
    if any(marker != f"{_TOKEN}:{index}" for index, marker in enumerate(markers)):
        return None
    return parts


# -- what a page's holes carry: JSON, with Money kept as Money ---------------------


def _encode(value):
    if isinstance(value, Money):
        return {"$money": [value.amount, value.currency]}
    raise TypeError(f"a personal slot's context must be JSON data, not {type(value).__name__}")


def _decode(obj: dict):
    if len(obj) == 1 and "$money" in obj:
        amount, currency = obj["$money"]
        return Money(amount, currency)
    return obj


def _load(stored: bytes) -> dict | None:
    try:
        return json.loads(zlib.decompress(stored), object_hook=_decode)
    except (zlib.error, ValueError):
        # Not a page this version wrote (an upgrade changed the format): a miss.
        return None


# -- the cache -----------------------------------------------------------------------


# Every app's cache in this process: a session that belongs to no app (a script's or
# a test's own session) invalidates them all when it commits.
_CACHES: "weakref.WeakSet[PageCache]" = weakref.WeakSet()


class PageCache:
    def __init__(self, redis, max_age: int):
        self.redis = redis
        self.max_age = max_age
        _CACHES.add(self)

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    def lookup(self, key: str, tags) -> tuple[list, dict | None]:
        """The versions of ``tags`` now, and the page stored under ``key`` if it was
        rendered at those very versions."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(TAGS_KEY, [EPOCH, *tags])
        pipe.get(PAGE_PREFIX + key)
        (epoch, *versions), stored = pipe.execute()
        if epoch is None:
            # The versions are new (first start, or Redis lost or evicted them): a new
            # epoch, so that no page stored before can match versions counted afresh.
            pipe = self.redis.pipeline(transaction=False)
            pipe.hsetnx(TAGS_KEY, EPOCH, secrets.token_hex(8))
            pipe.hget(TAGS_KEY, EPOCH)
            epoch = pipe.execute()[1]
            stored = None
        versions = [epoch.decode(), *(int(v or 0) for v in versions)]
        entry = _load(stored) if stored else None
        if entry is not None and entry.get("versions") != versions:
            entry = None
        return versions, entry

    def store(self, key: str, versions: list, parts: list[str], holes: list) -> None:
        entry = {"versions": versions, "parts": parts, "holes": holes}
        payload = json.dumps(entry, default=_encode, separators=(",", ":"))
        # Compressed: a product page is 4–15 KB of HTML and 1–3 KB in Redis, which
        # also holds sessions and carts (unpacking costs ~15 µs per page served).
        self.redis.set(PAGE_PREFIX + key, zlib.compress(payload.encode(), 1), ex=self.max_age)

    def bump(self, tags) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for tag in sorted(set(tags)):
            pipe.hincrby(TAGS_KEY, tag, 1)
        pipe.execute()


def page_key(*parts: str) -> str:
    """A fixed-length Redis key for a page named by ``parts`` (route, slug, options)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def render_cached(request, template: str, key: str, tags, values) -> str:
    """``template`` rendered with ``values()``, served from the cache while ``tags`` hold.

    ``values`` is only called on a miss; it may raise (a 404, a redirect) and nothing
    is stored. ``key`` must name everything the shared part of the page depends on
    (see ``page_key``).
    """
    cache: PageCache = request.registry.page_cache
    if not cache.enabled:
        return render(template, values(), request=request)
    # Pages carry absolute links (canonical, Open Graph) built on mercato.public_url or,
    # without it, on the request's own host: each host gets its own copy, so a forged
    # Host header only ever poisons a copy served to whoever forged it.
    site = request.registry.settings.get("mercato.public_url") or request.application_url
    key = page_key(key, site)
    try:
        versions, entry = cache.lookup(key, tags)
    except RedisError:
        log.warning("page cache unavailable; rendering %s without it", template, exc_info=True)
        return render(template, values(), request=request)
    if entry is not None:
        return _fill(request, entry)

    value = values()
    holes: list = []
    request.environ[HOLES_KEY] = holes
    try:
        body = render(template, value, request=request)
    finally:
        del request.environ[HOLES_KEY]
    parts = _split(body, len(holes))
    if parts is None:
        # A filter ate a hole's marker (|striptags over a personal slot …): this page
        # cannot be cached; it is rendered as it is, with its personal parts in place.
        log.error("page cache: %s lost a personal part's marker; not cached", template)
        return render(template, value, request=request)
    try:
        cache.store(key, versions, parts, holes)
    except (RedisError, TypeError):
        log.warning("page cache: %s not stored", template, exc_info=True)
    return _fill(request, {"parts": parts, "holes": holes})


# -- invalidation ----------------------------------------------------------------------


def invalidate_pages(dbsession: Session, *tags: str) -> None:
    """Bump ``tags`` once ``dbsession`` commits (never if it rolls back)."""
    dbsession.info.setdefault(PENDING_KEY, set()).update(tags)
    manager = dbsession.info.get(TM_KEY)
    if manager is not None:
        # A request's session that wrote nothing would be closed, not committed, at
        # the end of the request (zope.sqlalchemy): the change is this session's now.
        mark_changed(dbsession, transaction_manager=manager)


def invalidate_pages_now(settings: dict, *tags: str) -> None:
    """Bump ``tags`` at once: for commands that wrote through their own connection."""
    client = make_redis(settings)
    try:
        PageCache(client, settings["mercato.page_cache.max_age"]).bump(tags)
    finally:
        client.close()


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    tags = session.info.pop(PENDING_KEY, None)
    if not tags:
        return
    registry = session.info.get(REGISTRY_KEY)
    caches = [registry.page_cache] if registry is not None else list(_CACHES)
    for cache in caches:
        try:
            cache.bump(tags)
        except (RedisError, RedisClusterException):  # a cluster client refuses once closed
            # The pages depending on these tags stay cached until max_age: say so.
            log.error("page cache: could not invalidate %s", sorted(tags), exc_info=True)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


def includeme(config):
    settings = config.registry.settings
    config.registry.page_cache = PageCache(
        config.registry.redis, settings["mercato.page_cache.max_age"]
    )
    # The templates' personal_slot() and personal_block() (mercato.templating) go
    # through the page cache: holes while it records a page, left out when Redis is down.
    config.registry.personal_part = hole
