"""A real SMTP server for tests: aiosmtpd on a free loopback port.

``smtp_server`` keeps every message it accepts (parsed, ``email.message.EmailMessage``)
and can be stopped and started again on the same port, to test what happens while the
mail server is down.
"""

import asyncio
import email
import email.policy
import threading
import time

import pytest
from aiosmtpd.controller import Controller

__all__ = ["SMTPServer", "smtp_server"]


class _Collector:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on ``host``:``port``; ``messages`` is what it accepted, in order."""

    host = "127.0.0.1"

    def __init__(self, port: int):
        self.port = port
        self._collector = _Collector()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self._collector.lock:
            return list(self._collector.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """``(MAIL FROM, RCPT TO list)`` of every accepted message."""
        with self._collector.lock:
            return list(self._collector.envelopes)

    @property
    def delay(self) -> float:
        return self._collector.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        """Hold each message this long before accepting it (a slow server)."""
        self._collector.delay = seconds

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        # A controller's event loop is closed when it stops, so each start needs a new one.
        controller = Controller(self._collector, hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[email.message.EmailMessage]:
        """The messages once at least ``count`` have arrived; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"expected {count} emails within {timeout}s, got {len(self.messages)}")
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server():
    """A running SMTP server on a free loopback port, stopped after the test."""
    from . import free_port

    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()
