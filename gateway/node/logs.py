"""structlog set-up: JSON lines on stderr, with personal data kept out by construction.

Log calls pass ids, codes, digests and counts only. As a second line of defence
a processor drops any key that could carry content (payload, body, text, name,
token, secret, ...) and truncates long values.

Standard-library logging (aiohttp's ``aiohttp.server``/``aiohttp.access``/... loggers,
asyncio, SQLAlchemy, alembic) is routed into the same pipeline by a root handler: a
record becomes one JSON line through the same redaction. aiohttp records never carry
their message text (a parser error quotes the client's raw header bytes, bearer tokens
included): an HTTP parser error becomes ``http_bad_request`` with code ``MALFORMED``.
No record carries a traceback: an exception is logged by type and innermost frame.

Logging never raises into the caller: a line that cannot be written (the disk under the log
file is full, the pipe to the journal is closed) is dropped and counted
(``LogStream.dropped``), so a full disk is answered 507 and the delivery workers live on,
rather than a log call turning it into a 500 or a dead worker.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

__all__ = ["LogStream", "configure_logging", "get_logger"]

_FORBIDDEN = ("payload", "body", "plaintext", "text", "name", "token", "secret", "password",
              "phone", "address", "content", "authorization")
_MAX_VALUE = 200


_KEY_FORBIDDEN: dict[str, bool] = {}  # key -> whether it is redacted (log keys are few)


def _forbidden(key: str) -> bool:
    hit = _KEY_FORBIDDEN.get(key)
    if hit is None:
        hit = any(f in key.lower() for f in _FORBIDDEN)
        if len(_KEY_FORBIDDEN) < 4096:
            _KEY_FORBIDDEN[key] = hit
    return hit


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key == "event":
            continue
        if _forbidden(key):
            event[key] = "[redacted]"
        elif isinstance(event[key], bytes):
            event[key] = f"<{len(event[key])} bytes>"
        elif isinstance(event[key], str) and len(event[key]) > _MAX_VALUE:
            event[key] = event[key][:_MAX_VALUE] + "…"
    return event


_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)\S+")
_SECRETISH = re.compile(r"(?i)(token|authorization|secret|password)([\s:=\"']+)\S+")


def _scrub(text: str) -> str:
    """A stdlib log message: credentials cut out, control characters and length bounded."""
    for pattern in (_SCHEME, _SECRETISH):
        text = pattern.sub(lambda m: m.group(1) + m.group(2) + "[redacted]", text)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:_MAX_VALUE] + ("…" if len(text) > _MAX_VALUE else "")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{'/'.join(last.filename.split('/')[-2:])}:{last.lineno}"


class _StdlibBridge(logging.Handler):
    """Stdlib records -> structlog events, through the same redaction."""

    def __init__(self) -> None:
        super().__init__()
        self._second, self._in_second, self._suppressed = 0, 0, 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            exc = record.exc_info[1] if record.exc_info else None
            level = record.levelname.lower()
            if record.name.startswith("aiohttp"):
                from aiohttp.http_exceptions import HttpProcessingError

                if isinstance(exc, HttpProcessingError):
                    # A client's malformed request: one line with a code, no bytes of it,
                    # and at most _BAD_PER_S lines a second whatever a client sends.
                    event, fields["code"] = "http_bad_request", "MALFORMED"
                    level = "info"
                    second = int(time.monotonic())
                    if second != self._second:
                        self._second, self._in_second = second, 0
                    self._in_second += 1
                    if self._in_second > _BAD_PER_S:
                        self._suppressed += 1
                        return
                    if self._suppressed:
                        fields["suppressed_before"], self._suppressed = self._suppressed, 0
                else:
                    event = "http_server_error" if exc is not None else "aiohttp_log"
            else:
                event = "stdlib_log"
                fields["message"] = _scrub(record.getMessage())
            if exc is not None:
                fields["error"] = type(exc).__name__
                fields["where"] = _where(exc)
            log = structlog.get_logger("stdlib")
            getattr(log, level if level in _LEVELS else "warning")(event, **fields)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


_LEVELS = ("debug", "info", "warning", "error", "critical")
_BAD_PER_S = 10


class LogStream:
    """The log's output stream that never raises: a write or flush that fails with
    ``OSError`` (ENOSPC, EFBIG, EPIPE) or on a closed stream is dropped and counted."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.dropped = 0

    def write(self, text: str) -> int:
        try:
            return int(self.stream.write(text))
        except (OSError, ValueError):
            self.dropped += 1
            return 0

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            self.dropped += 1


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(  # duck-typed: write and flush
            cast(TextIO, LogStream(stream or sys.stderr))),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_StdlibBridge())
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
    logging.captureWarnings(True)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
