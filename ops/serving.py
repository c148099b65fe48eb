"""``mercato serve``: N waitress processes on one listening socket, kept alive by a parent.

One waitress process is held by Python's GIL, so a shop uses every core only with one
process per core. The parent binds the socket once and starts N workers: fresh
interpreters that inherit the socket (``pass_fds``) and each run waitress on it; the
kernel hands every new connection to whichever worker accepts it first, so no port
juggling and no balancer in between.

The parent never serves a request. It

- restarts a worker that dies (after a growing pause if workers keep dying at start-up,
  so a broken deploy does not spin the CPU);
- on SIGHUP reloads: starts N new workers (new code, new ``[app:main]`` settings) and,
  once every one of them is ready, asks the old ones to finish and exit. If the new
  workers cannot start, the old ones go on serving and the error is logged;
- on SIGTERM or SIGINT asks every worker to finish, waits, and exits.

A worker asked to finish (SIGTERM) stops accepting — the listening socket stays open in
the other workers, so no connection is refused — completes its in-flight requests for at
most ``graceful_timeout`` seconds, closes its idle keep-alive connections and exits.

Prometheus metrics are kept per process in files under ``PROMETHEUS_MULTIPROC_DIR``
(set here for the workers) and summed by whichever worker answers ``/metrics``.
"""

import contextlib
import gc
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

from mercato.exceptions import ConfigurationError

log = logging.getLogger(__name__)

READY = b"ready\n"
# How long a worker may take to import the code and build the app.
START_TIMEOUT = 60.0
# How long a stopping worker waits for the first request of a connection it accepted.
FIRST_REQUEST_GRACE = 2.0
# Pause before replacing a worker that died before it was ready; doubles up to the cap.
FIRST_BACKOFF, LONGEST_BACKOFF = 0.5, 30.0
# [server:main] keys that say where to listen: the parent binds, the workers inherit.
ADDRESS_KEYS = {"use", "listen", "host", "port", "sockets", "unix_socket", "unix_socket_perms"}
# The worker runs this: importing mercato.ops.serving as a module (not as __main__) keeps one
# copy of it in the process.
WORKER_BOOT = "import sys; from mercato.ops.serving import worker_main; sys.exit(worker_main())"


@dataclass
class ServeOptions:
    config: str
    host: str
    port: int
    workers: int
    graceful_timeout: float = 30.0
    # waitress adjustments from [server:main] (threads, connection_limit, trusted_proxy …)
    adjustments: dict = field(default_factory=dict)


def cpu_count() -> int:
    """Cores this process may run on (a container's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _parse_listen(value: str) -> tuple[str, int]:
    entries = value.split()
    if len(entries) != 1:
        raise ConfigurationError(
            f"mercato: [server:main] listen = {value!r}: mercato serve binds one address; "
            "list one host:port (nginx can balance several servers)"
        )
    host, _, port = entries[0].rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (":6543" means every address)


def options_from_config(
    config_uri: str,
    app_settings: dict,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    threads: int | None = None,
) -> ServeOptions:
    """Serve options: the command line first, then the ini file, then the defaults.

    ``[server:main]`` is the section pserve reads too (host, port or listen, and every
    waitress adjustment); ``mercato.serve.workers`` and ``mercato.serve.graceful_timeout``
    live in ``[app:main]``, because pserve would refuse them as unknown adjustments.
    """
    import plaster
    from waitress.adjustments import Adjustments

    server = dict(plaster.get_loader(config_uri, protocols=["wsgi"]).get_settings("server:main"))
    ini_host, ini_port = "127.0.0.1", 6543
    try:
        if server.get("listen"):
            ini_host, ini_port = _parse_listen(server["listen"])
        ini_host = server.get("host", ini_host)
        ini_port = int(server.get("port", ini_port))
        ini_workers = app_settings.get("mercato.serve.workers")
        options = ServeOptions(
            config=config_uri,
            host=host or ini_host,
            port=ini_port if port is None else port,
            workers=workers or (int(ini_workers) if ini_workers else cpu_count()),
            graceful_timeout=float(app_settings.get("mercato.serve.graceful_timeout", 30)),
            adjustments={k: v for k, v in server.items() if k not in ADDRESS_KEYS},
        )
    except ValueError as exc:
        raise ConfigurationError(f"mercato: serve settings in {config_uri}: {exc}") from None
    if threads is not None:
        options.adjustments["threads"] = threads
    if options.workers < 1:
        raise ConfigurationError("mercato: serve needs at least one worker (--workers N)")
    try:
        Adjustments(**options.adjustments)  # refuse a misspelled key now, not in each worker
    except ValueError as exc:
        raise ConfigurationError(
            f"mercato: [server:main] in {config_uri}: {exc}: see waitress's settings"
        ) from None
    return options


def bind(host: str, port: int, backlog: int) -> socket.socket:
    host = "0.0.0.0" if host == "*" else host  # noqa: S104 (what "*" asks for)
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(address, family=family, backlog=backlog)
    except OSError as exc:
        raise ConfigurationError(
            f"mercato: cannot listen on {host}:{port} ({exc.strerror or exc}): "
            "choose another --host/--port or stop what uses it"
        ) from None


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------


class Worker:
    def __init__(self, options: ServeOptions, listen_fd: int, env: dict):
        ready_read, ready_write = os.pipe()
        spec = {**asdict(options), "listen_fd": listen_fd, "ready_fd": ready_write}
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", WORKER_BOOT, json.dumps(spec)],
            pass_fds=(listen_fd, ready_write),
            env=env,
        )
        os.close(ready_write)
        self.ready_fd: int | None = ready_read
        self.ready = False
        self.stop_sent_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_ready(self) -> None:
        """Called when the ready pipe is readable: the worker is ready, or it died."""
        self.ready = os.read(self.ready_fd, len(READY)) == READY
        self.close_pipe()

    def close_pipe(self) -> None:
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None

    def stop(self) -> None:
        if self.stop_sent_at is None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.stop_sent_at = time.monotonic()


class Arbiter:
    """Keeps ``options.workers`` workers serving on ``sock`` until told to stop."""

    def __init__(self, options: ServeOptions, sock: socket.socket, metrics_dir: Path):
        self.options = options
        self.sock = sock
        self.metrics_dir = metrics_dir
        self.env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.workers: list[Worker] = []  # the current generation
        self.retiring: list[Worker] = []  # an old generation finishing its requests
        self.stopping = False
        self.reload_requested = False
        self.backoff = FIRST_BACKOFF
        self.next_spawn_at = 0.0

    # -- signals: handlers only set flags; the wakeup fd interrupts select() ----------

    def _install_signals(self) -> None:
        self._wake_read, wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select()

    def _on_stop(self, signum, frame) -> None:
        self.stopping = True

    def _on_reload(self, signum, frame) -> None:
        self.reload_requested = True

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 512):
                pass

    # -- main loop ---------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        log.info(
            "mercato serve: %d workers on http://%s:%s (pid %d; SIGHUP reloads, SIGTERM stops)",
            self.options.workers,
            self.options.host,
            self.options.port,
            os.getpid(),
        )
        self.workers = [self._spawn() for _ in range(self.options.workers)]
        if not self._await_ready(self.workers):
            self._stop_all()
            if self.stopping:
                return 0
            log.error("mercato serve: the workers did not start; see the errors above")
            return 1
        while not self.stopping:
            self._wait(timeout=1.0)
            if self.stopping:
                break
            if self.reload_requested:
                self.reload_requested = False
                self._reload()
            if not self.stopping:
                self._reap()
        self._stop_all()
        log.info("mercato serve: stopped")
        return 0

    def _spawn(self) -> Worker:
        worker = Worker(self.options, self.sock.fileno(), self.env)
        log.info("mercato serve: started worker %d", worker.pid)
        return worker

    def _wait(self, timeout: float, starting: Sequence[Worker] = ()) -> None:
        """Sleep until a signal, a worker's readiness, or ``timeout``."""
        watched = [*self.workers, *self.retiring, *starting]
        pending = {w.ready_fd: w for w in watched if w.ready_fd is not None}
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([self._wake_read, *pending], [], [], timeout)
            for fd in readable:
                if fd in pending:
                    pending[fd].read_ready()
                    if pending[fd].ready:
                        self.backoff = FIRST_BACKOFF
        self._drain_wakeups()

    def _await_ready(self, workers: list[Worker]) -> bool:
        """True once every one of ``workers`` is ready; False if one dies or times out."""
        deadline = time.monotonic() + START_TIMEOUT
        while not all(w.ready for w in workers):
            if self.stopping or time.monotonic() > deadline:
                return False
            if any(w.process.poll() is not None and not w.ready for w in workers):
                return False
            self._wait(timeout=0.2, starting=workers)
        log.info("mercato serve: %d workers ready", len(workers))
        return True

    def _reap(self) -> None:
        now = time.monotonic()
        for worker in list(self.retiring):
            if worker.process.poll() is not None:
                self._forget(worker, self.retiring)
            elif now - worker.stop_sent_at > self.options.graceful_timeout + 5:
                log.warning("mercato serve: worker %d did not finish; killing it", worker.pid)
                worker.process.kill()
        for worker in list(self.workers):
            code = worker.process.poll()
            if code is None:
                continue
            self._forget(worker, self.workers)
            if worker.ready:
                log.error("mercato serve: worker %d exited (%s); replacing it", worker.pid, code)
            else:
                log.error(
                    "mercato serve: worker %d died while starting (%s); retrying in %.1f s",
                    worker.pid,
                    code,
                    self.backoff,
                )
                self.next_spawn_at = now + self.backoff
                self.backoff = min(self.backoff * 2, LONGEST_BACKOFF)
        while len(self.workers) < self.options.workers and time.monotonic() >= self.next_spawn_at:
            self.workers.append(self._spawn())

    def _forget(self, worker: Worker, generation: list[Worker]) -> None:
        from prometheus_client import multiprocess

        worker.close_pipe()
        generation.remove(worker)
        # Its live gauges (DB connections in use) no longer count; its counters stay,
        # so the totals /metrics reports never go backwards.
        multiprocess.mark_process_dead(worker.pid, str(self.metrics_dir))

    def _reload(self) -> None:
        log.info("mercato serve: reloading: starting %d new workers", self.options.workers)
        fresh = [self._spawn() for _ in range(self.options.workers)]
        if not self._await_ready(fresh):
            if not self.stopping:
                log.error("mercato serve: reload failed: new workers did not start; old ones go on")
            for worker in fresh:
                worker.stop()
            self.retiring.extend(fresh)
            return
        old, self.workers = self.workers, fresh
        for worker in old:
            worker.stop()
        self.retiring.extend(old)
        log.info("mercato serve: reloaded; %d old workers finish their requests", len(old))

    def _stop_all(self) -> None:
        everyone = self.workers + self.retiring
        for worker in everyone:
            worker.stop()
        deadline = time.monotonic() + self.options.graceful_timeout + 5
        for worker in everyone:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("mercato serve: worker %d did not finish; killing it", worker.pid)
                worker.process.kill()
                worker.process.wait()
            worker.close_pipe()
        self.workers, self.retiring = [], []


def serve(options: ServeOptions) -> int:
    """Bind, run the workers until SIGTERM/SIGINT; the exit status of ``mercato serve``."""
    backlog = int(options.adjustments.get("backlog", 1024))
    sock = bind(options.host, options.port, backlog)
    metrics_dir = Path(tempfile.mkdtemp(prefix="mercato-metrics-"))
    try:
        return Arbiter(options, sock, metrics_dir).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------


def worker_main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process (started by the parent, never by hand)."""
    from waitress import create_server

    from mercato import make_app

    from .cli import load_settings

    spec = json.loads((sys.argv[1:] if argv is None else argv)[0])
    parent = os.getppid()
    # The parent handles SIGHUP for everyone; a terminal's Ctrl-C (SIGINT to the whole
    # process group) means the same as the parent's SIGTERM.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stop = SimpleNamespace(requested=False)
    try:
        app = make_app(load_settings(spec["config"]))
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    # What lives as long as the worker (modules, routes, compiled templates, mappers,
    # pycountry's tables: ~190,000 objects) out of the collector's way: a full
    # collection walked them all, ~160 ms with the GIL held (bench/README.md).
    gc.collect()
    gc.freeze()
    listener = socket.socket(fileno=spec["listen_fd"])
    server = create_server(app, sockets=[listener], **spec["adjustments"])

    def request_stop(signum, frame):
        stop.requested = True
        server.pull_trigger()  # wake the poll() below at once

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    os.write(spec["ready_fd"], READY)
    os.close(spec["ready_fd"])
    _run(server, stop, parent)
    _drain(server, spec["graceful_timeout"])
    return 0


def _run(server, stop: SimpleNamespace, parent: int) -> None:
    from waitress import wasyncore

    # poll(), not select(): select() cannot watch more than 1,024 connections.
    while not stop.requested and os.getppid() == parent:
        wasyncore.loop(timeout=1.0, map=server._map, use_poll=True, count=1)


def _drain(server, graceful_timeout: float) -> None:
    """Finish in-flight requests, close idle connections, stop accepting meanwhile."""
    from waitress import wasyncore

    # Not polled any more: the other workers, which share the socket, accept instead.
    server.accepting = False
    deadline = time.monotonic() + graceful_timeout
    while time.monotonic() < deadline:
        busy = False
        for channel in list(server.active_channels.values()):
            if _in_use(channel):
                busy = True
            else:
                channel.handle_close()
        if not busy and not server.active_channels:
            break
        wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
    else:
        log.warning("mercato serve: worker %d gave up waiting for requests", os.getpid())
    server.task_dispatcher.shutdown()


def _in_use(channel) -> bool:
    """Whether closing ``channel`` now could cost its client a request."""
    if channel.requests or channel.request is not None or channel.total_outbufs_len:
        return True  # a request being read, run or answered
    if channel.last_activity == channel.creation_time:
        # Accepted, but its request has not arrived yet: it is on its way.
        return time.time() - channel.creation_time < FIRST_REQUEST_GRACE
    # An idle keep-alive connection, unless its next request is waiting to be read.
    poller = select.poll()
    poller.register(channel.socket, select.POLLIN)
    return bool(poller.poll(0))
