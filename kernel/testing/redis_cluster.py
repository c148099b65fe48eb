"""A real Redis Cluster on loopback for the tests: three masters, three replicas.

Six ``redis-server --cluster-enabled yes`` processes, joined by ``redis-cli --cluster
create … --cluster-replicas 1``, each in a folder of its own. The node timeout is short
(1 s) so that a killed master's replica takes its slots over within a few seconds.
Ports come from ``PORTS`` (the cluster bus listens on port + 10000).
"""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

PORTS = range(18600, 18700)
NODES = 6
NODE_TIMEOUT_MS = 1000


class ClusterNotReady(RuntimeError):
    pass


def _binary(name: str) -> str:
    """The machine's ``name`` (Debian's redis-server package), or a loud failure."""
    found = shutil.which(name)
    if found is None:
        raise ClusterNotReady(f"{name} not found: install redis-server (and redis-tools)")
    return found


def _listening(port: int) -> bool:
    try:
        return redis.Redis("127.0.0.1", port, socket_timeout=0.5).ping()
    except redis.RedisError:
        return False


def _free_block(size: int) -> list[int]:
    """``size`` ports of ``PORTS`` that nobody listens on, nor on their bus ports."""
    for start in range(PORTS.start, PORTS.stop - size + 1, size):
        block = list(range(start, start + size))
        if not any(_port_taken(port) or _port_taken(port + 10000) for port in block):
            return block
    raise ClusterNotReady(f"no {size} free ports in {PORTS.start}-{PORTS.stop - 1}")


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalRedisCluster:
    """Start with ``start()``, stop with ``stop()``; ``url`` is what ``redis.url`` takes."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ports = _free_block(NODES)
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]},127.0.0.1:{self.ports[1]}"

    def start(self) -> "LocalRedisCluster":
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait(lambda port=port: _listening(port), f"redis-server on {port}", 10)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(  # noqa: S603 (the machine's redis-cli, our own arguments)
            [_binary("redis-cli"), "--cluster", "create", *nodes, "--cluster-replicas", "1"]
            + ["--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self._wait(self._ready, "cluster_state:ok on every node", 30)
        return self

    def _start_node(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        options = {
            "port": port,
            "bind": "127.0.0.1",
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": NODE_TIMEOUT_MS,
            "dir": folder,
            "save": "",  # nothing on disk: a killed node comes back empty, if at all
            "appendonly": "no",
            "repl-diskless-sync-delay": 0,  # a replica in sync at once, not after 5 s
            "logfile": "redis.log",
        }
        arguments = [part for name, value in options.items() for part in (f"--{name}", str(value))]
        self.processes[port] = subprocess.Popen(  # noqa: S603 (the machine's redis-server)
            [_binary("redis-server"), *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def live(self) -> list[int]:
        return [port for port in self.ports if self.processes[port].poll() is None]

    def _ready(self) -> bool:
        """Every live node says the cluster is ok, only live masters hold slots, and
        every replica has its master's data (one still syncing would refuse to fail over:
        its data would be too old)."""
        try:
            states = [self.node(port).cluster("info") for port in self.live()]
            roles = [self.node(port).info("replication") for port in self.live()]
            masters = self.masters()
        except redis.RedisError:
            return False
        all_ok = all(state.get("cluster_state") == "ok" for state in states)
        synced = all(r.get("master_link_status", "up") == "up" for r in roles)
        return all_ok and synced and set(masters) <= set(self.live())

    def node(self, port: int) -> redis.Redis:
        return redis.Redis("127.0.0.1", port, socket_timeout=2, decode_responses=True)

    def masters(self) -> dict[int, list]:
        """The masters holding slots and their slot ranges, as a live node sees them."""
        nodes = self.node(self.live()[0]).cluster("nodes")
        return {
            int(address.split("@")[0].rsplit(":", 1)[1]): info["slots"]
            for address, info in nodes.items()
            if "master" in info["flags"] and info["slots"]
        }

    def replica_of(self, master_port: int) -> int:
        nodes = self.node(master_port).cluster("nodes")
        master_id = next(info["node_id"] for info in nodes.values() if "myself" in info["flags"])
        return next(
            int(address.split("@")[0].rsplit(":", 1)[1])
            for address, info in nodes.items()
            if info["master_id"] == master_id
        )

    def flush(self) -> None:
        """Empty every master (the replicas follow)."""
        for port in self.masters():
            self.node(port).flushall()

    def kill(self, port: int) -> None:
        """SIGKILL one node: no shutdown, no last save, like a machine lost."""
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(timeout=10)

    def wait_until_ready(self, timeout: float = 30) -> float:
        """Seconds until every slot has a live master again (after a failover)."""
        started = time.monotonic()
        self._wait(self._ready, "the cluster to cover every slot again", timeout)
        return time.monotonic() - started

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @staticmethod
    def _wait(condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise ClusterNotReady(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.05)
