"""``mercato demo`` — the README's first command — on embedded servers only."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from mercato.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(url: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return response.status
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in time")


def servers_using(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def test_demo_serves_the_storefront_on_embedded_servers_and_stops_them(tmp_path):
    port = free_port()
    data = tmp_path / "demo"
    # No DATABASE_URL, no REDIS_URL, no secret: the demo brings everything it needs.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mercato.cli",
            "-c",
            "config/development.ini",
            "demo",
            "--port",
            str(port),
            "--data",
            str(data),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 180) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:  # noqa: S310
            assert page.status == 200
            assert "Mercato Demo Shop" in page.read().decode()
        assert servers_using(data), "the embedded servers run under the demo's data folder"
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    assert "stopping embedded servers" in output
    deadline = time.monotonic() + 20
    while servers_using(data) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not servers_using(data), "Ctrl-C stops PostgreSQL and Redis too"
