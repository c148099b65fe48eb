"""``mercato demo`` — the README's first command — on embedded servers only."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from mercato.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from mercato.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(url: str, deadline: float, process: subprocess.Popen | None = None) -> int:
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return response.status
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer")


def servers_using(folder: Path) -> list[psutil.Process]:
    # Attributes read by process_iter itself: a process that ends meanwhile (a
    # PostgreSQL backend) is skipped there, where a later proc.name() would raise.
    return [
        proc
        for proc in psutil.process_iter(["cmdline", "name"])
        if any(str(folder) in part for part in proc.info["cmdline"] or ())
    ]


class Demo:
    """``mercato demo`` in a process of its own, on ``data`` and a free port."""

    def __init__(self, tmp_path: Path, data: Path):
        self.data = data
        self.port = free_port()
        # No DATABASE_URL, no REDIS_URL, no secret: the demo brings everything it needs.
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        command = ["demo", "--port", str(self.port), "--data", str(data)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mercato.ops.cli", "-c", "config/development.ini", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_ready(self) -> None:
        try:
            assert wait_for(f"{self.url}/readyz", time.monotonic() + 180, self.process) == 200
        except AssertionError:
            self.process.kill()
            raise AssertionError(self.process.communicate(timeout=30)[0]) from None

    def servers(self) -> dict[str, list[psutil.Process]]:
        """Every server process it started: PostgreSQL's postmaster and the processes it
        forked, Redis, localstripe."""
        postmaster = [
            proc
            for proc in servers_using(self.data / "postgres")
            if proc.info["name"] == "postgres"
        ]
        registry = json.loads((self.data / "redis" / "redis.db.settings").read_text())
        return {
            "postgres": postmaster + postmaster[0].children(recursive=True),
            "redis": servers_using(Path(registry["unixsocket"])),
            "localstripe": psutil.Process(self.process.pid).children(recursive=True),
        }

    def stop(self, signum: int) -> str:
        self.process.send_signal(signum)
        output, _ = self.process.communicate(timeout=60)
        return output


@pytest.fixture
def start_demo(tmp_path):
    """``start_demo(data)`` → a running ``Demo``; whatever a failed test left is stopped."""
    started: list[Demo] = []

    def start(data: Path) -> Demo:
        started.append(Demo(tmp_path, data))
        return started[-1]

    yield start
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.communicate(timeout=30)
    for data in {demo.data for demo in started}:
        EmbeddedPostgres.stop_leftover(data / "postgres")
        EmbeddedRedis.stop_leftover(data / "redis")


def all_gone(servers: dict[str, list[psutil.Process]]) -> list[psutil.Process]:
    """The processes among ``servers`` still running after a while; [] when all stopped."""
    _gone, alive = psutil.wait_procs([p for ps in servers.values() for p in ps], timeout=30)
    return alive


def add_to_cart(url: str, slug: str) -> dict:
    """A shopper's add through the JSON API (session cookie, CSRF token): the cart."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(f"{url}/api/session/csrf", timeout=10) as answer:
        token = json.load(answer)["csrf_token"]
    with browser.open(f"{url}/api/products/{slug}", timeout=10) as answer:
        sku = json.load(answer)["variants"][0]["sku"]
    add = urllib.request.Request(
        f"{url}/api/cart/lines",
        data=json.dumps({"sku": sku, "quantity": 1}).encode(),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    with browser.open(add, timeout=10) as answer:
        return json.load(answer)


def test_demo_serves_the_storefront_on_embedded_servers_and_stops_them(tmp_path, start_demo):
    demo = start_demo(tmp_path / "demo")
    try:
        demo.wait_until_ready()
        with urllib.request.urlopen(f"{demo.url}/", timeout=10) as page:  # noqa: S310
            assert page.status == 200
            assert "Mercato Demo Shop" in page.read().decode()
        assert add_to_cart(demo.url, "enamel-camp-mug")["count"] == 1
        servers = demo.servers()
        assert all(servers.values()), servers
    finally:
        output = demo.stop(signal.SIGINT)
    assert demo.process.returncode == 0, output
    assert "stopping embedded servers" in output
    assert all_gone(servers) == [], "Ctrl-C stops PostgreSQL, Redis and localstripe too"
    # The app lets go of its servers before they stop: nothing it holds complains.
    stopping = output.split("stopping embedded servers")[1]
    assert "WARNI" not in stopping and "Traceback" not in stopping, stopping


def test_sigterm_stops_every_server_and_the_next_demo_starts_cleanly(tmp_path, start_demo):
    data = tmp_path / "demo"
    first = start_demo(data)
    first.wait_until_ready()
    servers = first.servers()
    output = first.stop(signal.SIGTERM)  # what `kill` and a process manager send
    assert first.process.returncode == 0, output
    assert "stopping embedded servers" in output
    assert all_gone(servers) == [], output

    second = start_demo(data)
    second.wait_until_ready()
    servers = second.servers()
    output = second.stop(signal.SIGTERM)
    assert second.process.returncode == 0, output
    assert "earlier run" not in output, "nothing was left behind to stop"
    assert all_gone(servers) == [], output


def test_servers_a_killed_demo_left_behind_are_stopped_by_the_next_demo(tmp_path, start_demo):
    data = tmp_path / "demo"
    killed = start_demo(data)
    killed.wait_until_ready()
    left = killed.servers()
    killed.process.kill()  # kill -9: no chance to stop anything
    killed.process.wait(timeout=30)
    assert all_gone({"localstripe": left.pop("localstripe")}) == [], (
        "localstripe exits once the demo that started it is gone"
    )
    postmaster, redis_server = left["postgres"][0].pid, left["redis"][0].pid
    assert left["postgres"][0].is_running() and left["redis"][0].is_running(), "left behind"

    second = start_demo(data)
    second.wait_until_ready()
    assert all_gone(left) == [], "the servers left running were stopped"
    # Now the demo and every server it started die at once: their pid files remain.
    servers = second.servers()
    second.process.kill()
    for proc in (p for ps in servers.values() for p in ps):
        proc.kill()
    output = second.process.communicate(timeout=30)[0]
    assert (
        f"mercato demo: stopped PostgreSQL (pid {postmaster}) left running by an earlier run; "
        "starting afresh"
    ) in output
    assert (
        f"mercato demo: stopped Redis (pid {redis_server}) left running by an earlier run; "
        "starting afresh"
    ) in output
    assert all_gone(servers) == []

    third = start_demo(data)
    third.wait_until_ready()
    with urllib.request.urlopen(f"{third.url}/", timeout=10) as page:  # noqa: S310
        assert "Mercato Demo Shop" in page.read().decode()
    servers = third.servers()
    output = third.stop(signal.SIGTERM)
    assert third.process.returncode == 0, output
    assert "removed PostgreSQL's lock file left by an earlier run (pid" in output
    assert "forgot Redis's pid file left by an earlier run (pid" in output
    assert all_gone(servers) == [], output


def test_a_second_demo_on_data_in_use_is_refused_in_one_line(tmp_path, start_demo):
    data = tmp_path / "demo"
    running = start_demo(data)
    try:
        running.wait_until_ready()
        servers = running.servers()
        other = start_demo(data)
        output = other.process.communicate(timeout=60)[0]
        assert other.process.returncode == 2, output
        assert output == (
            f"mercato demo: another demo (pid {running.process.pid}) is running on {data}: "
            "stop it, or give this one its own --data folder\n"
        )
        assert wait_for(f"{running.url}/readyz", time.monotonic() + 10) == 200
    finally:
        running.stop(signal.SIGTERM)
    assert all_gone(servers) == []
