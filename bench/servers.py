"""Starting and stopping what the bench measures: ``mercato serve``, the floors, nginx;
and the peak memory and CPU of their processes.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from mercato.ops.embedded import free_port

from .config import ROOT

NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def wait_for(url: str, process: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                response.read()
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError(
                    f"bench: {what} did not start (see the logs under var/bench)"
                ) from None
            time.sleep(0.2)


def stop(process: subprocess.Popen, timeout: float = 40) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Server:
    """A running server: a base URL and the processes whose memory counts."""

    url: str
    process: subprocess.Popen

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        stop(self.process)


class AppServer(Server):
    """``mercato -c INI serve --workers N``: the shop as a store owner runs it."""

    def __init__(self, ini: Path, port: int, workers: int, log: Path):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our CLI)
            [sys.executable, "-m", "mercato.ops.cli", "-c", str(ini), "serve"]
            + ["--workers", str(workers)],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.url + "/readyz", self.process, f"mercato serve ({ini.name})")

    def stop(self) -> None:
        super().stop()
        self._log.close()


class FloorServer(Server):
    """A floor app on ``workers`` processes sharing one listening socket."""

    def __init__(self, kind: str, workers: int, adjustments: dict, settings: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        backlog = int(adjustments.get("backlog", 1024))
        self.sock = socket.create_server(("127.0.0.1", self.port), backlog=backlog)
        spec = json.dumps({"adjustments": adjustments, "settings": settings})
        self._log = log.open("ab")
        self.workers = [
            subprocess.Popen(  # noqa: S603 (our interpreter, our module)
                [sys.executable, "-m", "bench.floors", kind, str(self.sock.fileno()), spec],
                cwd=ROOT,
                pass_fds=(self.sock.fileno(),),
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(workers)
        ]
        self.process = self.workers[0]
        # The warm-up before each measurement gives the other workers time to start.
        if kind == "redis":
            self._wait_post()
        else:
            wait_for(self.url + "/", self.process, f"floor {kind}")

    def _wait_post(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(self.url + "/0", data=b"", method="POST")  # noqa: S310
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    response.read()
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("bench: the redis floor did not start") from None
                time.sleep(0.2)

    def pids(self) -> list[int]:
        return [worker.pid for worker in self.workers]

    def stop(self) -> None:
        for worker in self.workers:
            stop(worker)
        self.sock.close()
        self._log.close()


class Nginx(Server):
    """nginx (Debian's package) in front of ``upstreams``, from bench/nginx.conf.template."""

    def __init__(self, folder: Path, upstreams: list[int]):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("bench: nginx is not installed: apt-get install -y nginx-light")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "logs").mkdir(exist_ok=True)
        conf = folder / "nginx.conf"
        servers = "\n        ".join(f"server 127.0.0.1:{port};" for port in upstreams)
        conf.write_text(
            NGINX_TEMPLATE.read_text()
            .replace("{{prefix}}", str(folder))
            .replace("{{port}}", str(self.port))
            .replace("{{upstreams}}", servers)
        )
        self.process = subprocess.Popen(  # noqa: S603 (Debian's nginx, our config)
            [binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(folder / "logs" / "stderr.log").open("ab"),
        )
        wait_for(self.url + "/healthz", self.process, "nginx")

    def stop(self) -> None:
        stop(self.process, timeout=10)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU the process has used, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


class ServerUsage:
    """Samples a set of processes: ``peak`` is the largest sum of their resident
    memory, ``cpu`` the CPU seconds they used while it ran. CPU per request or per
    order is what a change to the code moves; the rates move with the machine too (a
    noisy neighbour, another core's load), CPU less (bench/README.md, session 9)."""

    def __init__(self, pids, interval: float = 0.25):
        self.pids = pids  # a callable: workers may be replaced during a run
        self.interval = interval
        self.peak = 0
        self._started: dict[int, float] = {}
        self._latest: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu(self) -> float:
        return sum(used - self._started.get(pid, 0.0) for pid, used in self._latest.items())

    def _sample(self) -> None:
        for pid in self.pids():
            used = cpu_seconds(pid)
            if used is not None:
                self._latest[pid] = used

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(rss_bytes(pid) for pid in self.pids()))
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._sample()
        self._started = dict(self._latest)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
