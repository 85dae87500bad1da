"""``keys`` and ``directory``: office and root keys, the co-signed trust directory."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol.errors import ConfigError
from gateway.protocol.identity import (
    ROLES,
    Keyring,
    RootSigner,
    TrustRoots,
    build_directory,
    fingerprint,
    office_from_json,
    office_to_json,
    sign_directory,
)
from gateway.protocol.localtime import office_zone

if TYPE_CHECKING:
    pass
from gateway.cli._common import DAY_MS, _load_directory, _now_ms

__all__ = ["cmd_directory_build", "cmd_directory_install", "cmd_directory_show",
           "cmd_directory_sign", "cmd_directory_verify", "cmd_keys_create", "cmd_keys_root_create",
           "cmd_keys_rotate", "cmd_keys_show"]


def cmd_keys_create(a: argparse.Namespace) -> int:
    ring = Keyring.generate(a.office, now_ms=_now_ms(), valid_ms=a.valid_days * DAY_MS,
                            post_quantum=a.post_quantum)
    entry = ring.public_office(country=a.country, name_vi=a.name_vi, name_zh=a.name_zh,
                               role=a.role, endpoint=a.endpoint, time_zone=a.time_zone)
    private = Path(a.private)
    ring.save(private)
    Path(a.public).write_text(office_to_json(entry), encoding="utf-8")
    print(f"office {a.office}: private keyring {private} (mode 600), public entry {a.public}"
          f"; suites {', '.join(map(str, ring.suites))}")
    _print_keys(entry.keys)
    return 0


def cmd_keys_rotate(a: argparse.Namespace) -> int:
    path = Path(a.keyring)
    ring = Keyring.load(path).rotate(now_ms=_now_ms(), valid_ms=a.valid_days * DAY_MS,
                                     overlap_ms=a.overlap_days * DAY_MS,
                                     post_quantum=True if a.post_quantum else None)
    tmp = path.with_name(path.name + ".new")
    ring.save(tmp)
    os.replace(tmp, path)
    old = office_from_json(Path(a.public).read_text(encoding="utf-8"))
    entry = ring.public_office(country=old.country, name_vi=old.name.vi, name_zh=old.name.zh,
                               role=_role_name(old.role), endpoint=old.endpoint,
                               time_zone=old.time_zone)
    Path(a.public).write_text(office_to_json(entry), encoding="utf-8")
    print(f"office {ring.office_id}: new keys added; old keys valid {a.overlap_days} more days"
          f"; suites {', '.join(map(str, ring.suites))}")
    _print_keys(entry.keys)
    return 0


def _role_name(role: int) -> str:
    return ROLES[role - 1] if 0 < role <= len(ROLES) else "liaison_office"


def cmd_keys_root_create(a: argparse.Namespace) -> int:
    signer = RootSigner.generate(a.country, post_quantum=a.post_quantum)
    signer.save(Path(a.private))
    roots_path = Path(a.roots)
    existing = (TrustRoots.load(roots_path, require_both=False).roots
                if roots_path.exists() else ())
    if any(r.country == a.country for r in existing):
        raise ConfigError(f"{roots_path} already holds a {a.country} root; to replace it, "
                          "write the new root to a file of its own (--roots new-root.json) "
                          "and rotate: blo-gateway roots build (deploy/README.md)")
    roots = TrustRoots((*existing, signer.root_key(a.name_vi, a.name_zh)))
    roots_path.write_text(roots.to_json(), encoding="utf-8")
    print(f"root key {signer.key_id} ({a.country}): private {a.private} (mode 600); "
          f"public added to {roots_path}")
    print(f"  fingerprint {fingerprint(signer.public_key)}")
    if signer.post_quantum:
        print(f"  hybrid: ML-DSA-65 half {signer.pq_key_id}")
        print(f"  fingerprint {fingerprint(signer.pq_public_key)}")
    return 0


def cmd_keys_show(a: argparse.Namespace) -> int:
    if a.keyring:
        ring = Keyring.load(Path(a.keyring))
        print(f"office {ring.office_id} (private keyring; secrets not shown)")
        _print_keys([k.to_public() for k in ring.keys])
    else:
        entry = office_from_json(Path(a.office_file).read_text(encoding="utf-8"))
        print(f"office {entry.office_id} — {entry.name.vi} / {entry.name.zh}")
        _print_keys(entry.keys)
    return 0


def _print_keys(keys: Sequence[object]) -> None:
    from gateway.views.render import iso_time

    for k in keys:
        print(f"  {k.key_id}")  # type: ignore[attr-defined]
        print(f"    valid {iso_time(k.not_before_ms)} .. {iso_time(k.not_after_ms)}")  # type: ignore[attr-defined]
        print(f"    fingerprint {fingerprint(k.public_key)}")  # type: ignore[attr-defined]


def cmd_directory_build(a: argparse.Namespace) -> int:
    offices = [office_from_json(Path(f).read_text(encoding="utf-8")) for f in a.office]
    now = _now_ms()
    revs = []
    for r in a.revoke or []:
        kid, _, reason = r.partition("=")
        revs.append((kid, now, reason or "revoked"))
    data = build_directory(offices, serial=a.serial, issued_at_ms=now,
                           expires_at_ms=now + a.valid_days * DAY_MS, revocations=revs)
    Path(a.out).write_bytes(data)
    print(f"unsigned directory serial {a.serial} with {len(offices)} offices: {a.out}; "
          "now sign it with both root keys (blo-gateway directory sign)")
    return 0


def cmd_directory_sign(a: argparse.Namespace) -> int:
    signer = RootSigner.load(Path(a.root_key))
    data = sign_directory(Path(a.file).read_bytes(), signer)
    Path(a.out or a.file).write_bytes(data)
    print(f"signed by {signer.country} root {signer.key_id}: {a.out or a.file}")
    return 0


def cmd_directory_verify(a: argparse.Namespace) -> int:
    d = _load_directory(Path(a.file), Path(a.roots))
    print(f"directory serial {d.serial}: signatures of VN and CN roots verify; "
          f"{len(d.offices)} offices, {len(d.revoked)} revoked keys")
    return 0


def cmd_directory_show(a: argparse.Namespace) -> int:
    d = _load_directory(Path(a.file), Path(a.roots))
    if a.json:
        print(json.dumps(d.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"directory serial {d.serial} (verified, 2-of-2)")
    for o in d.offices.values():
        print(f"{o.office_id}  [{o.country}, {o.role}]  {o.name_vi} / {o.name_zh}")
        if o.endpoint:
            print(f"  endpoint {o.endpoint}")
        print(f"  time zone {office_zone(o).key}" + ("" if o.time_zone else " (country default)"))
        print(f"  suites {', '.join(map(str, o.suites))}")
        for k in o.keys:
            state = " REVOKED" if k.key_id in d.revoked else ""
            print(f"  {k.key_id}{state}\n    fingerprint {fingerprint(k.public_key)}")
    return 0


def cmd_directory_install(a: argparse.Namespace) -> int:
    import socket

    from gateway.cli.client import OfficerClient
    from gateway.node.config import load_config

    home = Path(a.home)
    cfg = load_config(home)
    data = Path(a.file).read_bytes()
    root_set = Path(a.root_set).read_bytes() if a.root_set else None
    host = "127.0.0.1" if cfg.api_host in ("0.0.0.0", "") else cfg.api_host  # noqa: S104
    try:  # is the gateway running? (its officer API accepts connections)
        socket.create_connection((host, cfg.api_port), timeout=2).close()
        running = True
    except OSError:
        running = False
    if running:
        client = OfficerClient.for_home(home, a.user)
        res = (client.install_directory(data) if root_set is None
               else client.install_roots(root_set, data))
        if root_set is not None:
            print(f"trust roots version {res['roots_version']} in force")
        if not res["installed"]:
            print(f"directory serial {res['serial']} is already installed; nothing changed")
            return 0
        print(f"directory serial {res['serial']} installed in the running gateway "
              f"(was {res['previous_serial']}) and offered to its peers; "
              f"{len(res['revoked_keys'])} revoked keys")
        return 0
    from gateway.node.trust import install_offline

    d, previous = install_offline(cfg, data, now_ms=_now_ms(), root_set=root_set)
    if root_set is not None:
        roots = TrustRoots.load(cfg.path(cfg.roots))
        print(f"trust roots version {roots.version} in force in {home}")
    print(f"directory serial {d.serial} installed in {home} (held before: {previous or '-'}); "
          "the gateway is not running: it takes effect when it starts")
    return 0
