"""Gateway configuration: one TOML file, ``<home>/gateway.toml``, with documented defaults.

Relative paths are relative to the home folder. Every key is optional except
``office_id``; ``blo-gateway init`` writes a complete file with comments.

Nothing is read loosely: at load every key is checked against its annotation on
``Config`` — ``int`` (not a string, not a bool, not 5.0), ``float`` (an integer is
accepted), ``str``, ``bool``, ``dict[str, X]`` (a TOML table, each value checked as
``X``) — and against the ``Range``/``Check`` metadata of an ``Annotated`` annotation.
A number with no ``Range`` must be finite and not negative. Unknown keys are refused.
Every problem is reported (``config_problems``; ``blo-gateway config check``), each
naming the file, the key and what is allowed. A new field with a plain annotation is
checked by its type with no further code; give it ``Annotated[..., Range(...)]`` for
bounds.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from gateway.protocol.errors import ConfigError
from gateway.protocol.localtime import check_zone_name

__all__ = ["FILE_SETTINGS", "Check", "Config", "Range", "config_problems", "load_config",
           "render_config"]


@dataclass(frozen=True)
class Range:
    """Bounds of a number setting: ``lo <= x <= hi`` (``lo < x`` with ``above``)."""

    lo: float | None = None
    hi: float | None = None
    above: bool = False

    def ok(self, x: float) -> bool:
        if self.lo is not None and (x <= self.lo if self.above else x < self.lo):
            return False
        return self.hi is None or x <= self.hi

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            if self.above:
                return f"greater than {_num(self.lo)} and at most {_num(self.hi)}"
            return f"from {_num(self.lo)} to {_num(self.hi)}"
        if self.lo is not None:
            return f"{'greater than' if self.above else 'at least'} {_num(self.lo)}"
        return f"at most {_num(self.hi)}" if self.hi is not None else ""


@dataclass(frozen=True)
class Check:
    """A further test of a setting's value: ``test`` returns None or what is wrong."""

    test: Callable[[Any], str | None]


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _pattern(regex: str, allowed: str) -> Check:
    rx = re.compile(regex)
    return Check(lambda v: None if rx.fullmatch(v) else f"must be {allowed}")


def _zone(value: str) -> str | None:
    return None if value == "" else check_zone_name(value)


def _deadline_key(key: str) -> str | None:
    from gateway.protocol.workflow import DEFAULT_DEADLINE_HOURS, PRIORITY_NAMES

    mtype, _, prio = key.partition(".")
    if mtype in DEFAULT_DEADLINE_HOURS and prio in PRIORITY_NAMES:
        return None
    return (f"not a deadline; allowed: <type>.<{'|'.join(PRIORITY_NAMES)}>, type one of "
            f"{', '.join(DEFAULT_DEADLINE_HOURS)}")


_NOT_NEGATIVE = Range(0)
_PORT = Range(0, 65535)  # 0: any free port (tests)
_POSITIVE = Range(0, above=True)
_NON_EMPTY = _pattern(r"(?s).+", "a non-empty string")
_HOST = _pattern(r"[A-Za-z0-9_.:\-]+", "a host name or IP address")
_SCHEMA = _pattern(r"([a-z_][a-z0-9_]*)?", "lower-case letters, digits and _ (or empty)")
_URL = _pattern(r"https?://\S+", "an http:// or https:// URL")
_KEY_PATTERN = Check(_deadline_key)


@dataclass(frozen=True)
class Config:
    """Settings of one gateway. Field comments are the documentation ``init`` writes out."""

    home: Path
    #: This gateway's office id (must be in the directory, with our keys).
    office_id: Annotated[str, _NON_EMPTY]
    #: Peer API (gateway <-> gateway): listen address (port 0: any free port).
    peer_host: Annotated[str, _HOST] = "127.0.0.1"
    peer_port: Annotated[int, _PORT] = 8443
    #: Officer API (local JSON, token per user): listen address. Keep it on loopback or a
    #: private network; put a TLS reverse proxy in front for remote officers.
    api_host: Annotated[str, _HOST] = "127.0.0.1"
    api_port: Annotated[int, _PORT] = 8080
    #: SQLAlchemy URL; default: SQLite file in the home folder (WAL mode).
    database_url: str = ""
    #: PostgreSQL only: the schema for this gateway's tables (several gateways may share a
    #: database); empty: the server's default search path.
    database_schema: Annotated[str, _SCHEMA] = ""
    #: Upgrade an older database schema at start (and in the offline commands) instead of
    #: refusing it. Off: run `blo-gateway migrate --home ...` after a backup. The demo sets it.
    auto_migrate: bool = False
    keyring: Annotated[str, _NON_EMPTY] = "private/keyring.json"
    directory: Annotated[str, _NON_EMPTY] = "directory.bin"
    roots: Annotated[str, _NON_EMPTY] = "roots.json"
    #: TLS for the peer API: server certificate and key (PEM). Empty: plain HTTP (only
    #: behind a TLS-terminating reverse proxy, see deploy/README.md).
    tls_cert: str = ""
    tls_key: str = ""
    #: CA bundle to verify peers' TLS certificates; empty: the system store.
    tls_ca: str = ""
    #: Mutual TLS towards peers: the client certificate and key (PEM) this gateway presents
    #: when it connects to a peer (or the peer's reverse proxy, deploy/nginx/) that asks for
    #: one. Empty: no client certificate.
    tls_client_cert: str = ""
    tls_client_key: str = ""
    #: Override peer endpoints from the directory: {"cn.yunnan.hekou.blo": "https://..."}.
    peer_urls: dict[str, Annotated[str, _URL]] = field(default_factory=dict)
    #: Answer deadlines in hours by "<type>.<priority>", overriding the defaults of
    #: gateway/protocol/workflow.py, e.g. {"identification_request.urgent" = 12}.
    deadline_hours: Annotated[dict[str, Annotated[float, _POSITIVE]], _KEY_PATTERN] = field(
        default_factory=dict)
    #: Largest peer request body (a batch of envelopes), bytes.
    max_request_bytes: Annotated[int, Range(1024)] = 16 * 1024 * 1024
    #: Largest single envelope, bytes.
    max_envelope_bytes: Annotated[int, Range(1024)] = 8 * 1024 * 1024
    #: Envelopes per delivery request, at most 256 (a receiver refuses more: wire-format §11);
    #: fewer where they would not fit in ``max_request_bytes``.
    batch_size: Annotated[int, Range(1, 256)] = 128
    #: Delivery requests in flight to one peer at once: while the peer stores one batch,
    #: this gateway reads, frames and signs the next. A reply of ours never travels before
    #: the message it answers is delivered (``OutboxMixin.due``), whatever this is.
    batches_in_flight: Annotated[int, Range(1, 16)] = 2
    #: Requests per second allowed from one peer, and the burst.
    peer_rate: Annotated[float, _POSITIVE] = 200.0
    peer_burst: Annotated[int, Range(1)] = 400
    #: Failed (unauthenticated) peer requests allowed per remote address per second, and the
    #: burst; past it the address is answered 429 ADDRESS_BLOCKED without further work.
    preauth_failure_rate: Annotated[float, _POSITIVE] = 2.0
    preauth_failure_burst: Annotated[int, Range(1)] = 50
    #: Peer requests without the BLO-Body-SHA256 header whose body may be read before
    #: authentication at the same time (older senders; ours always send the header).
    unauthenticated_reads: Annotated[int, Range(1, 1000)] = 4
    #: Open connections per listener, in total and from one remote address (IPv6: per /64).
    max_connections: Annotated[int, Range(1, 100_000)] = 512
    max_connections_per_address: Annotated[int, Range(1, 100_000)] = 64
    #: A connection must finish a request head within this many seconds, and is closed
    #: after this long idle; a request body must arrive within body_timeout_s.
    head_timeout_s: Annotated[float, _POSITIVE] = 10.0
    idle_timeout_s: Annotated[float, _POSITIVE] = 60.0
    body_timeout_s: Annotated[float, _POSITIVE] = 60.0
    #: Accepted clock difference for request timestamps, ms.
    max_skew_ms: Annotated[int, Range(1000, 86_400_000)] = 300_000
    #: Retry backoff: first delay, cap, both ms; jitter is +-20 %. A peer's Retry-After is
    #: obeyed only within [retry_base_ms, retry_cap_ms].
    retry_base_ms: Annotated[int, Range(1)] = 500
    retry_cap_ms: Annotated[int, Range(1)] = 300_000
    #: Timeout of one delivery request, seconds.
    request_timeout_s: Annotated[float, _POSITIVE] = 30.0
    #: How often the audit log is checkpointed and sent to the peers to cosign, seconds.
    checkpoint_interval_s: Annotated[float, _POSITIVE] = 10.0
    #: How many peers cosign each checkpoint: the offices of the other country first (the
    #: auditor requires one of them), then ours; one that cannot is passed over for the next
    #: (``node/witness.py``). 0: every peer. With twenty offices, asking all nineteen each
    #: round would make witnessing grow with the square of the offices.
    witnesses: Annotated[int, Range(0, 10_000)] = 4
    #: PostgreSQL, several processes on one schema: how often a process renews its roles
    #: (delivery per peer, checkpointing) and tries those another process held, seconds.
    #: A process that dies is replaced within about this long (deploy/README.md).
    lease_interval_s: Annotated[float, Range(0.05, 60)] = 1.0
    #: Retention: after this many days a stored message's storage key is destroyed
    #: (crypto-shredding); its metadata and audit entries stay. 0 keeps messages forever.
    retention_days: float = 1825.0
    #: How long an Idempotency-Key of the officer API is remembered, hours (at least 24):
    #: within it, a request repeated with the same key is answered as the first time.
    idempotency_key_hours: Annotated[float, Range(24, 24 * 366)] = 24.0
    #: Web app sessions: one ends after this many minutes without a request (idle) and at
    #: the latest this many hours after its sign-in (absolute lifetime); the user signs in
    #: again.
    web_session_idle_minutes: Annotated[float, Range(0, 24 * 60, above=True)] = 30.0
    web_session_lifetime_hours: Annotated[float, Range(0, 7 * 24, above=True)] = 12.0
    #: Lifetime given to envelopes this gateway seals, ms (30 days; at most 90, see
    #: docs/wire-format.md §7).
    message_ttl_ms: Annotated[int, Range(60_000, 90 * 24 * 3600 * 1000)] = 30 * 24 * 3600 * 1000
    #: /health warns this many days before the trust directory expires (after it has
    #: expired the gateway refuses peer traffic and sealing until a newer one is installed).
    directory_warn_days: float = 14.0
    #: The office's time zone (IANA name, e.g. "Asia/Ho_Chi_Minh" or "Asia/Shanghai") for
    #: reporting periods, deadlines and times shown to people. Empty: the zone of the office's
    #: directory entry, else its country's (VN Asia/Ho_Chi_Minh, CN Asia/Shanghai).
    #: Stored and signed times are UTC either way.
    time_zone: Annotated[str, Check(_zone)] = ""

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.home / p

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'gateway.db'}"


#: settings that name a file (relative to the home): ``config check`` and ``doctor`` check
#: that each one given exists
FILE_SETTINGS = ("keyring", "directory", "roots", "tls_cert", "tls_key", "tls_ca",
                 "tls_client_cert", "tls_client_key")

#: settings that only make sense together: (keys, test on the merged values, what is allowed)
_RELATIONS: tuple[tuple[tuple[str, ...], Callable[[dict[str, Any]], bool], str], ...] = (
    (("retry_base_ms", "retry_cap_ms"), lambda v: v["retry_base_ms"] <= v["retry_cap_ms"],
     "retry_base_ms must not exceed retry_cap_ms"),
    (("web_session_idle_minutes", "web_session_lifetime_hours"),
     lambda v: v["web_session_idle_minutes"] <= v["web_session_lifetime_hours"] * 60,
     "web_session_idle_minutes must not exceed web_session_lifetime_hours (in minutes)"),
    (("max_envelope_bytes", "max_request_bytes"),
     lambda v: v["max_envelope_bytes"] <= v["max_request_bytes"],
     "max_envelope_bytes must not exceed max_request_bytes"),
    (("tls_cert", "tls_key"), lambda v: bool(v["tls_cert"]) == bool(v["tls_key"]),
     "tls_cert and tls_key are given together or not at all"),
    (("tls_client_cert", "tls_client_key"),
     lambda v: bool(v["tls_client_cert"]) == bool(v["tls_client_key"]),
     "tls_client_cert and tls_client_key are given together or not at all"),
)


@cache
def _hints() -> dict[str, Any]:
    return get_type_hints(Config, include_extras=True)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the string {_toml(value)}"
    if isinstance(value, bool):
        return f"the boolean {_toml(value)}"
    return f"{type(value).__name__} {value!r}" if not isinstance(value, int | float) else repr(
        value)


def _convert(key: str, value: Any, hint: Any) -> tuple[Any, list[str]]:
    """``value`` checked against annotation ``hint``: (converted value, problems)."""
    meta: list[Any] = []
    if get_origin(hint) is Annotated:
        hint, *meta = get_args(hint)
    rng = next((m for m in meta if isinstance(m, Range)), None)
    checks = [m for m in meta if isinstance(m, Check)]
    origin = get_origin(hint)
    if origin is dict:
        _, item_hint = get_args(hint)
        if not isinstance(value, dict):
            return value, [f"{key} is {_shown(value)}; allowed: a table of settings"]
        out: dict[str, Any] = {}
        problems: list[str] = []
        for k, v in value.items():
            out[k], more = _convert(f'{key}."{k}"', v, item_hint)
            problems += more
            for c in checks:
                problem = c.test(k)
                if problem:
                    problems.append(f'{key}."{k}": {problem}')
        return out, problems
    if hint is bool:
        ok, what = isinstance(value, bool), "true or false"
    elif hint is int:
        rng = rng or _NOT_NEGATIVE
        ok = isinstance(value, int) and not isinstance(value, bool) and rng.ok(value)
        what = f"an integer {rng.describe()}"
    elif hint is float:
        rng = rng or _NOT_NEGATIVE
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) and rng.ok(value))
        what = f"a number {rng.describe()}"
        value = float(value) if ok else value
    elif hint is str:
        ok, what = isinstance(value, str), "a string"
    else:  # a field type this checker does not know: a programming error, caught by a test
        raise TypeError(f"Config.{key}: no check for annotation {hint!r}")
    if not ok:
        return value, [f"{key} = {_shown(value)}; allowed: {what.strip()}"]
    problems = [f"{key} = {_shown(value)}: {p}" for c in checks if (p := c.test(value))]
    return value, problems


def _check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The settings converted to their types, and every problem found."""
    problems: list[str] = []
    known = {f.name: f for f in fields(Config) if f.name != "home"}
    for key in sorted(set(data) - set(known)):
        problems.append(f"unknown setting {key}; allowed: {', '.join(sorted(known))}")
    if "office_id" not in data:
        problems.append("office_id is required")
    out: dict[str, Any] = {}
    for key in known:
        if key in data:
            out[key], more = _convert(key, data[key], _hints()[key])
            problems += more
    if not problems:
        merged = {k: out[k] if k in out else _default(f) for k, f in known.items()}
        problems += [msg for _, test, msg in _RELATIONS if not test(merged)]
    return out, problems


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run blo-gateway init --home "
                          f"{path.parent}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e


def config_problems(home: Path) -> list[str]:
    """Every problem of ``<home>/gateway.toml``, each starting with the file name; [] if none."""
    path = home / "gateway.toml"
    try:
        data = _read(path)
    except ConfigError as e:
        return [e.message]
    return [f"{path}: {p}" for p in _check(data)[1]]


def load_config(home: Path) -> Config:
    """The checked configuration; ConfigError lists every problem of the file."""
    path = home / "gateway.toml"
    values, problems = _check(_read(path))
    if problems:
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))
    return Config(home=home.resolve(), **values)


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
