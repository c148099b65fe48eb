"""The kernel's Redis data manager, against real Redis and PostgreSQL: writes reach
Redis only when the transaction commits, and never when it aborts, whatever the order
in which ``transaction`` calls the data managers."""

import logging
from urllib.parse import urlparse

import pytest
import redis
import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from zope.sqlalchemy import mark_changed

from mercato.datamanagers.redis import FINISHED, RedisDataManager, join
from mercato_cart.models import CartBackup


@pytest.fixture
def manager():
    return transaction.TransactionManager(explicit=True)


def proxied_client(proxy, parsed) -> redis.Redis:
    """A client through ``proxy`` that fails at once instead of retrying with backoff."""
    return redis.Redis(
        host="127.0.0.1",
        port=proxy.port,
        db=int(parsed.path[1:] or 0),
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )


def backup_row(cart_id):
    return insert(CartBackup).values(cart_id=cart_id, version=1, lines=[])


def test_writes_wait_for_the_commit(manager, redis_client):
    manager.begin()
    writes = join(redis_client, manager)
    writes.call("hincrby", "counter:{a}", "n", 5)
    assert redis_client.hget("counter:{a}", "n") is None, "nothing before the commit"
    manager.commit()
    assert redis_client.hget("counter:{a}", "n") == b"5"


def test_one_data_manager_per_transaction(manager, redis_client):
    manager.begin()
    assert join(redis_client, manager) is join(redis_client, manager)
    manager.abort()
    manager.begin()
    fresh = join(redis_client, manager)
    assert fresh.pending == 0
    manager.abort()


def test_abort_forgets_the_writes(manager, redis_client):
    manager.begin()
    join(redis_client, manager).call("set", "k:{a}", "v")
    manager.abort()
    assert redis_client.exists("k:{a}") == 0


def test_abort_after_a_successful_commit_is_ignored(manager, redis_client):
    """transaction calls abort() on every resource after the after-commit hooks; a data
    manager that forgot its state there would undo (or, for payments, void) a commit."""
    calls = []

    class Recording(RedisDataManager):
        def abort(self, txn):
            calls.append(self.state)
            super().abort(txn)

    txn = manager.begin()
    writes = Recording(redis_client, manager)
    txn.join(writes)
    writes.call("set", "k:{a}", "kept")
    txn.addAfterCommitHook(lambda ok: calls.append(f"after-commit ok={ok}"))
    manager.commit()

    assert calls == ["after-commit ok=True", FINISHED], "abort came after the commit"
    assert writes.state == FINISHED
    assert redis_client.get("k:{a}") == b"kept"


def test_results_reach_on_result_after_the_commit(manager, redis_client):
    seen = []
    manager.begin()
    writes = join(redis_client, manager)
    writes.call("hincrby", "c:{a}", "n", 2, on_result=seen.append)
    writes.call("hincrby", "c:{a}", "n", 3, on_result=seen.append)
    assert seen == []
    manager.commit()
    assert seen == [2, 5]


def test_scripts_are_applied_at_commit(manager, redis_client):
    script = redis_client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    seen = []
    manager.begin()
    join(redis_client, manager).run_script(script, keys=["s:{a}"], args=[7], on_result=seen.append)
    manager.commit()
    assert seen == [7]


def test_savepoint_rollback_forgets_later_writes(manager, redis_client):
    manager.begin()
    writes = join(redis_client, manager)
    writes.call("set", "early:{a}", "1")
    savepoint = manager.savepoint()
    writes.call("set", "late:{a}", "1")
    savepoint.rollback()
    manager.commit()
    assert redis_client.exists("early:{a}") == 1
    assert redis_client.exists("late:{a}") == 0


def test_postgres_failing_to_commit_keeps_redis_unchanged(tm_session, redis_client):
    """The PostgreSQL COMMIT happens in zope.sqlalchemy's tpc_vote; Redis is applied in
    tpc_finish, which a failed vote never reaches."""
    session, manager = tm_session
    manager.begin()
    join(redis_client, manager).call("set", "k:{a}", "v")
    # A deferred constraint is checked by COMMIT itself: the vote fails there.
    session.execute(text("CREATE TEMP TABLE once (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
    session.execute(text("INSERT INTO once VALUES (1), (1)"))
    mark_changed(session)
    with pytest.raises(IntegrityError, match="duplicate key"):
        manager.commit()
    manager.abort()
    assert redis_client.exists("k:{a}") == 0


def test_redis_lost_by_commit_time_loses_the_writes_but_not_the_commit(
    tm_session, redis_url, redis_client, db_engine, tcp_proxy, caplog
):
    """The one window buffering leaves: Redis gone when the transaction commits.
    PostgreSQL commits first, so commit() must succeed and the loss be on record."""
    parsed = urlparse(redis_url)
    assert parsed.scheme == "redis", "needs Redis over TCP for the proxy"
    proxy = tcp_proxy((parsed.hostname, parsed.port))
    client = proxied_client(proxy, parsed)
    session, manager = tm_session
    manager.begin()
    session.execute(backup_row("committed"))
    writes = join(client, manager)
    writes.call("set", "k:{a}", "v")
    proxy.stop()

    with caplog.at_level(logging.ERROR, logger="mercato.datamanagers.redis"):
        manager.commit()

    assert writes.errors and isinstance(writes.errors[0], redis.ConnectionError)
    assert "failed after the transaction committed" in caplog.text
    with db_engine.connect() as conn:
        assert conn.execute(select(CartBackup.cart_id)).scalars().all() == ["committed"]
    assert redis_client.exists("k:{a}") == 0


def test_queueing_after_the_vote_is_refused(manager, redis_client):
    manager.begin()
    writes = join(redis_client, manager)
    manager.commit()
    with pytest.raises(RuntimeError, match="finished"):
        writes.call("set", "k:{a}", "v")


def test_unknown_command_is_refused_when_queued(manager, redis_client):
    manager.begin()
    with pytest.raises(AttributeError, match="no command"):
        join(redis_client, manager).call("hincrbyy", "k", "f", 1)
    manager.abort()
