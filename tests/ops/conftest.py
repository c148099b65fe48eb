"""Running ``mercato serve`` as an operator does: a real process tree on loopback ports."""

import configparser
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from mercato.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
MERCATO = [sys.executable, "-m", "mercato.ops.cli"]
PROBE = "tests.ops.plugins.probe"

LOGGING = """
[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = INFO
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


def write_ini(path: Path, database_url: str, redis_url: str, port: int, app="", server="") -> Path:
    path.write_text(
        "[app:main]\nuse = egg:mercato\n"
        f"mercato.plugins = {PROBE}\n"
        "mercato.secret = ops-test-secret\n"
        f"sqlalchemy.url = {database_url}\nredis.url = {redis_url}\n"
        f"{app}\n"
        "[server:main]\nuse = egg:waitress#main\n"
        f"listen = 127.0.0.1:{port}\nthreads = 4\n{server}\n" + LOGGING
    )
    return path


def production_waitress_settings() -> str:
    """config/production.ini's waitress settings but the address and thread count."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "config" / "production.ini")
    kept = {k: v for k, v in parser["server:main"].items() if k not in ("use", "listen", "threads")}
    return "".join(f"{key} = {value}\n" for key, value in kept.items())


def get(url: str, timeout: float = 10, headers=None) -> tuple[int, str]:
    """One request on a connection of its own (as a new shopper opens one)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Served:
    """A ``mercato serve`` process tree; its log goes to a file read on failure."""

    def __init__(self, ini: Path, workers: int, env: dict | None = None):
        self.port = int(ini.read_text().split("listen = 127.0.0.1:")[1].split()[0])
        self.log_path = ini.with_suffix(".log")
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*MERCATO, "-c", str(ini), "serve", "--workers", str(workers)],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"], **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.parent = psutil.Process(self.process.pid)
        self.wait_until(lambda: f"{workers} workers ready" in self.log() and self.answers(), 90)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def worker_pids(self) -> set[int]:
        try:
            return {child.pid for child in self.parent.children() if child.is_running()}
        except psutil.NoSuchProcess:
            return set()

    def answers(self) -> bool:
        try:
            return get(self.url + "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def wait_until(self, condition, seconds: float, what: str = "the server to be ready"):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mercato serve exited:\n{self.log()}")
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")

    def signal(self, signum) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                for child in self.parent.children():
                    child.kill()
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def serve(tmp_path, migrated_database, redis_url):
    """``serve(workers=2, app="key = value", env={...})`` → a running ``Served``."""
    started = []

    def start(workers=2, app="", server="", env=None, name="shop"):
        ini = write_ini(
            tmp_path / f"{name}.ini", migrated_database, redis_url, free_port(), app, server
        )
        served = Served(ini, workers, env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
