"""Base64 helpers that raise ``Malformed`` instead of binascii errors."""

from __future__ import annotations

import base64
import binascii

from gateway.protocol.errors import Malformed


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str, *, what: str = "value") -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise Malformed(f"{what} is not valid base64") from e
