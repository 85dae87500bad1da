"""A small synchronous client of the officer API, for the CLI, the demo and scripts.

Requests that create a message (``send``, ``forward``, ``countersign``) carry an
``Idempotency-Key`` (random per call unless given) and are retried under that same key when
the connection breaks or the gateway answers 503: a retry never makes a second message.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from gateway.node.config import load_config
from gateway.protocol.errors import ConfigError, PeerUnavailable, RemoteError

__all__ = ["OfficerClient"]


#: Attempts of a keyed request, and the pause before each retry (doubling, seconds).
ATTEMPTS = 6
FIRST_PAUSE_S = 0.25
MAX_PAUSE_S = 5.0


def new_idempotency_key() -> str:
    """A fresh random key (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


class OfficerClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0,
                 attempts: int = ATTEMPTS) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.attempts = attempts
        #: The replay flag of the last keyed answer (``Idempotent-Replayed``).
        self.last_replayed: bool | None = None
        #: The ``BLO-Courier`` header of the last answer (a courier bundle's summary).
        self.last_courier: str | None = None
        #: Why keyed requests were retried, counted: ``"503 <code>"`` or ``"connection"``
        #: (and ``"503 without Retry-After"`` when the gateway gave no hint).
        self.retried: Counter[str] = Counter()

    @classmethod
    def for_home(cls, home: Path, user: str) -> OfficerClient:
        """The API of the gateway in ``home``, as ``user`` (token from private/tokens/)."""
        cfg = load_config(home)
        token_file = home / "private" / "tokens" / f"{user}.token"
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(f"no token for {user}; run blo-gateway users add --home {home} "
                              f"--name {user}") from None
        host = "127.0.0.1" if cfg.api_host in ("0.0.0.0", "") else cfg.api_host  # noqa: S104
        return cls(f"http://{host}:{cfg.api_port}", token)

    @classmethod
    def connect(cls, *, home: str | None, user: str, api: str | None,
                token_file: str | None) -> OfficerClient:
        """The client the usual options name: ``--api URL`` with ``--token-file`` (or the
        ``BLO_TOKEN`` environment variable), else ``--home DIR`` as ``--user``."""
        if api:
            token = os.environ.get("BLO_TOKEN", "")
            if token_file:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            if not token:
                raise ConfigError("give --token-file or set BLO_TOKEN")
            return cls(api, token)
        if not home:
            raise ConfigError("give --home DIR (with --user) or --api URL")
        return cls.for_home(Path(home), user)

    def raw(self, path: str) -> bytes:
        """GET returning the body as bytes (PDFs)."""
        return self._request("GET", path, None)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        return json.loads(self._request(method, path, data))

    def _request(self, method: str, path: str, data: bytes | None,
                 content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> bytes:
        req = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310
        req.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                body = bytes(resp.read())
                replayed = resp.headers.get("Idempotent-Replayed")
                self.last_replayed = None if replayed is None else replayed == "true"
                self.last_courier = resp.headers.get("BLO-Courier")
                return body
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())
                remote = RemoteError(str(err["code"]), str(err["message"]), e.code)
            except (ValueError, KeyError, OSError, http.client.HTTPException):
                remote = RemoteError("HTTP_ERROR", f"HTTP {e.code}", e.code)
            remote.retry_after = e.headers.get("Retry-After")  # type: ignore[attr-defined]
            raise remote from None
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as e:
            raise PeerUnavailable(f"cannot reach the gateway at {self.base_url}: {e}") from e

    def _keyed(self, path: str, body: Any, key: str | None) -> Any:
        """POST ``body`` under an Idempotency-Key, retrying under the same key while the
        connection breaks or the gateway answers 503 (a retry never makes a second message)."""
        key = key or new_idempotency_key()
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        pause = FIRST_PAUSE_S
        for attempt in range(1, self.attempts + 1):
            try:
                return json.loads(self._request("POST", path, data,
                                                headers={"Idempotency-Key": key}))
            except PeerUnavailable:
                if attempt == self.attempts:
                    raise
                self.retried["connection"] += 1
            except RemoteError as e:
                if e.status != 503 or attempt == self.attempts:
                    raise
                self.retried[f"503 {e.remote_code}"] += 1
                hint = getattr(e, "retry_after", None)
                if not hint:
                    self.retried["503 without Retry-After"] += 1
                if hint and hint.isdigit():
                    pause = max(pause, float(hint))
            time.sleep(min(pause, MAX_PAUSE_S))
            pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, to: list[str], payload: dict[str, Any],
             idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a message; retried under one Idempotency-Key (random unless given)."""
        result: dict[str, Any] = self._keyed("/api/v1/messages",
                                             {"to": to, "payload": payload}, idempotency_key)
        return result

    def forward(self, message_id: str, to: list[str],
                idempotency_key: str | None = None) -> dict[str, Any]:
        """Forward a received message (released copy); keyed and retried like ``send``."""
        result: dict[str, Any] = self._keyed(f"/api/v1/inbox/{message_id}/forward",
                                             {"to": to}, idempotency_key)
        return result

    def countersign(self, record_id: str, idempotency_key: str | None = None
                    ) -> dict[str, Any]:
        """Countersign a received handover record; keyed and retried like ``send``."""
        result: dict[str, Any] = self._keyed(f"/api/v1/records/{record_id}/countersign", {},
                                             idempotency_key)
        return result

    def status(self, message_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/messages/{message_id}")
        return result

    def sent(self, limit: int = 100) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "GET", f"/api/v1/messages?limit={limit}")["messages"]
        return result

    def inbox(self, limit: int = 100) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET",
                                                  f"/api/v1/inbox?limit={limit}")["messages"]
        return result

    def show(self, message_id: str, lang: str = "both") -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/inbox/{message_id}?lang={lang}")
        return result

    def cases(self, query: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/api/v1/cases" + query)
        return result

    def stats(self, start: str, end: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/stats?from={start}&to={end}")
        return result

    def install_directory(self, signed: bytes) -> dict[str, Any]:
        """Install a co-signed directory into the running gateway (admin token)."""
        result: dict[str, Any] = json.loads(self._request(
            "PUT", "/api/v1/directory", signed, "application/octet-stream"))
        return result

    def courier_export(self, to: str, max_bytes: int | None = None
                       ) -> tuple[bytes, dict[str, Any]]:
        """The next courier bundle for ``to`` and its summary (admin token)."""
        body: dict[str, Any] = {"to": to}
        if max_bytes is not None:
            body["max_bytes"] = max_bytes
        data = self._request("POST", "/api/v1/courier/export", json.dumps(body).encode())
        summary: dict[str, Any] = json.loads(self.last_courier or "{}")
        return data, summary

    def courier_import(self, bundle: bytes) -> dict[str, Any]:
        """Import a courier bundle into the running gateway (admin token)."""
        result: dict[str, Any] = json.loads(self._request(
            "POST", "/api/v1/courier/import", bundle, "application/octet-stream"))
        return result

    def install_roots(self, root_set: bytes, signed: bytes) -> dict[str, Any]:
        """Install a root rotation and the first directory its new roots signed (admin)."""
        import base64

        body = json.dumps({"root_set": base64.b64encode(root_set).decode("ascii"),
                           "directory": base64.b64encode(signed).decode("ascii")}).encode()
        result: dict[str, Any] = json.loads(self._request("PUT", "/api/v1/roots", body,
                                                          "application/json"))
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result
