"""The ``scaled`` scenario: the nginx run on the engines a shop moves to when it outgrows
one server (issue 20).

A PostgreSQL primary with a streaming replica and a six-node Redis Cluster, all of this
run's own on loopback (``mercato.testing``'s ``LocalPostgresReplica`` and
``LocalRedisCluster``, the ones the tests use); the bench's shop built on the primary and
replicated; then the mixed visit through nginx to one ``mercato serve --workers 1``, then
two, each with ``sqlalchemy.read_url`` on the replica and ``redis.url`` on the cluster.
Afterwards the books (``runner.nginx_run``'s) and what the replica ran: its own
``pg_stat_statements``, so the claim that catalog and search pages read from the replica
is the replica's word, not the app's.
"""

import dataclasses
import shutil

from mercato.ops.embedded import free_port
from mercato.testing import LocalPostgresReplica, LocalRedisCluster

from . import dataset
from .config import BenchConfig, write_app_ini
from .measure import Result
from .runner import nginx_run, say

PORTS = range(18700, 18800)
# The catalog is made on the primary; the replica replays it (WAL of 100,000 products
# takes a while on a loaded machine).
CATCH_UP_SECONDS = 300
# The SELECTs run in the bench's database, as the server that ran them counts them.
SELECTS = (
    "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
    "WHERE d.datname = %s AND s.query ILIKE 'SELECT %%'"
)
COUNT = f"SELECT coalesce(sum(s.calls), 0)::bigint {SELECTS}"
TOP = f"SELECT s.calls, left(s.query, 80) {SELECTS} ORDER BY s.calls DESC LIMIT 5"


def scaled_run(config: BenchConfig, stack, stripe) -> dict[str, list[Result]]:
    folder = config.folder / "scaled"
    shutil.rmtree(folder, ignore_errors=True)  # a cluster's old nodes.conf would not join
    folder.mkdir(parents=True)
    say("scaled: a PostgreSQL primary + streaming replica, a six-node Redis Cluster …")
    replication = LocalPostgresReplica(PORTS)
    stack.callback(replication.stop)
    replication.start()
    cluster = LocalRedisCluster(folder / "redis-cluster")
    stack.callback(cluster.stop)
    cluster.start()
    primary, replica = replication.primary, replication.replica
    say(
        f"scaled: primary :{primary.port}, replica :{replica.port}, "
        f"cluster {cluster.ports[0]}-{cluster.ports[-1]}"
    )
    on_primary = dataclasses.replace(
        config,
        postgres_admin_url=f"postgresql://postgres@127.0.0.1:{primary.port}/postgres",
        reuse_db=False,
        folder=folder,
    )
    database_url = dataset.database_url(on_primary)
    ini = write_app_ini(
        folder / "build.ini",
        database_url=database_url,
        redis_url=cluster.url,
        port=free_port(),
        workers=1,
        threads=config.threads,
        stripe=stripe.settings(),
    )
    shop = dataset.prepare(on_primary, ini)
    replication.wait_caught_up(CATCH_UP_SECONDS)
    say("scaled: the replica has replayed the shop")
    (folder / "logs").mkdir(exist_ok=True)
    for node in (primary, replica):
        node.sql("SELECT pg_stat_statements_reset()")
    runs = nginx_run(
        on_primary, stack, database_url, cluster.url, stripe, shop, name="scaled",
        extra={"sqlalchemy.read_url": replica.url(dataset.NAME)},
    )  # fmt: skip
    reads = replica_reads(primary, replica)
    runs["scaled-2"][-1].notes["replica"] = reads
    say(f"scaled: SELECTs run by the replica and the primary: {reads}")
    return runs


def replica_reads(primary, replica) -> dict:
    """The SELECTs each server ran for the bench's database during the runs, and the
    replica's most frequent ones."""
    served = {
        name: node.sql(COUNT, (dataset.NAME,))[0][0]
        for name, node in (("replica", replica), ("primary", primary))
    }
    return {
        "selects_on_replica": served["replica"],
        "selects_on_primary": served["primary"],
        "replica_share": round(served["replica"] / max(1, sum(served.values())), 3),
        "replica_top": [f"{calls}× {query}" for calls, query in replica.sql(TOP, (dataset.NAME,))],
    }
