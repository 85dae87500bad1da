"""structlog set-up: JSON lines on stderr, with personal data kept out by construction.

Log calls pass ids, codes, digests and counts only. As a second line of defence
a processor drops any key that could carry content (payload, body, text, name,
token, secret, ...) and truncates long values.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger"]

_FORBIDDEN = ("payload", "body", "plaintext", "text", "name", "token", "secret", "password",
              "phone", "address", "content", "authorization")
_MAX_VALUE = 200


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key == "event":
            continue
        if any(f in key.lower() for f in _FORBIDDEN):
            event[key] = "[redacted]"
        elif isinstance(event[key], bytes):
            event[key] = f"<{len(event[key])} bytes>"
        elif isinstance(event[key], str) and len(event[key]) > _MAX_VALUE:
            event[key] = event[key][:_MAX_VALUE] + "…"
    return event


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
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
