"""Test plugins for the outbox, enabled by dotted name in ``mercato.plugins``."""

from mercato import hookimpl


class Flaky:
    """A notifier (think Slack) that fails while ``down`` and records what it got."""

    def __init__(self):
        self.down = False
        self.received: list[tuple[str, dict]] = []

    @hookimpl
    def mercato_notify(self, event, payload):
        if self.down:
            raise ConnectionError("chat service unavailable")
        self.received.append((event, payload))


flaky = Flaky()
