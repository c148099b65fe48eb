"""Where carts live: one Redis hash per cart, a snapshot of it in PostgreSQL.

The hash ``cart:{<cart id>}`` holds the whole cart, so every change is one Lua script
on one key (atomic, and Redis Cluster safe through the hash tag):

* ``v``         the cart's version, bumped by every change;
* ``q:<sku>``   the quantity of a line;
* ``p:<sku>``   the unit price the shopper saw when they last set that line
                (``"1250 EUR"``), to tell them when it has changed since;
* ``o:<sku>``   the version that created the line: the order lines are shown in.

The hash never becomes empty (clearing keeps ``v``), so "no key" always means "lost or
expired" and only then is PostgreSQL asked for the backup. The key's TTL is the idle
time, renewed by every change; a backup older than the idle time is never restored.

The PostgreSQL copy is written behind the requests (``BackupWriter``): a change only
hands the cart as Redis returned it to its process's writer, and one thread per
process writes whatever was handed over every ``WRITE_EVERY`` seconds, the latest
snapshot of each cart once (many adds to one cart in that time: one upsert), all of
them in one statement. So losing Redis loses at most the changes of the last
``BOUND_SECONDS`` (tests/cart/test_cart_write_behind.py kills a Redis server during a
stream of adds and counts what came back). PostgreSQL away: the snapshots wait, newer
ones replacing older ones of the same cart, at most ``MAX_PENDING`` carts (Redis still
holds every one of them), and are written once it answers again. The process's exit
writes what is left.

Versions: every change bumps ``v``; an upsert never replaces a newer snapshot. A cart
restored from its backup continues from a version of a new *epoch*
(``restored_version``), above any snapshot taken before Redis lost it, so a snapshot
of the lost cart still waiting in some process's writer can never overwrite the
changes made to the restored one.
"""

import atexit
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from mercato import Money, RedisDataManager

from .models import CartBackup

log = logging.getLogger(__name__)

# Applies a list of operations to one cart and returns the cart as it now is.
# KEYS[1] the cart hash; ARGV[1] idle TTL in seconds; ARGV[2] JSON list of operations:
#   ["add", sku, delta, cap, price]  quantity + delta, at most cap (stock, per-line max)
#   ["set", sku, quantity, cap, price]  quantity, at most cap; 0 removes the line
#   ["remove", sku]  ["clear"]
# The cap is checked here, inside the atomic script, so two tabs adding at once can
# never push a line beyond stock even though each checked it on its own. Each line a
# change creates takes the next version as its place (``o:``), so the lines a login
# merges keep the order the guest added them in; ``v`` ends at the last one taken.
UPDATE_SCRIPT = """
local key = KEYS[1]
local version = tonumber(redis.call('HGET', key, 'v') or '0') + 1
local created = 0
for _, op in ipairs(cjson.decode(ARGV[2])) do
  local kind, sku = op[1], op[2]
  if kind == 'clear' then
    redis.call('DEL', key)
  elseif kind == 'remove' then
    redis.call('HDEL', key, 'q:' .. sku, 'p:' .. sku, 'o:' .. sku)
  else
    local quantity = op[3]
    if kind == 'add' then
      quantity = quantity + tonumber(redis.call('HGET', key, 'q:' .. sku) or '0')
    end
    if quantity > op[4] then quantity = op[4] end
    if quantity <= 0 then
      redis.call('HDEL', key, 'q:' .. sku, 'p:' .. sku, 'o:' .. sku)
    else
      redis.call('HSET', key, 'q:' .. sku, quantity)
      if op[5] ~= '' then redis.call('HSET', key, 'p:' .. sku, op[5]) end
      if redis.call('HSETNX', key, 'o:' .. sku, version + created) == 1 then
        created = created + 1
      end
    end
  end
end
redis.call('HSET', key, 'v', version + math.max(created - 1, 0))
redis.call('EXPIRE', key, ARGV[1])
return redis.call('HGETALL', key)
"""

# Puts a backed-up cart back, unless a change recreated it meanwhile.
# KEYS[1] the cart hash; ARGV[1] TTL; ARGV[2..] field, value, field, value …
RESTORE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


# One statement in its own (autocommit) transaction: one round trip per cart change.
# set_config(..., true) is SET LOCAL for that transaction, so its COMMIT does not wait
# for the WAL flush: the backup is a second copy of what Redis already holds, and only
# PostgreSQL crashing in the same instant that Redis is lost could cost the last change.
# Measured here: 0.08 ms per upsert instead of 0.46 ms waiting for the flush.
UPSERT_BACKUP = """
INSERT INTO cart_backups (cart_id, version, lines)
SELECT %s, %s, %s::jsonb FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
ON CONFLICT (cart_id) DO UPDATE
   SET version = excluded.version, lines = excluded.lines, updated_at = now()
 WHERE cart_backups.version < excluded.version
"""


# How often each process's writer writes the snapshots handed to it (seconds), and the
# bound documented for the copy (docs/deploy.md): a change reaches PostgreSQL within
# WRITE_EVERY plus the time of one write; BOUND_SECONDS leaves room for a busy machine.
WRITE_EVERY = 0.25
BOUND_SECONDS = 1.0
# At most this many carts wait for PostgreSQL while it is away (a few hundred bytes
# each); beyond it the oldest snapshots are dropped: Redis still holds those carts.
MAX_PENDING = 100_000
# Versions of a restored cart start above this multiple: a cart never makes 2**32
# changes between two losses of Redis, and BIGINT leaves room for 2**31 restores.
EPOCH = 1 << 32


def restored_version(version: int) -> int:
    """The version a cart restored from a snapshot of ``version`` continues from."""
    return (version // EPOCH + 1) * EPOCH


# Raised (INCR) after a commit that changed a product (``mercato_product_changed``):
# every process forgets what the catalog told it (``answers.CatalogAnswers``) when it
# reads a cart and finds another value, so a price edit reaches every process's adds at
# once, not after ``catalog_cache_seconds``.
CATALOG_EPOCH_KEY = "mercato:cart:catalog-epoch"


def redis_key(cart_id: str) -> str:
    return f"cart:{{{cart_id}}}"


def price_text(price: Money | None) -> str:
    return f"{price.amount} {price.currency}" if price is not None else ""


def parse_price(value: str) -> Money | None:
    try:
        amount, currency = value.split(" ", 1)
        return Money(int(amount), currency)
    except ValueError:
        return None


@dataclass
class StoredLine:
    sku: str
    quantity: int
    price: Money | None  # unit price when the shopper last set this line
    seq: int


@dataclass
class StoredCart:
    """A cart as stored: lines in the order they were first added."""

    cart_id: str
    version: int = 0
    lines: list[StoredLine] = field(default_factory=list)

    def line(self, sku: str) -> StoredLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def quantity(self, sku: str) -> int:
        line = self.line(sku)
        return line.quantity if line else 0

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @classmethod
    def from_redis(cls, cart_id: str, fields) -> "StoredCart":
        """From HGETALL's mapping, or the flat field/value list a script returns."""
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        values = {_text(k): _text(v) for k, v in fields.items()}
        lines = []
        for name, value in values.items():
            if name.startswith("q:"):
                sku = name[2:]
                lines.append(
                    StoredLine(
                        sku=sku,
                        quantity=int(value),
                        price=parse_price(values.get(f"p:{sku}", "")),
                        seq=int(values.get(f"o:{sku}", 0)),
                    )
                )
        lines.sort(key=lambda line: (line.seq, line.sku))
        return cls(cart_id, int(values.get("v", 0)), lines)

    def to_redis(self) -> list[str]:
        fields = ["v", str(self.version)]
        for line in self.lines:
            fields += [f"q:{line.sku}", str(line.quantity), f"o:{line.sku}", str(line.seq)]
            if line.price is not None:
                fields += [f"p:{line.sku}", price_text(line.price)]
        return fields

    def to_backup(self) -> list[dict]:
        return [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "price": line.price.to_json() if line.price else None,
                "seq": line.seq,
            }
            for line in self.lines
        ]

    @classmethod
    def from_backup(cls, cart_id: str, version: int, lines: list[dict]) -> "StoredCart":
        return cls(
            cart_id,
            version,
            [
                StoredLine(
                    sku=line["sku"],
                    quantity=int(line["quantity"]),
                    price=Money(line["price"]["amount"], line["price"]["currency"])
                    if line.get("price")
                    else None,
                    seq=int(line.get("seq", 0)),
                )
                for line in lines
            ],
        )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CartStore:
    """Reads, changes and backs up carts. One per app (``registry.cart_store``)."""

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        idle_seconds: int,
        backup_engine: Engine | None = None,
    ):
        self.redis = client
        self.engine = engine
        self.idle_seconds = idle_seconds
        # The writer's own connection (``backup_engine``, one pooled connection): it
        # never takes one a request waits for.
        self.backup_engine = backup_engine or engine
        self._autocommit = self.backup_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._update = client.register_script(UPDATE_SCRIPT)
        self._restore = client.register_script(RESTORE_SCRIPT)
        self.writer = BackupWriter(self.save_backups)
        # An app closing its database (tests between two apps, a script at its end)
        # writes what its carts still wait for first, then closes the writer's too.
        event.listen(engine, "engine_disposed", self._close)

    def _close(self, _engine=None) -> None:
        self.writer.flush()
        if self.backup_engine is not self.engine:
            self.backup_engine.dispose()

    # -- reading --------------------------------------------------------------------

    def load(self, cart_id: str) -> StoredCart:
        """The cart from Redis, or restored from its backup when Redis lost it."""
        return self.from_fields(cart_id, self.redis.hgetall(redis_key(cart_id)))

    def load_with_epoch(self, cart_id: str | None) -> tuple[StoredCart, bytes | None]:
        """The cart (an empty one without ``cart_id``) and the catalog epoch, read in
        one round trip."""
        if not cart_id:
            return StoredCart(""), self.catalog_epoch()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(redis_key(cart_id))
        pipe.get(CATALOG_EPOCH_KEY)
        fields, epoch = pipe.execute()
        return self.from_fields(cart_id, fields), epoch

    def from_fields(self, cart_id: str, fields) -> StoredCart:
        """The cart Redis answered with ``fields`` (HGETALL), or its backup's when
        Redis had none (lost, or expired while the cookie lived)."""
        if fields:
            return StoredCart.from_redis(cart_id, fields)
        return self._restore_from_backup(cart_id)

    def catalog_epoch(self) -> bytes | None:
        return self.redis.get(CATALOG_EPOCH_KEY)

    def catalog_changed(self) -> None:
        """Have every process forget the catalog's answers (best effort: without Redis,
        they are forgotten after ``catalog_cache_seconds``)."""
        try:
            self.redis.incr(CATALOG_EPOCH_KEY)
        except redis.RedisError as exc:
            log.warning("could not tell other processes the catalog changed: %s", exc)

    def _restore_from_backup(self, cart_id: str) -> StoredCart:
        # A snapshot this process has not written yet is newer than PostgreSQL's. Asked
        # before PostgreSQL: one being written now is then either still held by the
        # writer or already committed when PostgreSQL is read, never in neither.
        waiting = self.writer.waiting(cart_id)
        table = CartBackup.__table__
        age = func.extract("epoch", func.now() - table.c.updated_at)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.version, table.c.lines, age.label("age")).where(
                    table.c.cart_id == cart_id
                )
            ).first()
            if row is not None and row.age >= self.idle_seconds:
                # Expired while Redis was away: drop it, so a new cart under the same id
                # (a customer's) starts from version 0 without an old snapshot winning.
                conn.execute(
                    delete(table).where(table.c.cart_id == cart_id, table.c.version == row.version)
                )
                conn.commit()
                row = None
        if waiting is not None and (row is None or waiting.version > row.version):
            cart, remaining = waiting, self.idle_seconds
        elif row is not None:
            cart = StoredCart.from_backup(cart_id, row.version, row.lines)
            remaining = max(1, int(self.idle_seconds - row.age))
        else:
            return StoredCart(cart_id)
        cart = StoredCart(cart_id, restored_version(cart.version), cart.lines)
        self._restore(keys=[redis_key(cart_id)], args=[remaining, *cart.to_redis()])
        log.info("cart %s restored from its PostgreSQL backup", cart_id)
        # Whatever is in Redis now (ours, or a change that raced us) is the cart.
        return StoredCart.from_redis(cart_id, self.redis.hgetall(redis_key(cart_id)))

    # -- changing -------------------------------------------------------------------

    def queue(self, writes: RedisDataManager, cart_id: str, ops: list, on_result) -> None:
        """Queue ``ops`` on the cart: applied only if the transaction commits, then
        ``on_result(StoredCart)`` is called with the cart as it became."""
        writes.run_script(
            self._update,
            keys=[redis_key(cart_id)],
            args=[self.idle_seconds, json.dumps(ops)],
            on_result=lambda fields: on_result(StoredCart.from_redis(cart_id, fields)),
        )

    def apply_now(self, cart_id: str, ops: list) -> StoredCart:
        """Change the cart outside any transaction (after a checkout has committed)."""
        fields = self._update(keys=[redis_key(cart_id)], args=[self.idle_seconds, json.dumps(ops)])
        return StoredCart.from_redis(cart_id, fields)

    def erase(self, writes: RedisDataManager, dbsession, cart_id: str) -> None:
        """Delete the cart for good: its backup in ``dbsession``'s transaction, the Redis
        cart once it commits. This process's snapshot of it still to be written is
        dropped before and after: written meanwhile, it would bring the backup back
        (one being written at that instant still may; idle backups are pruned)."""
        self.writer.forget(cart_id)
        dbsession.execute(delete(CartBackup).where(CartBackup.cart_id == cart_id))
        writes.call("delete", redis_key(cart_id), on_result=lambda _: self.writer.forget(cart_id))

    # -- backups --------------------------------------------------------------------

    def backup_later(self, carts: list[StoredCart]) -> None:
        """Have the process's writer copy ``carts`` to PostgreSQL (within BOUND_SECONDS)."""
        self.writer.submit(carts)

    def save_backups(self, carts: list[StoredCart]) -> None:
        """Write snapshots of ``carts`` now; a snapshot older than the stored one is ignored."""
        if not carts:
            return
        rows = [(cart.cart_id, cart.version, json.dumps(cart.to_backup())) for cart in carts]
        # Plain SQL on this hot path: Core's statement building cost more CPU than the
        # round trip itself when measured.
        try:
            with self._autocommit.connect() as conn:
                conn.exec_driver_sql(UPSERT_BACKUP, rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # A pooled connection that died meanwhile (connections are not pinged);
            # the pool now holds only new ones. The upsert is idempotent.
            with self._autocommit.connect() as conn:
                conn.exec_driver_sql(UPSERT_BACKUP, rows)


class BackupWriter:
    """The snapshots of one ``CartStore`` waiting to be written, latest per cart.

    Request threads only ``submit``; the process's writer thread (``_Flusher``) calls
    ``flush``. A snapshot is replaced only by a newer version of the same cart.
    """

    def __init__(self, save):
        self._save = save
        self._lock = threading.Lock()
        self._pending: dict[str, StoredCart] = {}
        self._in_flight: dict[str, StoredCart] = {}  # being written: still "waiting"
        self._writing = threading.Lock()  # one flush at a time (thread, exit, tests)
        self.dropped = 0  # snapshots given up while PostgreSQL was away too long
        self.failures = 0  # writes that failed and were kept for the next try
        _FLUSHER.watch(self)

    def submit(self, carts: list[StoredCart]) -> None:
        with self._lock:
            _keep_latest(self._pending, carts)
            over = len(self._pending) - MAX_PENDING
            if over > 0:
                for cart_id in list(self._pending)[:over]:  # the oldest handed over
                    del self._pending[cart_id]
                self.dropped += over
        if over > 0:
            log.error("cart backups: %d snapshot(s) dropped, PostgreSQL away too long", over)
        _FLUSHER.ensure_running()

    def waiting(self, cart_id: str) -> StoredCart | None:
        """The snapshot of ``cart_id`` not written yet, if any."""
        with self._lock:
            held = [c for c in (self._pending.get(cart_id), self._in_flight.get(cart_id)) if c]
        return max(held, key=lambda cart: cart.version, default=None)

    def forget(self, cart_id: str) -> None:
        """Drop the snapshot of ``cart_id`` waiting to be written (an erased cart)."""
        with self._lock:
            self._pending.pop(cart_id, None)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> bool:
        """Write every waiting snapshot in one statement; True when nothing is left.
        On failure the snapshots are kept (unless newer ones came meanwhile)."""
        with self._writing:
            with self._lock:
                self._in_flight, self._pending = self._pending, {}
                carts = list(self._in_flight.values())
            if not carts:
                return True
            try:
                self._save(carts)
            except Exception as exc:
                self.failures += 1
                with self._lock:
                    # Put back under what was handed over meanwhile: newer wins.
                    newer, self._pending = self._pending, self._in_flight
                    _keep_latest(self._pending, newer.values())
                    self._in_flight = {}
                # Once per failed write (every WRITE_EVERY at most), not per cart.
                log.warning(
                    "cart backups: %d snapshot(s) not written, will retry: %r", len(carts), exc
                )
                return False
            with self._lock:
                self._in_flight = {}
            return not self._pending

    def _after_fork(self) -> None:
        # The parent writes what it had; a forked child starts with nothing of its own.
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._pending = {}
        self._in_flight = {}


def _keep_latest(pending: dict[str, StoredCart], carts) -> None:
    for cart in carts:
        held = pending.get(cart.cart_id)
        if held is None or cart.version > held.version:
            pending[cart.cart_id] = cart


class _Flusher:
    """One thread per process writes every ``BackupWriter``'s snapshots every
    ``WRITE_EVERY`` seconds; started on first use in the process that uses it (a
    forked worker starts its own), and what is left is written at exit."""

    def __init__(self):
        self._writers: weakref.WeakSet[BackupWriter] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def watch(self, writer: BackupWriter) -> None:
        with self._lock:
            self._writers.add(writer)

    def ensure_running(self) -> None:
        thread = self._thread
        if thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="mercato-cart-backups", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        # Woken by the clock, not by each change: a wake-up per request would cost the
        # request more than handing its cart over.
        while True:
            time.sleep(WRITE_EVERY)
            self.flush_all()

    def flush_all(self) -> None:
        with self._lock:
            writers = list(self._writers)
        for writer in writers:
            # Even with nothing pending: flush() waits for a write the thread has in
            # flight, so what was handed over before this call is written when it returns.
            writer.flush()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._thread = None
        for writer in list(self._writers):
            writer._after_fork()


_FLUSHER = _Flusher()


def write_waiting_backups() -> None:
    """Write every snapshot waiting in this process now (what the writer thread does
    every WRITE_EVERY seconds): for commands and tests that read the copy at once."""
    _FLUSHER.flush_all()


os.register_at_fork(after_in_child=_FLUSHER.after_fork)
# Daemon threads stop at exit without a word: what is still waiting is written here.
atexit.register(_FLUSHER.flush_all)


def delete_backups_older_than(engine: Engine, seconds: int, batch: int = 10_000) -> int:
    """Delete backups not changed for ``seconds``; returns how many were deleted.

    Deletes in batches so a large cleanup never holds many row locks for long.
    """
    table = CartBackup.__table__
    cutoff = func.now() - timedelta(seconds=seconds)
    total = 0
    while True:
        oldest = (
            select(table.c.cart_id)
            .where(table.c.updated_at < cutoff)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        with engine.begin() as conn:
            deleted = conn.execute(delete(table).where(table.c.cart_id.in_(oldest))).rowcount
        total += deleted
        if deleted < batch:
            return total
