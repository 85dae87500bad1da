"""RFC 8941 structured field values: the subset HTTP Message Signatures use, parsed strictly.

``parse_dictionary`` reads a dictionary (``Signature-Input``, ``Signature``,
``Content-Digest``) whose members are items or inner lists of items, each with parameters;
bare items are integers, strings, tokens, byte sequences and booleans. Stricter than RFC 8941
on purpose, for fields that carry signatures: visible ASCII only, no decimals (no field here
has one), a dictionary key or a parameter given twice is refused (RFC 8941 keeps the last one),
and byte sequences must be canonical padded base64. Anything else raises ``UNAUTHORIZED``
(the fields it reads authenticate a request). ``serialize_*`` write the canonical form, the
one RFC 9421 signs (its ``@signature-params`` is a serialized inner list).
"""

from __future__ import annotations

import base64
import binascii
import re

from gateway.protocol.errors import Unauthorized

__all__ = ["BareItem", "InnerList", "Item", "Member", "Params", "Token", "parse_dictionary",
           "serialize_bare", "serialize_inner_list", "serialize_params"]


class Token(str):
    """An sf-token (as opposed to an sf-string)."""


BareItem = int | str | bytes | bool
Params = tuple[tuple[str, BareItem], ...]
Item = tuple[BareItem, Params]
InnerList = tuple[tuple[Item, ...], Params]
Member = Item | InnerList

_KEY_FIRST = re.compile(r"[a-z*]")
_KEY_CHAR = re.compile(r"[a-z0-9_\-.*]")
_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]")
_B64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    """RFC 8941 §4.2 parsing of a dictionary. Decimals are not supported (none of our fields
    has one) and a repeated dictionary key is refused (RFC 8941 keeps the last one; a
    signature label given twice is an attempt to confuse, not a mistake)."""

    def __init__(self, text: str) -> None:
        if any(not 0x20 <= ord(c) <= 0x7E for c in text):
            raise Unauthorized("structured field with a character outside visible ASCII")
        self.s = text.strip(" ")
        self.i = 0

    def fail(self, what: str) -> Unauthorized:
        return Unauthorized(f"malformed structured field at {self.i}: {what}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def dictionary(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        while self.i < len(self.s):
            key = self.key()
            if key in out:
                raise self.fail(f"dictionary key {key!r} repeated")
            if self.peek() == "=":
                self.i += 1
                out[key] = self.inner_list() if self.peek() == "(" else self.item()
            else:
                out[key] = (True, self.params())
            while self.peek() in (" ", "\t") and self.peek():
                self.i += 1
            if self.i == len(self.s):
                return out
            if self.peek() != ",":
                raise self.fail("expected ','")
            self.i += 1
            while self.peek() in (" ", "\t") and self.peek():
                self.i += 1
            if self.i == len(self.s):
                raise self.fail("trailing ','")
        if not out:
            raise self.fail("empty")
        return out

    def inner_list(self) -> InnerList:
        self.i += 1
        items: list[Item] = []
        while True:
            while self.peek() == " ":
                self.i += 1
            if self.peek() == ")":
                self.i += 1
                return tuple(items), self.params()
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail("expected ' ' or ')' in an inner list")

    def item(self) -> Item:
        return self.bare(), self.params()

    def params(self) -> Params:
        out: list[tuple[str, BareItem]] = []
        while self.peek() == ";":
            self.i += 1
            while self.peek() == " ":
                self.i += 1
            key = self.key()
            if any(k == key for k, _ in out):
                raise self.fail(f"parameter {key!r} repeated")
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare()
            out.append((key, value))
        return tuple(out)

    def key(self) -> str:
        if not _KEY_FIRST.fullmatch(self.peek()):
            raise self.fail("expected a key")
        start = self.i
        while self.peek() and _KEY_CHAR.fullmatch(self.peek()):
            self.i += 1
        return self.s[start:self.i]

    def bare(self) -> BareItem:
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.integer()
        if c == '"':
            return self.string()
        if c == ":":
            return self.byte_seq()
        if c == "?":
            v = self.s[self.i + 1:self.i + 2]
            if v not in ("0", "1"):
                raise self.fail("bad boolean")
            self.i += 2
            return v == "1"
        if c.isalpha() or c == "*":
            start = self.i
            self.i += 1
            while self.peek() and _TCHAR.fullmatch(self.peek()):
                self.i += 1
            return Token(self.s[start:self.i])
        raise self.fail("expected an item")

    def integer(self) -> int:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        digits = self.i
        while self.peek() and self.peek() in "0123456789":
            self.i += 1
        if not 1 <= self.i - digits <= 15:
            raise self.fail("an integer has 1 to 15 digits")
        if self.peek() == ".":
            raise self.fail("decimals are not accepted here")
        return int(self.s[start:self.i])

    def string(self) -> str:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == "\\":
                nxt = self.s[self.i:self.i + 1]
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in a string")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            else:
                out.append(c)
        raise self.fail("unterminated string")

    def byte_seq(self) -> bytes:
        end = self.s.find(":", self.i + 1)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        text = self.s[self.i + 1:end]
        self.i = end + 1
        if not _B64.fullmatch(text):
            raise self.fail("bad base64")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail("bad base64") from None
        if base64.b64encode(raw).decode("ascii") != text:  # canonical, padded
            raise self.fail("non-canonical base64")
        return raw


def parse_dictionary(text: str) -> dict[str, Member]:
    """An RFC 8941 dictionary, parsed strictly (``UNAUTHORIZED`` if malformed)."""
    return _Parser(text).dictionary()


def serialize_bare(v: BareItem) -> str:
    if isinstance(v, bool):
        return "?1" if v else "?0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return ":" + base64.b64encode(v).decode("ascii") + ":"
    if isinstance(v, Token):
        return str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={serialize_bare(v)}" for k, v in params)


def serialize_inner_list(items: tuple[Item, ...], params: Params) -> str:
    return ("(" + " ".join(serialize_bare(v) + serialize_params(p) for v, p in items) + ")"
            + serialize_params(params))
