"""Strict parsing of the small text fields peers and users send: integers and base64.

Python's own helpers are loose in ways an attacker can use: ``str.isdigit()`` is true
for "²" and "٣" (which ``int()`` then refuses or reads as a digit), ``int()`` accepts
"+1", " 1" and "1_000", and ``base64.b64decode`` ignores bad padding bits. Everything
here accepts one spelling of each value and raises ``Malformed`` otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re

from gateway.errors import Malformed

__all__ = ["b64", "uint"]

_UINT = re.compile(r"0|[1-9][0-9]*")
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def uint(text: str, what: str, *, max_digits: int = 15) -> int:
    """A non-negative integer in ASCII decimal, no sign, no leading zero, no spaces."""
    if len(text) > max_digits or not _UINT.fullmatch(text):
        raise Malformed(f"{what} must be a decimal number (ASCII digits, at most {max_digits})")
    return int(text)


def b64(text: str, what: str) -> bytes:
    """Standard base64 with padding, canonical (re-encoding gives the same text)."""
    if not _B64.fullmatch(text):
        raise Malformed(f"{what} is not base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise Malformed(f"{what} is not base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise Malformed(f"{what} is not canonical base64")
    return raw
