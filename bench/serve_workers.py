"""Requests per second of ``mercato serve --workers 1`` against ``--workers 2``.

    .venv/bin/python bench/serve_workers.py [--seconds 10] [--connections 32] [--rounds 2]

One waitress process is held by Python's GIL however many threads it has, so a second
process should add most of a core. For each worker count, a real ``mercato serve``
(kernel only: ``/healthz`` and the home page, no plugin) runs on a free loopback port
and takes a bounded load: ``wrk`` (Debian's package) with a fixed number of keep-alive
connections for a fixed time, else a Python load generator with as many threads.
Rounds alternate 1 and 2 workers so that drift on a shared machine hits both; the best
round of each is kept. Prints the table and the ratio two/one.

Servers: PostgreSQL from DATABASE_URL (default the local server's ``test`` database;
these pages run no query) and Redis from REDIS_URL (default index 15 on the local
server).
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"healthz": "/healthz", "home": "/"}

INI = """[app:main]
use = egg:mercato
mercato.plugins =
mercato.secret = bench-secret
sqlalchemy.url = {database_url}
redis.url = {redis_url}
pyramid.reload_templates = false

[server:main]
use = egg:waitress#main
listen = 127.0.0.1:{port}
threads = {threads}
connection_limit = 1200
asyncore_use_poll = true

[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
# ERROR: under a load that saturates it on purpose, waitress warns of its queue depth.
level = ERROR
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic
[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    ini = folder / f"bench-{workers}.ini"
    ini.write_text(
        INI.format(
            database_url=os.environ.get(
                "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
            ),
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
            port=port,
            threads=threads,
        )
    )
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our command)
        [
            sys.executable,
            "-m",
            "mercato.ops.cli",
            "-c",
            str(ini),
            "serve",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # noqa: S310
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def load_wrk(url: str, seconds: int, connections: int) -> float:
    # One wrk thread: the load generator shares these cores with the server.
    result = subprocess.run(  # noqa: S603
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", result.stdout)
    if errors:
        print(f"  wrk reported: {errors.group(0)}")
    return float(match.group(1))


def load_python(url: str, seconds: int, connections: int) -> float:
    host, _, rest = url.removeprefix("http://").partition("/")
    hostname, port = host.split(":")
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def shopper():
        conn = http.client.HTTPConnection(hostname, int(port), timeout=10)
        count = 0
        while time.monotonic() < deadline:
            conn.request("GET", "/" + rest)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                count += 1
        with lock:
            done[0] += count

    threads = [threading.Thread(target=shopper) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per worker")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    load = load_wrk if shutil.which("wrk") else load_python
    print(
        f"load: {'wrk' if load is load_wrk else 'Python threads'}, {args.connections} "
        f"keep-alive connections, {args.seconds} s per page; {os.cpu_count()} cores"
    )
    best: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for round_no in range(1, args.rounds + 1):
            for workers in (1, 2):
                process, port = start_server(Path(folder), workers, args.threads)
                try:
                    for name, path in PAGES.items():
                        url = f"http://127.0.0.1:{port}{path}"
                        load(url, 2, args.connections)  # warm-up: templates, pools
                        rate = load(url, args.seconds, args.connections)
                        print(f"round {round_no}: {workers} worker(s) {name:8} {rate:8.0f} req/s")
                        best[workers, name] = max(best.get((workers, name), 0), rate)
                finally:
                    stop_server(process)
    print("\npage       1 worker   2 workers   ratio")
    for name in PAGES:
        one, two = best[1, name], best[2, name]
        print(f"{name:8} {one:9.0f} {two:11.0f} {two / one:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
