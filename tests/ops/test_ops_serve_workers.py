"""``mercato serve --workers N``: one socket, N worker processes, restarts, reload, stop."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import get


@pytest.fixture
def mercato_plugins():
    return []


def listening_socket_inodes(pid: int, port: int) -> set[str]:
    """The kernel objects behind the process's listening sockets on ``port``."""
    inodes = set()
    for conn in psutil.Process(pid).net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
            inodes.add(os.readlink(f"/proc/{pid}/fd/{conn.fd}"))
    return inodes


def pids_answering(url: str, wanted: set[int], seconds: float = 30) -> set[int]:
    """Worker pids seen answering concurrent requests, until all ``wanted`` have been."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(8) as pool:
        while not wanted <= seen and time.monotonic() < deadline:
            for status, body in pool.map(lambda _: get(url + "/probe/slow?seconds=0.2"), range(8)):
                assert status == 200
                seen.add(int(body))
    return seen


def test_two_workers_share_one_socket_bound_by_the_parent_and_both_serve(serve):
    server = serve(workers=2)
    workers = server.worker_pids()
    assert len(workers) == 2

    parent_socket = listening_socket_inodes(server.process.pid, server.port)
    assert len(parent_socket) == 1, "the parent binds the port once"
    for pid in workers:
        assert listening_socket_inodes(pid, server.port) == parent_socket, (
            "each worker listens on the parent's socket, inherited, not a socket of its own"
        )
    assert pids_answering(server.url, workers) == workers


def test_a_killed_worker_is_replaced(serve):
    server = serve(workers=2)
    victim, survivor = sorted(server.worker_pids())
    os.kill(victim, signal.SIGKILL)
    # One reading of the workers per check, kept: two readings could straddle the moment
    # the victim is reaped (still listed as a zombie, then gone before its replacement).
    seen: set[int] = set()

    def replaced() -> bool:
        seen.clear()
        seen.update(server.worker_pids())
        return len(seen) == 2 and victim not in seen

    server.wait_until(replaced, 60, "a replacement worker")
    (replacement,) = seen - {survivor}
    assert pids_answering(server.url, {replacement}) >= {replacement}
    assert f"worker {victim} exited" in server.log()


def test_sighup_swaps_workers_without_a_failed_request(serve):
    server = serve(workers=2)
    old = server.worker_pids()
    outcomes: list[tuple[int, int | str]] = []
    stop = threading.Event()

    def shopper():
        # Bounded: until the swap is over, two minutes at most; a new connection each.
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                status, body = get(server.url + "/probe/pid", timeout=10)
                outcomes.append((status, int(body) if status == 200 else body))
            except OSError as exc:
                outcomes.append((0, repr(exc)))

    slow_result = {}

    def in_flight():
        # Long enough to still be running when the old workers are told to finish.
        slow_result["response"] = get(server.url + "/probe/slow?seconds=10", timeout=60)
        slow_result["finished_at"] = time.monotonic()

    loop = threading.Thread(target=shopper)
    loop.start()
    slow = threading.Thread(target=in_flight)
    slow.start()
    time.sleep(0.5)  # the slow request is in a worker now
    server.signal(signal.SIGHUP)
    server.wait_until(lambda: "reloaded;" in server.log(), 90, "the new workers to be ready")
    old_told_to_finish_at = time.monotonic()
    server.wait_until(
        lambda: len(server.worker_pids()) == 2 and not (server.worker_pids() & old),
        90,
        "the new workers to replace the old ones",
    )
    new = server.worker_pids()
    time.sleep(0.5)
    stop.set()
    loop.join(timeout=30)
    slow.join(timeout=30)

    failures = [outcome for outcome in outcomes if outcome[0] != 200]
    assert failures == [], f"{len(failures)} of {len(outcomes)} requests failed: {failures[:5]}"
    served_by = {pid for _, pid in outcomes}
    assert served_by & old and served_by & new, "the loop ran across the swap"
    status, body = slow_result["response"]
    assert status == 200 and int(body) in old, "the in-flight request finished on its old worker"
    assert slow_result["finished_at"] > old_told_to_finish_at, "it was in flight during the swap"
    assert server.process.poll() is None


def test_sigterm_finishes_in_flight_requests_and_stops_everything(serve):
    server = serve(workers=2)
    workers = [psutil.Process(pid) for pid in server.worker_pids()]
    slow_result = {}
    slow = threading.Thread(
        target=lambda: slow_result.update(r=get(server.url + "/probe/slow?seconds=2", timeout=30))
    )
    slow.start()
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    slow.join(timeout=30)
    assert slow_result["r"][0] == 200, "the request in flight was answered before the stop"
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert not server.answers(), "nothing listens on the port any more"


def counter(metrics_text: str, name: str, **labels) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_add_up_every_worker(serve):
    server = serve(workers=2)
    made, pids = 0, set()
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and made < 800:
            for status, body in pool.map(lambda _: get(server.url + "/probe/pid"), range(8)):
                assert status == 200
                pids.add(int(body))
                made += 1
    assert pids == server.worker_pids(), "requests were spread over both workers"
    # Whichever worker answers the scrape, it reports the whole server.
    for _ in range(6):
        scraped = get(server.url + "/metrics")[1]
        assert counter(scraped, "mercato_http_requests_total", route="probe_pid") == made
        assert counter(scraped, "mercato_db_pool_capacity") == 2 * (10 + 10)
