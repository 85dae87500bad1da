"""Strict parsing of the small fields peers and users send: integers, decimals, base64 and
bounded JSON.

Python's own parsers are generous in ways a wire contract must not be: ``str.isdigit()`` and
``int()`` take any Unicode digit ("²", "٣") and accept "+1", " 1" and "1_000"; ``float()``
takes "nan" and "1e999"; ``base64.b64decode`` ignores bad padding bits; ``json.loads``
recurses once per nesting level. Everything here accepts one spelling of each value and
raises ``Malformed`` (a 400 with a stable code) and nothing else.

Two integer readers, kept apart because their contracts differ: ``uint`` (peer fields:
canonical, no leading zero, a digit budget) and ``ascii_uint`` (officer inputs: a range).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

import orjson

from gateway.protocol.errors import Malformed

__all__ = ["MAX_JSON_DEPTH", "ascii_decimal", "ascii_uint", "b64", "json_depth",
           "load_json_object", "uint"]

MAX_JSON_DEPTH = 32
_UINT = re.compile(r"0|[1-9][0-9]*")
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_ASCII_UINT = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


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


def ascii_uint(text: str, *, what: str, lo: int = 0, hi: int = 10**18) -> int:
    """A non-negative integer written in ASCII digits only, within [lo, hi]."""
    if not _ASCII_UINT.fullmatch(text) or not lo <= (n := int(text)) <= hi:
        raise Malformed(f"{what} must be a whole number from {lo} to {hi} in ASCII digits")
    return n


def ascii_decimal(text: str, *, what: str, hi: float) -> float:
    """A non-negative decimal like ``24`` or ``1.5`` (ASCII digits, no exponent), <= hi."""
    if not _DECIMAL.fullmatch(text) or (x := float(text)) > hi:
        raise Malformed(f"{what} must be a number from 0 to {hi:g} like 24 or 1.5")
    return x


def json_depth(body: bytes) -> int:
    """The nesting depth of JSON text, without parsing it: strings are cut out, then the
    brackets that remain are counted (C-speed; no recursion whatever the input)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # the usual body: no scan
        return body.count(b"[") + body.count(b"{")
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # the usual body: no scan
        return body.count(b"[") + body.count(b"{")
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(itertools.accumulate(map(_DELTA.__getitem__, brackets)))


def load_json_object(body: bytes, *, allowed: frozenset[str],
                     max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A JSON object whose keys are all in ``allowed``; deeper than ``max_depth`` is refused
    before it is parsed."""
    if json_depth(body) > max_depth:
        raise Malformed(f"the JSON body is nested deeper than {max_depth} levels")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise Malformed("the body must be JSON (UTF-8)") from e
    if not isinstance(data, dict):
        raise Malformed("the body must be a JSON object")
    extra = set(data) - allowed
    if extra:
        raise Malformed(f"unknown field(s) {', '.join(sorted(extra))[:200]}; this request "
                        f"takes {', '.join(sorted(allowed)) or 'no fields'}")
    return data
