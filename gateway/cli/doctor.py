"""``doctor``: check a gateway home and print what to fix.

Each check prints one line, ``ok`` or ``FIX``, with what was found and, when something is
wrong, what to do; the exit status is 0 when every check passed and 1 otherwise. The checks
use the same code the gateway runs:

* permissions — ``secure_home`` (home and ``private/`` 0700, keyring and SQLite files 0600);
* configuration — the typed check of ``config check`` and the files it names;
* database — reachable, and its schema revision equals this code's (``migrate --check``);
* directory — verifies against the pinned roots, and does not expire within
  ``directory_warn_days`` (the trust keeper's warning, and the alert rule's 14 days);
* clock skew — a signed ``/peer/v1/ping`` to every peer (as the gateway's pinger does):
  the peer answers, and its clock is within ``max_skew_ms`` / 2 of ours;
* fonts — the PDF fonts ``views/pdf.py`` uses are installed.

It changes nothing, and may run while the gateway is running.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol.errors import GatewayError

if TYPE_CHECKING:
    from gateway.node.config import Config
    from gateway.protocol.identity import Directory, Keyring

__all__ = ["cmd_doctor", "doctor"]

DAY_MS = 24 * 3600 * 1000
Finding = tuple[str, bool, str]  # (check, passed, what was found / what to fix)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _permissions(cfg: Config) -> Finding:
    from gateway.node.home import secure_home

    try:
        secure_home(cfg)
    except GatewayError as e:
        return ("permissions", False, e.message)
    return ("permissions", True, "home, private/, keyring and database are owner-only")


def _configuration(home: Path) -> tuple[Finding, Config | None]:
    from gateway.node.config import FILE_SETTINGS, config_problems, load_config

    problems = config_problems(home)
    if problems:
        return ("configuration", False, "; ".join(problems)
                + " (fix gateway.toml; see blo-gateway config check)"), None
    cfg = load_config(home)
    for key in FILE_SETTINGS:
        value = getattr(cfg, key)
        if value and not cfg.path(value).is_file():
            problems.append(f"{key} = {value!r}: no such file {cfg.path(value)}")
    if problems:
        return ("configuration", False, "; ".join(problems)), cfg
    return ("configuration", True, f"{home / 'gateway.toml'} is valid"), cfg


def _database(cfg: Config) -> Finding:
    from gateway.node.home import sqlite_path
    from gateway.store import make_engine, schema_revision

    db = sqlite_path(cfg)
    if db is not None and not db.exists():
        return ("database", False, f"{db}: no database yet; run blo-gateway migrate --home "
                                   f"{cfg.home} (or start the gateway)")
    try:
        engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
        try:
            before, head, _ = schema_revision(engine)
        finally:
            engine.dispose()
    except GatewayError as e:
        return ("database", False, f"cannot read the database: {e.message}")
    except Exception as e:  # noqa: BLE001 - any driver error: the database is unreachable
        return ("database", False, f"cannot reach the database ({type(e).__name__}); check "
                                   "database_url and that the server runs")
    if before != head:
        return ("database", False, f"schema revision {before or 'none'}, this code needs "
                                   f"{head}: back up, then blo-gateway migrate --home "
                                   f"{cfg.home}")
    return ("database", True, f"reachable, schema revision {head}")


def _directory(cfg: Config) -> tuple[Finding, Directory | None]:
    from gateway.protocol.identity import Directory, TrustRoots
    from gateway.protocol.localtime import iso_time

    now = _now_ms()
    try:
        d = Directory.verify(cfg.path(cfg.directory).read_bytes(),
                             TrustRoots.load(cfg.path(cfg.roots)), now_ms=now)
    except (GatewayError, OSError) as e:
        msg = e.message if isinstance(e, GatewayError) else str(e)
        return ("directory", False, f"{cfg.path(cfg.directory)}: {msg}; install a newer "
                                    "co-signed directory (blo-gateway directory install)"), None
    left = d.expires_at_ms - now
    if left < cfg.directory_warn_days * DAY_MS:
        return ("directory", False, f"serial {d.serial} expires in {left / DAY_MS:.1f} days "
                                    f"({iso_time(d.expires_at_ms)}); build, co-sign and "
                                    "install a newer one"), d
    return ("directory", True, f"serial {d.serial}, expires in {left / DAY_MS:.0f} days"), d


def ping_peer(keyring: Keyring, directory: Directory, peer: str, url: str, *,
              timeout: float = 5.0, max_skew_ms: int = 300_000) -> int:
    """Our clock's skew against ``peer`` in ms (its clock minus ours), by a signed ping;
    raises ``GatewayError`` or ``OSError`` when the peer does not answer properly (a
    suite-2 peer's answer must be signed: docs/wire-format.md §15)."""
    from gateway.protocol import peerrequest

    path = "/peer/v1/ping"
    t0 = _now_ms()
    signed = peerrequest.sign(keyring, directory, method="GET", path_qs=path, destination=peer,
                              body=b"", now_ms=t0)
    req = urllib.request.Request(url.rstrip("/") + path, headers=signed.headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read(64 * 1024)
            if signed.version >= 2 and not peerrequest.answer_verified(
                    signed, status=resp.status, headers=resp.headers, body=raw,
                    directory=directory, now_ms=_now_ms(), max_skew_ms=max_skew_ms):
                raise GatewayError("the ping answer of a suite-2 peer is not signed by it")
            data = json.loads(raw)
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read(64 * 1024))
            raise GatewayError(f"{body.get('code')}: {body.get('message')}") from None
        except (ValueError, AttributeError):
            raise GatewayError(f"HTTP {e.code}") from None
    t1 = _now_ms()
    try:
        return int(data["time_ms"]) - (t0 + t1) // 2
    except (KeyError, TypeError, ValueError) as e:
        raise GatewayError("the ping answer has no time_ms") from e


def _clock(cfg: Config, d: Directory) -> list[Finding]:
    from gateway.protocol.identity import Keyring

    try:
        keyring = Keyring.load(cfg.path(cfg.keyring))
    except (GatewayError, OSError) as e:
        msg = e.message if isinstance(e, GatewayError) else str(e)
        return [("clock skew", False, f"cannot load the keyring to sign pings: {msg}")]
    out: list[Finding] = []
    limit = cfg.max_skew_ms // 2
    for office in sorted(d.offices.values(), key=lambda o: o.office_id):
        url = cfg.peer_urls.get(office.office_id) or office.endpoint
        if office.office_id == cfg.office_id or not url:
            continue
        name = f"clock skew {office.office_id}"
        try:
            skew = ping_peer(keyring, d, office.office_id, url, max_skew_ms=cfg.max_skew_ms)
        except (GatewayError, OSError) as e:
            msg = e.message if isinstance(e, GatewayError) else f"{type(e).__name__}: {e}"
            out.append((name, False, f"{url} did not answer the signed ping ({msg}); check "
                                     "the network, its endpoint and that it runs"))
            continue
        if abs(skew) > limit:
            out.append((name, False, f"its clock is {skew / 1000:+.1f} s from ours (limit "
                                     f"{limit / 1000:.0f} s); synchronise with NTP "
                                     "(timedatectl status)"))
        else:
            out.append((name, True, f"{skew / 1000:+.2f} s"))
    return out


def _fonts() -> Finding:
    from gateway.views.pdf import FONT_PATHS

    missing = [kind for kind, paths in FONT_PATHS.items()
               if not any(Path(p).is_file() for p in paths)]
    if missing:
        return ("fonts", False, f"no PDF font for {', '.join(missing)}: apt-get install "
                                "fonts-dejavu-core fonts-wqy-microhei")
    return ("fonts", True, "DejaVu Sans and a CJK font are installed")


def doctor(home: Path) -> list[Finding]:
    """Every check's finding, in order; later checks are skipped when the config is broken."""
    cfg_finding, cfg = _configuration(home)
    findings = []
    if cfg is not None:
        findings.append(_permissions(cfg))
    findings.append(cfg_finding)
    if cfg is not None:
        findings.append(_database(cfg))
        dir_finding, d = _directory(cfg)
        findings.append(dir_finding)
        if d is not None:
            findings += _clock(cfg, d)
    findings.append(_fonts())
    return findings


def cmd_doctor(a: argparse.Namespace) -> int:
    findings = doctor(Path(a.home))
    for name, passed, text in findings:
        print(f"{'ok ' if passed else 'FIX'}  {name}: {text}")
    bad = sum(1 for _, passed, _ in findings if not passed)
    if bad:
        print(f"{bad} problem(s) to fix")
        return 1
    print("all checks passed")
    return 0
