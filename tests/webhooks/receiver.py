"""A webhook receiver on loopback: a real HTTP server in a thread that keeps every
request it gets and answers as the test tells it (500 the first N times per event)."""

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTS = range(18100, 18200)  # this suite's range


@dataclass(frozen=True)
class Received:
    headers: dict
    body: bytes
    answered: int

    @property
    def event_id(self) -> str:
        return self.headers["Mercato-Event-Id"]


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the receiver")


class Receiver:
    def __init__(self):
        self.requests: list[Received] = []
        self.failures_per_event = 0  # answer 500 this many times to each event id
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    seen = [r for r in receiver.requests if r.event_id == self.headers.get(
                        "Mercato-Event-Id")]  # fmt: skip
                    status = 500 if len(seen) < receiver.failures_per_event else 200
                    receiver.requests.append(Received(dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", _port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx: what the receiver accepted."""
        with self._lock:
            return [r for r in self.requests if r.answered == 200]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Exactly ``count`` accepted requests, or fail the test saying what came."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        accepted = self.delivered()
        assert len(accepted) >= count, f"{len(accepted)} accepted of {count}: {self.requests}"
        return accepted

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
