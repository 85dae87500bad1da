"""Gateway configuration: one TOML file, ``<home>/gateway.toml``, with documented defaults.

Relative paths are relative to the home folder. Every key is optional except
``office_id``; ``blo-gateway init`` writes a complete file with comments.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

__all__ = ["Config", "load_config", "render_config"]


@dataclass(frozen=True)
class Config:
    """Settings of one gateway. Field comments are the documentation ``init`` writes out."""

    home: Path
    #: This gateway's office id (must be in the directory, with our keys).
    office_id: str
    #: Peer API (gateway <-> gateway): listen address.
    peer_host: str = "127.0.0.1"
    peer_port: int = 8443
    #: Officer API (local JSON, token per user): listen address. Keep it on loopback or a
    #: private network; put a TLS reverse proxy in front for remote officers.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    #: SQLAlchemy URL; default: SQLite file in the home folder (WAL mode).
    database_url: str = ""
    #: PostgreSQL only: the schema for this gateway's tables (several gateways may share a
    #: database); empty: the server's default search path.
    database_schema: str = ""
    keyring: str = "private/keyring.json"
    directory: str = "directory.bin"
    roots: str = "roots.json"
    #: TLS for the peer API: server certificate and key (PEM). Empty: plain HTTP (only
    #: behind a TLS-terminating reverse proxy, see deploy/README.md).
    tls_cert: str = ""
    tls_key: str = ""
    #: CA bundle to verify peers' TLS certificates; empty: the system store.
    tls_ca: str = ""
    #: Override peer endpoints from the directory: {"cn.yunnan.hekou.blo": "https://..."}.
    peer_urls: dict[str, str] = field(default_factory=dict)
    #: Answer deadlines in hours by "<type>.<priority>", overriding the defaults of
    #: gateway/workflow.py, e.g. {"identification_request.urgent" = 12}.
    deadline_hours: dict[str, float] = field(default_factory=dict)
    #: Largest peer request body (a batch of envelopes), bytes.
    max_request_bytes: int = 16 * 1024 * 1024
    #: Largest single envelope, bytes.
    max_envelope_bytes: int = 8 * 1024 * 1024
    #: Envelopes per delivery request.
    batch_size: int = 64
    #: Requests per second allowed from one peer, and the burst.
    peer_rate: float = 200.0
    peer_burst: int = 400
    #: Failed (unauthenticated) peer requests allowed per remote address per second, and the
    #: burst; past it the address is answered 429 ADDRESS_BLOCKED without further work.
    preauth_failure_rate: float = 2.0
    preauth_failure_burst: int = 50
    #: Peer requests without the BLO-Body-SHA256 header whose body may be read before
    #: authentication at the same time (older senders; ours always send the header).
    unauthenticated_reads: int = 4
    #: Open connections per listener, in total and from one remote address (IPv6: per /64).
    max_connections: int = 512
    max_connections_per_address: int = 64
    #: A connection must finish a request head within this many seconds, and is closed
    #: after this long idle; a request body must arrive within body_timeout_s.
    head_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    body_timeout_s: float = 60.0
    #: Accepted clock difference for request timestamps, ms.
    max_skew_ms: int = 300_000
    #: Retry backoff: first delay, cap, both ms; jitter is +-20 %.
    retry_base_ms: int = 500
    retry_cap_ms: int = 300_000
    #: Timeout of one delivery request, seconds.
    request_timeout_s: float = 30.0
    #: How often the audit log is checkpointed and sent to the peers to cosign, seconds.
    checkpoint_interval_s: float = 10.0
    #: Retention: after this many days a stored message's storage key is destroyed
    #: (crypto-shredding); its metadata and audit entries stay. 0 keeps messages forever.
    retention_days: float = 1825.0
    #: Lifetime given to envelopes this gateway seals, ms (30 days).
    message_ttl_ms: int = 30 * 24 * 3600 * 1000
    #: /health warns this many days before the trust directory expires (after it has
    #: expired the gateway refuses peer traffic and sealing until a newer one is installed).
    directory_warn_days: float = 14.0

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.home / p

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'gateway.db'}"


def load_config(home: Path) -> Config:
    path = home / "gateway.toml"
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run blo-gateway init --home {home}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e
    known = {f.name for f in fields(Config)} - {"home"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    if "office_id" not in data:
        raise ConfigError(f"{path}: office_id is required")
    try:
        return Config(home=home.resolve(), **data)
    except TypeError as e:
        raise ConfigError(f"{path}: {e}") from e


def render_config(cfg: Config) -> str:
    """The TOML text of a config, each setting with its comment."""
    import inspect

    src = inspect.getsource(Config)
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in src.splitlines():
        s = line.strip()
        if s.startswith("#:"):
            pending.append("#" + s[2:])
        elif ":" in s and not s.startswith(("#", '"', "def", "@", "return", "class")):
            name = s.split(":")[0]
            if pending:
                comments[name] = "\n".join(pending)
            pending = []
    out = ["# BLO Gateway configuration. Relative paths are relative to this folder.", ""]
    # Tables go last: in TOML every key after a [table] header belongs to it.
    ordered = sorted((f for f in fields(Config) if f.name != "home"),
                     key=lambda f: isinstance(getattr(cfg, f.name), dict))
    for f in ordered:
        value = getattr(cfg, f.name)
        if f.name in comments:
            out.append(comments[f.name])
        if isinstance(value, dict):
            out.append(f"[{f.name}]" if value else f"# [{f.name}]")
            out += [f'"{k}" = {_toml(v)}' for k, v in value.items()]
            continue
        out.append(f"{f.name} = {_toml(value)}")
    return "\n".join(out) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
