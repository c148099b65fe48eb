"""One log line per request: method, path, status, duration, request id and user id.

What is left out is left out on purpose. Never the query string (a password-reset or
API token may ride in it), the body (passwords, card data) or the headers (cookies,
authorization). A path segment that its route names like a secret (``{token}``) is
masked. The user id is logged only when the request looked the user up already: the
log line must not cost a query.

The request id — the proxy's ``X-Request-Id`` when it is a plain token, else a fresh one
(``mercato.errors.request_id``) — is echoed in the ``X-Request-Id`` response header: the
reference the error pages show, so a shopper's quote finds the line.

``mercato.log_format = json`` makes each line a JSON object (logger ``mercato.requests``;
give it a handler whose format is ``%(message)s`` for pure JSON lines, as
config/production.ini does). Default: ``text``.

Whatever a client sent can reach a log message (a path with ``%0d%0a``): every
Mercato logger (the kernel's and the plugins', ``mercato*``) escapes control
characters in its messages (``EscapeControlCharacters``), so no client can start a
forged line in a text log.

The lines are written behind the requests (``WrittenBehind``): a request only queues
its line, and one thread per process writes whatever has queued in one write. Written
by the request threads themselves, each line was a locked write to the stream, and
under load most of a request's time was spent waiting for that lock (py-spy, /healthz
under wrk: 72% of the request's samples in ``log.info``, 57% in ``Handler.acquire``).
Lines keep their order and are all written at exit (``logging.shutdown`` flushes).
"""

import json
import logging
import os
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import quote

import sqlalchemy
from pyramid.tweens import INGRESS
from pyramid_retry import is_error_retryable, is_last_attempt

from mercato.errors import raw_path, request_id
from mercato.exceptions import ConfigurationError

log = logging.getLogger("mercato.requests")

LOG_FORMATS = ("text", "json")
# What a proxy may pass as a request id: anything else could forge or split log lines.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
SECRET_WORDS = ("token", "secret", "password", "key", "signature")
MASK = "***"
LONGEST_PATH = 512
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# How often the request log's writer thread writes the lines queued since (seconds).
WRITE_EVERY = 0.05
# What ``json.dumps(..., separators=(",", ":"))`` made anew for every line.
JSON_LINE = json.JSONEncoder(separators=(",", ":"))


def _escaped(match: re.Match) -> str:
    return f"\\x{ord(match.group()):02x}"


def escape_controls(text: str) -> str:
    """``text`` with each control character written as ``\\xNN``."""
    # Nearly every message is printable ASCII, which holds no control character: two
    # C scans instead of the regular expression's (3.7 → 0.5 µs for a request line).
    if text.isascii() and text.isprintable():
        return text
    return CONTROL_CHARACTERS.sub(_escaped, text)


class EscapeControlCharacters(logging.Filter):
    """Rewrites a record's message with its control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, ()
        return True


ESCAPE_CONTROLS = EscapeControlCharacters()


def escape_mercato_logs() -> None:
    """Give every ``mercato*`` logger the filter (a logger's filters do not apply to
    its children's records, so each gets it). The modules that log are imported by
    the time the app is configured."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("mercato") and isinstance(logger, logging.Logger):
            logger.addFilter(ESCAPE_CONTROLS)  # once: addFilter skips one already there


class WrittenBehind(logging.Handler):
    """Queues records for ``target`` (a ``StreamHandler``), which one thread formats
    and writes every ``WRITE_EVERY`` seconds in one write: the request never waits
    for the stream or its lock."""

    def __init__(self, target: logging.StreamHandler):
        super().__init__(target.level)
        self.target = target
        self._pending: deque[logging.LogRecord] = deque()
        self._writing = threading.Lock()
        self._start_writer()
        # A server that forks after loading the app (gunicorn --preload) needs a
        # writer in each child: threads do not survive a fork.
        os.register_at_fork(after_in_child=self._start_in_child)

    def _start_in_child(self) -> None:
        self._pending.clear()  # the parent's lines: the parent writes them
        self._writing = threading.Lock()  # the fork may have copied it held
        self._start_writer()

    def _start_writer(self) -> None:
        writer = threading.Thread(target=self._write_forever, name="mercato-request-log")
        writer.daemon = True  # lines still queued at exit are written by logging.shutdown
        writer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: appending to a deque is atomic, and that lock was the wait.
        if not self.filter(record):
            return False
        self._pending.append(record)
        return True

    def _write_forever(self) -> None:
        # Woken by the clock, not by each line: waking a thread per request cost the
        # request 10% of its samples (``Event.set``).
        while True:
            time.sleep(WRITE_EVERY)
            self.flush()

    def flush(self) -> None:
        """Write every queued line now (also what ``logging.shutdown`` calls at exit)."""
        with self._writing:
            target, lines, record = self.target, [], None
            try:
                while self._pending:
                    record = self._pending.popleft()
                    if target.filter(record):
                        lines.append(target.format(record) + target.terminator)
                if lines:
                    with target.lock:
                        target.stream.write("".join(lines))
                        target.flush()
            except Exception:
                target.handleError(record)


def write_behind(logger: logging.Logger) -> None:
    """Put the stream handlers of ``logger`` behind a ``WrittenBehind`` (once). Only
    plain stream and file handlers: a rotating one decides in ``emit``, line by line."""
    for index, handler in enumerate(logger.handlers):
        if type(handler) in (logging.StreamHandler, logging.FileHandler):
            logger.handlers[index] = WrittenBehind(handler)


def will_be_retried(request, exc: Exception) -> bool:
    """pyramid_retry runs the request again: that attempt is not the request's outcome."""
    return is_error_retryable(request, exc) and not is_last_attempt(request)


def masked_path(request) -> str:
    # From the WSGI environ, decoded leniently: ``request.path`` raises on bytes that
    # are not UTF-8, and a bad address must still be logged.
    raw = request.environ.get("SCRIPT_NAME", "") + raw_path(request)
    path = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    for name, value in (request.matchdict or {}).items():
        if isinstance(value, str) and value and any(w in name.lower() for w in SECRET_WORDS):
            path = path.replace(quote(value, safe="/:@!$&'()*+,;=-._~"), MASK)
            path = path.replace(value, MASK)
    return path[:LONGEST_PATH]


def _user_id(request):
    # Only a user already loaded by the view (``request.user`` is reified).
    user = request.__dict__.get("user")
    if user is None:
        return None
    # The identity map key survives the session being closed at the end of the request;
    # reading ``user.id`` then could need a refresh from a session that is gone.
    state = sqlalchemy.inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return getattr(user, "id", None)


def fields(request, status: int, started: float) -> dict:
    route = request.matched_route.name if request.matched_route is not None else None
    return {
        "method": request.method,
        "path": masked_path(request),
        "route": route,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "request_id": request_id(request),
        "user_id": _user_id(request),
    }


def format_line(entry: dict, json_lines: bool) -> str:
    if json_lines:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        return JSON_LINE.encode({"ts": now, "event": "request", **entry})
    return (
        f"{entry['method']} {entry['path']} {entry['status']} {entry['duration_ms']}ms "
        f"request_id={entry['request_id']} user_id={entry['user_id'] or '-'}"
    )


def _write(line: str) -> None:
    """``log.info(line)`` without ``Logger.findCaller``: its walk up the stack, on every
    request, found the same file and line each time (this module's), which no request
    log line shows."""
    if log.isEnabledFor(logging.INFO):
        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))


def request_log_tween_factory(handler, registry):
    json_lines = registry.settings["mercato.log_format"] == "json"

    def request_log_tween(request):
        # The environ, not ``request.headers``: the same header, without building the
        # headers' view of the environ for one key (and again in ``request_id``).
        incoming = request.environ.get("HTTP_X_REQUEST_ID")
        if incoming is not None and not SAFE_REQUEST_ID.fullmatch(incoming):
            del request.environ["HTTP_X_REQUEST_ID"]
        started = time.perf_counter()
        rid = request_id(request)
        try:
            response = handler(request)
        except Exception as exc:
            if not will_be_retried(request, exc):
                _write(format_line(fields(request, 500, started), json_lines))
            raise
        response.headers["X-Request-Id"] = rid
        _write(format_line(fields(request, response.status_int, started), json_lines))
        return response

    return request_log_tween


def includeme(config):
    settings = config.registry.settings
    log_format = str(settings.get("mercato.log_format") or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            f"mercato: setting mercato.log_format = {log_format!r} is not valid: use text or json"
        )
    settings["mercato.log_format"] = log_format
    escape_mercato_logs()
    write_behind(log)
    # Outermost, so the line times the whole request and sees the final response,
    # error pages included.
    config.add_tween("mercato.ops.requestlog.request_log_tween_factory", under=INGRESS)
