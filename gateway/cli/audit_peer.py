"""The live peer of ``blo-gateway audit verify --peer``: a gateway's audit routes over HTTP.

``gateway.audit.verify`` checks bundles offline and asks a ``LivePeer`` for what only a
running gateway knows (its current checkpoint and proofs); this is that peer over the peer
API, signed like every peer request. It lives with the command because it does I/O and
reads the clock, which the audit layer must not.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.error
import urllib.request
from typing import Any

from gateway.protocol import peerrequest
from gateway.protocol.errors import Malformed, PeerUnavailable, RemoteError
from gateway.protocol.identity import Directory

__all__ = ["HttpPeer"]


class HttpPeer:
    """``LivePeer`` over a gateway's peer API. The routes are authenticated like every peer
    request, so the auditor's command signs as an office: run it with that office gateway's
    ``--home`` (its keyring stays on that machine; docs/audit-log.md)."""

    def __init__(self, base_url: str, keyring: Any, directory: Directory,
                 timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.keyring = keyring
        self.directory = directory  # says whether requests are version 1 or 2
        self.timeout = timeout

    def _get(self, office: str, path_qs: str) -> str:
        signed = peerrequest.sign(self.keyring, self.directory, method="GET", path_qs=path_qs,
                                  destination=office, body=b"", now_ms=int(time.time() * 1000))
        req = urllib.request.Request(self.base_url + path_qs,  # noqa: S310
                                     headers=signed.headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return bytes(resp.read(64 * 1024)).decode("utf-8")
        except urllib.error.HTTPError as e:
            raise RemoteError("HTTP_ERROR", f"{self.base_url} answered HTTP {e.code}",
                              e.code) from None
        except (urllib.error.URLError, TimeoutError, OSError, UnicodeDecodeError) as e:
            raise PeerUnavailable(f"cannot reach {self.base_url}: {e}") from e

    def checkpoint(self, office: str) -> str:
        return self._get(office, "/peer/v1/audit/checkpoint")

    def consistency(self, office: str, old: int, new: int) -> list[bytes]:
        text = self._get(office, f"/peer/v1/audit/consistency?old={old}&new={new}")
        try:
            return [base64.b64decode(x, validate=True) for x in text.split()[:64]]
        except binascii.Error as e:
            raise Malformed("consistency proof is not base64") from e

    def inclusion(self, office: str, index: int, size: int) -> tuple[bytes, list[bytes]]:
        text = self._get(office, f"/peer/v1/audit/inclusion?index={index}&size={size}")
        try:
            data = json.loads(text)
            return (str(data["leaf"]).encode("ascii"),
                    [base64.b64decode(x, validate=True) for x in data["proof"][:64]])
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            raise Malformed("inclusion proof answer is not valid") from e
