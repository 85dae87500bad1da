"""A small synchronous client of the officer API, for the CLI, the demo and scripts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gateway.node.config import load_config
from gateway.protocol.errors import ConfigError, PeerUnavailable, RemoteError

__all__ = ["OfficerClient"]


class OfficerClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

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

    def raw(self, path: str) -> bytes:
        """GET returning the body as bytes (PDFs)."""
        return self._request("GET", path, None)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        return json.loads(self._request(method, path, data))

    def _request(self, method: str, path: str, data: bytes | None,
                 content_type: str = "application/json") -> bytes:
        req = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())
                raise RemoteError(str(err["code"]), str(err["message"]), e.code) from None
            except (ValueError, KeyError):
                raise RemoteError("HTTP_ERROR", f"HTTP {e.code}", e.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise PeerUnavailable(f"cannot reach the gateway at {self.base_url}: {e}") from e

    def send(self, to: list[str], payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/api/v1/messages",
                                            {"to": to, "payload": payload})
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

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result
