"""``blo-gateway``: one command with sub-commands.

Every sub-command prints a human-readable result; errors print
``error <CODE>: <explanation>`` on stderr and exit with status 2 (the codes are
those of ``gateway.errors``). Run ``blo-gateway <command> --help`` for details.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gateway import envelope
from gateway.errors import ConfigError, GatewayError, RemoteError
from gateway.identity import (
    ROLES,
    Directory,
    Keyring,
    RootSigner,
    TrustRoots,
    build_directory,
    fingerprint,
    office_from_json,
    office_to_json,
    sign_directory,
)
from gateway.localtime import UTC_ZONE, local_time, office_zone, party_zones, zone_named
from gateway.messages import Payload
from gateway.render import LANGS, render, render_header

if TYPE_CHECKING:
    from gateway.client import OfficerClient

__all__ = ["main"]

DAY_MS = 24 * 3600 * 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _load_directory(path: Path, roots: Path) -> Directory:
    return Directory.verify(path.read_bytes(), TrustRoots.load(roots), now_ms=_now_ms())


def _office_names(d: Directory) -> dict[str, tuple[str, str]]:
    return {o.office_id: (o.name_vi, o.name_zh) for o in d.offices.values()}


# --------------------------------------------------------------------------- keys


def cmd_keys_create(a: argparse.Namespace) -> int:
    ring = Keyring.generate(a.office, now_ms=_now_ms(), valid_ms=a.valid_days * DAY_MS)
    entry = ring.public_office(country=a.country, name_vi=a.name_vi, name_zh=a.name_zh,
                               role=a.role, endpoint=a.endpoint, time_zone=a.time_zone)
    private = Path(a.private)
    ring.save(private)
    Path(a.public).write_text(office_to_json(entry), encoding="utf-8")
    print(f"office {a.office}: private keyring {private} (mode 600), public entry {a.public}")
    _print_keys(entry.keys)
    return 0


def cmd_keys_rotate(a: argparse.Namespace) -> int:
    path = Path(a.keyring)
    ring = Keyring.load(path).rotate(now_ms=_now_ms(), valid_ms=a.valid_days * DAY_MS,
                                     overlap_ms=a.overlap_days * DAY_MS)
    tmp = path.with_name(path.name + ".new")
    ring.save(tmp)
    os.replace(tmp, path)
    old = office_from_json(Path(a.public).read_text(encoding="utf-8"))
    entry = ring.public_office(country=old.country, name_vi=old.name.vi, name_zh=old.name.zh,
                               role=_role_name(old.role), endpoint=old.endpoint,
                               time_zone=old.time_zone)
    Path(a.public).write_text(office_to_json(entry), encoding="utf-8")
    print(f"office {ring.office_id}: new keys added; old keys valid {a.overlap_days} more days")
    _print_keys(entry.keys)
    return 0


def _role_name(role: int) -> str:
    return ROLES[role - 1] if 0 < role <= len(ROLES) else "liaison_office"


def cmd_keys_root_create(a: argparse.Namespace) -> int:
    signer = RootSigner.generate(a.country)
    signer.save(Path(a.private))
    roots_path = Path(a.roots)
    existing = (TrustRoots.load(roots_path, require_both=False).roots
                if roots_path.exists() else ())
    if any(r.country == a.country for r in existing):
        raise ConfigError(f"{roots_path} already holds a {a.country} root; "
                          "replacing a root is a key ceremony, not a command")
    roots = TrustRoots((*existing, signer.root_key(a.name_vi, a.name_zh)))
    roots_path.write_text(roots.to_json(), encoding="utf-8")
    print(f"root key {signer.key_id} ({a.country}): private {a.private} (mode 600); "
          f"public added to {roots_path}")
    print(f"  fingerprint {fingerprint(signer.public_key)}")
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
    from gateway.render import iso_time

    for k in keys:
        print(f"  {k.key_id}")  # type: ignore[attr-defined]
        print(f"    valid {iso_time(k.not_before_ms)} .. {iso_time(k.not_after_ms)}")  # type: ignore[attr-defined]
        print(f"    fingerprint {fingerprint(k.public_key)}")  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- directory


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
        for k in o.keys:
            state = " REVOKED" if k.key_id in d.revoked else ""
            print(f"  {k.key_id}{state}\n    fingerprint {fingerprint(k.public_key)}")
    return 0


def cmd_directory_install(a: argparse.Namespace) -> int:
    import socket

    from gateway.client import OfficerClient
    from gateway.config import load_config

    home = Path(a.home)
    cfg = load_config(home)
    data = Path(a.file).read_bytes()
    host = "127.0.0.1" if cfg.api_host in ("0.0.0.0", "") else cfg.api_host  # noqa: S104
    try:  # is the gateway running? (its officer API accepts connections)
        socket.create_connection((host, cfg.api_port), timeout=2).close()
        running = True
    except OSError:
        running = False
    if running:
        res = OfficerClient.for_home(home, a.user).install_directory(data)
        if not res["installed"]:
            print(f"directory serial {res['serial']} is already installed; nothing changed")
            return 0
        print(f"directory serial {res['serial']} installed in the running gateway "
              f"(was {res['previous_serial']}) and offered to its peers; "
              f"{len(res['revoked_keys'])} revoked keys")
        return 0
    from gateway.trust import install_offline

    d, previous = install_offline(cfg, data, now_ms=_now_ms())
    print(f"directory serial {d.serial} installed in {home} (held before: {previous or '-'}); "
          "the gateway is not running: it takes effect when it starts")
    return 0


# --------------------------------------------------------------------------- messages


def cmd_seal(a: argparse.Namespace) -> int:
    d = _load_directory(Path(a.directory), Path(a.roots))
    ring = Keyring.load(Path(a.keyring))
    payload = Payload.from_json(Path(a.payload).read_bytes())
    data = envelope.seal(payload, sender=ring, recipients=a.to, directory=d, now_ms=_now_ms())
    Path(a.out).write_bytes(data)
    print(f"sealed {payload.message_type.slug} for {', '.join(a.to)}: {a.out} ({len(data)} B)")
    return 0


def cmd_open(a: argparse.Namespace) -> int:
    d = _load_directory(Path(a.directory), Path(a.roots))
    env = envelope.verify(Path(a.file).read_bytes(), d, now_ms=_now_ms())
    payload = envelope.open_envelope(env, Keyring.load(Path(a.keyring)))
    if a.json:
        print(json.dumps(payload.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_header(env.header, a.lang, _office_names(d), party_zones(d.offices)))
        print(render(payload, a.lang), end="")
    return 0


def cmd_render(a: argparse.Namespace) -> int:
    data = Path(a.file).read_bytes()
    if data.startswith(envelope.MAGIC):
        if not (a.keyring and a.directory and a.roots):
            raise ConfigError("an envelope needs --keyring, --directory and --roots to open")
        d = _load_directory(Path(a.directory), Path(a.roots))
        env = envelope.verify(data, d, now_ms=_now_ms())
        payload = envelope.open_envelope(env, Keyring.load(Path(a.keyring)))
        print(render_header(env.header, a.lang, _office_names(d), party_zones(d.offices)))
    elif data.lstrip()[:1] == b"{":
        payload = Payload.from_json(data)
    else:
        payload = Payload.from_bytes(data)
    print(render(payload, a.lang), end="")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(workdir=Path(a.workdir) if a.workdir else None, lang=a.lang)


# --------------------------------------------------------------------------- service


def cmd_init(a: argparse.Namespace) -> int:
    from gateway.home import init_home

    peer_urls = dict(p.split("=", 1) for p in a.peer_url or [])
    cfg = init_home(Path(a.home), keyring=Keyring.load(Path(a.keyring)),
                    directory=Path(a.directory).read_bytes(), roots=TrustRoots.load(
                        Path(a.roots)), peer_port=a.peer_port, api_port=a.api_port,
                    peer_urls=peer_urls)
    print(f"gateway for {cfg.office_id} initialised in {a.home}; edit {a.home}/gateway.toml, "
          f"add users (blo-gateway users add), then blo-gateway serve --home {a.home}")
    return 0


def cmd_config_check(a: argparse.Namespace) -> int:
    from gateway.config import config_problems, load_config

    home = Path(a.home)
    problems = config_problems(home)
    if not problems:
        cfg = load_config(home)
        for key in ("keyring", "directory", "roots", "tls_cert", "tls_key", "tls_ca"):
            value = getattr(cfg, key)
            if value and not cfg.path(value).is_file():
                problems.append(f"{home / 'gateway.toml'}: {key} = {value!r}: "
                                f"no such file {cfg.path(value)}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{home / 'gateway.toml'}: ok")
    return 0


def cmd_users_add(a: argparse.Namespace) -> int:
    from gateway.home import add_user

    path = add_user(Path(a.home), a.name, a.role)
    print(f"user {a.name} ({a.role}): token in {path} (mode 600); give it to the user only")
    return 0


def cmd_users_list(a: argparse.Namespace) -> int:
    from gateway.home import list_users
    from gateway.render import iso_time

    users = list_users(Path(a.home))
    if a.json:
        _print_json(users)
        return 0
    for u in users:
        state = (f"disabled {iso_time(u['disabled_at_ms'])}" if u["disabled_at_ms"]
                 else "active")
        print(f"{u['name']:<32} {u['role']:<8} created {iso_time(u['created_at_ms'])}  {state}")
    return 0


def _set_disabled(a: argparse.Namespace, disabled: bool) -> int:
    from gateway.home import set_user_disabled

    set_user_disabled(Path(a.home), a.name, disabled)
    print(f"user {a.name} " + ("disabled: its token is refused from now on" if disabled
                               else "enabled again"))
    return 0


def cmd_users_disable(a: argparse.Namespace) -> int:
    return _set_disabled(a, True)


def cmd_users_enable(a: argparse.Namespace) -> int:
    return _set_disabled(a, False)


def cmd_users_remove(a: argparse.Namespace) -> int:
    from gateway.home import remove_user

    remove_user(Path(a.home), a.name)
    print(f"user {a.name} removed (its token is refused from now on; its token file is "
          "deleted; its past actions stay in the audit log)")
    return 0


def cmd_users_password(a: argparse.Namespace) -> int:
    """Web sign-in: set a password (read from the terminal, or one line of stdin), and with
    --totp enrol a new second factor whose secret is printed once."""
    import getpass

    from gateway.webapp.users import enrol_totp, set_web_password

    if a.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"web password for {a.name}: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    set_web_password(Path(a.home), a.name, password)
    print(f"web password of {a.name} set; its web sessions ended")
    if a.totp:
        _print_totp(*enrol_totp(Path(a.home), a.name), a.name)
    return 0


def cmd_users_totp(a: argparse.Namespace) -> int:
    from gateway.webapp.users import enrol_totp

    _print_totp(*enrol_totp(Path(a.home), a.name), a.name)
    return 0


def _print_totp(secret: str, uri: str, name: str) -> None:
    print(f"second factor of {name} enrolled; its web sessions ended. Shown only now: give "
          "it to the user alone, to enter in an authenticator app (or as a QR code of the URI)")
    print(f"secret: {secret}")
    print(f"uri: {uri}")


def cmd_users_signout(a: argparse.Namespace) -> int:
    from gateway.webapp.users import end_web_sessions

    n = end_web_sessions(Path(a.home), a.name)
    print(f"{n} web session(s) of {a.name} ended")
    return 0


def cmd_tokens_revoke(a: argparse.Namespace) -> int:
    from gateway.home import revoke_token

    path = revoke_token(Path(a.home), a.user, new=a.new)
    if path is None:
        print(f"token of {a.user} revoked: refused from now on (issue a new one with --new)")
    else:
        print(f"token of {a.user} revoked; new token in {path} (mode 600); give it to the "
              "user only")
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    import asyncio
    import signal

    from gateway.config import load_config
    from gateway.logs import configure_logging
    from gateway.service import Gateway

    configure_logging(a.log_level)
    cfg = load_config(Path(a.home))

    async def run() -> None:
        gw = Gateway(cfg)
        await gw.start()
        print(f"serving {cfg.office_id}: peer API on {cfg.peer_host}:{gw.peer_port}, "
              f"officer API on {cfg.api_host}:{gw.api_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await gw.stop()

    asyncio.run(run())
    return 0


def _client(a: argparse.Namespace) -> OfficerClient:
    from gateway.client import OfficerClient

    if a.api:
        token = os.environ.get("BLO_TOKEN", "")
        if a.token_file:
            token = Path(a.token_file).read_text(encoding="utf-8").strip()
        if not token:
            raise ConfigError("give --token-file or set BLO_TOKEN")
        return OfficerClient(a.api, token)
    if not a.home:
        raise ConfigError("give --home DIR (with --user) or --api URL")
    return OfficerClient.for_home(Path(a.home), a.user)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_send(a: argparse.Namespace) -> int:
    payload = Payload.from_json(Path(a.payload).read_bytes())  # checked locally first
    res = _client(a).send(a.to, payload.to_dict())
    if a.json:
        _print_json(res)
    else:
        print(f"{res['message_id']}  {res['type']} -> {', '.join(res['to'])}: {res['state']} "
              "(stored; delivery continues even if a link or gateway goes down)")
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    c = _client(a)
    if not a.message_id:
        rows = c.sent(a.limit)
        if a.json:
            _print_json(rows)
        for r in rows if not a.json else []:
            states = ", ".join(f"{k}: {v}" for k, v in r["states"].items())
            print(f"{r['message_id']}  {r['type']:<24} {states}")
        return 0
    st = c.status(a.message_id)
    if a.json:
        _print_json(st)
        return 0
    print(f"{st['message_id']}  {st['type']}  case {st['case_reference'] or '-'}")
    for d in st["deliveries"]:
        line = f"  -> {d['to']}: {d['state']} (attempts {d['attempts']})"
        if d.get("receipt"):
            line += f", receipt signed by {d['receipt']['signed_by']} verified"
        if d["error_code"]:
            line += f", last error {d['error_code']}: {d['error']}"
        print(line)
    return 0


def cmd_inbox(a: argparse.Namespace) -> int:
    data = _client(a)._call("GET", f"/api/v1/inbox?limit={a.limit}")
    if a.json:
        _print_json(data["messages"])
        return 0
    zone = _zone_of(data)
    for r in data["messages"]:
        opened = f"opened by {r['opened_by']}" if r["opened_by"] else "unread"
        print(f"{r['message_id']}  {r['type']:<24} from {r['from']:<22} "
              f"received {local_time(r['received_at_ms'], zone)}  "
              f"case {r['case_reference'] or '-'}  {opened}")
    return 0


def _zone_of(data: dict[str, object]) -> ZoneInfo:
    """The gateway office's zone, as its API names it (times print in it, zone named)."""
    name = data.get("time_zone")
    return zone_named(name) if isinstance(name, str) and name else UTC_ZONE


def cmd_show(a: argparse.Namespace) -> int:
    res = _client(a).show(a.message_id, a.lang)
    if a.json:
        _print_json(res)
    else:
        print(res["text"], end="")
    return 0


def cmd_audit_export(a: argparse.Namespace) -> int:
    from gateway.bundle import export_bundle

    m = export_bundle(Path(a.home), Path(a.out))
    print(f"audit bundle of {m['office']}: {m['size']} entries -> {a.out}")
    return 0


def cmd_audit_verify(a: argparse.Namespace) -> int:
    """Exit 0 verified, 1 tampered, 2 policy not met, 3 could not check."""
    from gateway.verify import (
        DEFAULT_MAX_LAG_MS,
        HttpPeer,
        LivePeer,
        render_report,
        roots_matching,
        verify_bundles,
    )

    try:
        roots = TrustRoots.load(Path(a.roots)) if a.roots else None
        max_lag_ms = DEFAULT_MAX_LAG_MS
        peer: LivePeer | None = None
        if a.home:
            from gateway.config import load_config

            cfg = load_config(Path(a.home))
            roots = roots or TrustRoots.load(cfg.path(cfg.roots))
            max_lag_ms = int(6 * cfg.checkpoint_interval_s * 1000)
            if a.peer:
                peer = HttpPeer(a.peer, Keyring.load(cfg.path(cfg.keyring)))
        elif a.peer:
            raise ConfigError("--peer needs --home DIR: the peer API answers signed requests "
                              "only, so the command signs as that gateway's office")
        if a.max_witness_lag is not None:
            max_lag_ms = int(a.max_witness_lag * 1000)
    except (GatewayError, OSError) as e:
        code = e.code if isinstance(e, GatewayError) else "NOT_FOUND"
        print(f"error {code}: {e}", file=sys.stderr)
        print("FAIL (exit 3): could not check", file=sys.stderr)
        return 3
    fps = list(a.root_fingerprint or [])
    report = verify_bundles([Path(b) for b in a.bundle], roots, max_lag_ms=max_lag_ms,
                            peer=peer,
                            roots_for=(lambda r: roots_matching(r, fps)) if fps else None)
    if a.json:
        _print_json(report.to_dict())
    else:
        print(render_report(report, a.lang), end="")
    if not report.ok:
        print(f"{report.verdict}: {report.problems[0]}", file=sys.stderr)
    return report.exit_code


def cmd_cases(a: argparse.Namespace) -> int:
    query = "?overdue=1" if a.overdue else (f"?due_hours={a.due_hours}" if a.due_hours else "")
    data = _client(a).cases(query)
    if a.json:
        _print_json(data)
        return 0
    zone = _zone_of(data)
    for c in data["cases"]:
        flag = "OVERDUE" if c["overdue"] else ("waiting" if c["waiting"] else "")
        print(f"{c['id']}  {c['type']:<24} {c['case_reference'] or '-':<14} {c['state']:<16} "
              f"due {local_time(c['deadline_ms'], zone)}  {flag}")
    return 0


def cmd_record(a: argparse.Namespace) -> int:
    c = _client(a)
    if a.pdf:
        Path(a.pdf).write_bytes(c.raw(f"/api/v1/records/{a.message_id}/pdf"))
        print(f"handover record {a.message_id}: {a.pdf}")
        return 0
    data = c._call("GET", f"/api/v1/records/{a.message_id}?lang={a.lang}")
    if a.json:
        _print_json(data)
        return 0
    print(data["text"], end="")
    for office in data["parties"]:
        s = data["signatures"].get(office)
        state = ("signed, verified" if s and s["verified"] else
                 f"signature INVALID: {s['problem']}" if s else "not signed yet")
        print(f"  {office}: {state}" + (f" ({s['key_id']})" if s else ""))
    print("complete: signed by both sides" if data["complete"] else "incomplete")
    return 0


def cmd_countersign(a: argparse.Namespace) -> int:
    res = _client(a)._call("POST", f"/api/v1/records/{a.message_id}/countersign", {})
    print(f"record {res['record']} signed; signature sent as {res['signature_message_id']}")
    return 0


def cmd_stats(a: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    from gateway.stats import stats_csv

    if a.period and (a.from_ or a.to):
        raise ConfigError("give --period, or --from and --to, not both")
    if not a.period and not (a.from_ and a.to):
        raise ConfigError("give --period (e.g. 2026-Q1, 2026-H1, 2026, 2026-03-31) or "
                          "--from and --to")
    query = urlencode({"period": a.period} if a.period else {"from": a.from_, "to": a.to})
    if a.pdf:
        Path(a.pdf).write_bytes(_client(a).raw(f"/api/v1/stats.pdf?{query}"))
        print(f"statistics {a.period or f'{a.from_} .. {a.to}'}: {a.pdf}")
        return 0
    data = _client(a)._call("GET", f"/api/v1/stats?{query}")
    if a.csv:
        print(stats_csv(data), end="")
    else:
        _print_json(data)
    return 0


def cmd_health(a: argparse.Namespace) -> int:
    _print_json(_client(a).health())
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="blo-gateway",
        description="BLO Gateway: signed, encrypted, bilingual messages between the Lào Cai and "
                    "Hekou border liaison offices. Errors print 'error <CODE>: ...' and exit 2.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="two gateways on this machine walk one case end to end: "
                                    "every message type, an outage, the co-signed handover "
                                    "record, statistics, and both audit logs verified")
    d.add_argument("--workdir", help="keep keys and files here (default: a temporary folder)")
    d.add_argument("--lang", choices=LANGS, default="both", help="rendering language")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("render", help="print a payload (JSON or binary) or envelope in vi/zh/both")
    r.add_argument("file", help="payload .json ({\"type\":..., \"body\":...}), payload .pb, "
                                "or a sealed envelope")
    r.add_argument("--lang", choices=LANGS, default="both")
    for opt in ("--keyring", "--directory", "--roots"):
        r.add_argument(opt, help="to open an envelope: your office keyring, the signed "
                                 "directory, the trust roots")
    r.set_defaults(func=cmd_render)

    k = sub.add_parser("keys", help="office and root keys").add_subparsers(dest="keys_cmd",
                                                                           required=True)
    kc = k.add_parser("create", help="new Ed25519 + X25519 keys for an office")
    kc.add_argument("--office", required=True, help="office id, e.g. vn.laocai.blo")
    kc.add_argument("--country", required=True, choices=("VN", "CN"))
    kc.add_argument("--name-vi", required=True)
    kc.add_argument("--name-zh", required=True)
    kc.add_argument("--role", required=True, choices=ROLES)
    kc.add_argument("--endpoint", default="", help="base URL of the office's gateway peer API")
    kc.add_argument("--time-zone", default="",
                    help="the office's IANA time zone, e.g. Asia/Ho_Chi_Minh (default: its "
                         "country's: VN Asia/Ho_Chi_Minh, CN Asia/Shanghai)")
    kc.add_argument("--valid-days", type=int, default=365)
    kc.add_argument("--private", required=True,
                    help="keyring file to create (mode 600; never inside the repository)")
    kc.add_argument("--public", required=True, help="public office entry (JSON) to write")
    kc.set_defaults(func=cmd_keys_create)
    kr = k.add_parser("rotate", help="add new keys; old keys stay valid for an overlap")
    kr.add_argument("--keyring", required=True)
    kr.add_argument("--public", required=True, help="the office entry to update")
    kr.add_argument("--valid-days", type=int, default=365)
    kr.add_argument("--overlap-days", type=int, default=14)
    kr.set_defaults(func=cmd_keys_rotate)
    kt = k.add_parser("root-create", help="a country root key (for signing directories)")
    kt.add_argument("--country", required=True, choices=("VN", "CN"))
    kt.add_argument("--private", required=True, help="root key file to create (mode 600)")
    kt.add_argument("--roots", required=True, help="trust-roots file to add the public key to")
    kt.add_argument("--name-vi", default="")
    kt.add_argument("--name-zh", default="")
    kt.set_defaults(func=cmd_keys_root_create)
    ks = k.add_parser("show", help="public keys and fingerprints")
    g = ks.add_mutually_exclusive_group(required=True)
    g.add_argument("--keyring", help="a private keyring (secrets are not shown)")
    g.add_argument("--office-file", help="a public office entry")
    ks.set_defaults(func=cmd_keys_show)

    dr = sub.add_parser("directory", help="build, sign, verify, show the trust directory")
    ds = dr.add_subparsers(dest="dir_cmd", required=True)
    db = ds.add_parser("build", help="an unsigned directory from office entries")
    db.add_argument("--office", action="append", required=True, help="office entry (repeat)")
    db.add_argument("--serial", type=int, required=True, help="must exceed the current one")
    db.add_argument("--valid-days", type=int, default=365)
    db.add_argument("--revoke", action="append", metavar="KEY_ID=REASON")
    db.add_argument("--out", required=True)
    db.set_defaults(func=cmd_directory_build)
    dsg = ds.add_parser("sign", help="add a root key's signature")
    dsg.add_argument("file")
    dsg.add_argument("--root-key", required=True)
    dsg.add_argument("--out", help="default: sign in place")
    dsg.set_defaults(func=cmd_directory_sign)
    di = ds.add_parser(
        "install", help="install a newer co-signed directory into a gateway home; a running "
                        "gateway takes it at once (no restart) and offers it to its peers",
        description="Install a newer co-signed directory. If the gateway in --home is running, "
                    "this goes through its officer API (as an admin user) and takes effect at "
                    "once; its peers fetch it within one ping interval (30 s). Otherwise the "
                    "file and the store are updated for the next start. A directory older than "
                    "the newest one accepted (rollback) or another one with the same serial "
                    "(fork) is refused with BAD_DIRECTORY and recorded as an alert.")
    di.add_argument("file", help="the signed directory (directory.bin format)")
    di.add_argument("--home", required=True, help="the gateway's home folder")
    di.add_argument("--user", default="admin",
                    help="admin user whose token file is used (private/tokens/USER.token)")
    di.set_defaults(func=cmd_directory_install)
    for name, fn, hlp in (("verify", cmd_directory_verify, "check both root signatures"),
                          ("show", cmd_directory_show, "list offices, keys, fingerprints")):
        sp = ds.add_parser(name, help=hlp)
        sp.add_argument("file")
        sp.add_argument("--roots", required=True, help="trust-roots file")
        if name == "show":
            sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=fn)

    it = sub.add_parser("init", help="create a gateway home folder for one office")
    it.add_argument("--home", required=True)
    it.add_argument("--keyring", required=True, help="the office's keyring (copied, mode 600)")
    it.add_argument("--directory", required=True)
    it.add_argument("--roots", required=True)
    it.add_argument("--peer-port", type=int, default=8443)
    it.add_argument("--api-port", type=int, default=8080)
    it.add_argument("--peer-url", action="append", metavar="OFFICE=URL",
                    help="override a peer's endpoint from the directory")
    it.set_defaults(func=cmd_init)
    cf = sub.add_parser("config", help="check a gateway's configuration").add_subparsers(
        dest="config_cmd", required=True)
    cc = cf.add_parser("check", help="check every setting of HOME/gateway.toml for type and "
                                     "range, and that the files it names exist; lists every "
                                     "problem; exit 0 if none, 1 otherwise")
    cc.add_argument("--home", required=True)
    cc.set_defaults(func=cmd_config_check)
    us = sub.add_parser("users", help="officer API users").add_subparsers(dest="users_cmd",
                                                                          required=True)
    ua = us.add_parser("add", help="create a user and its token file")
    ua.add_argument("--home", required=True)
    ua.add_argument("--name", required=True,
                    help="1-64 of a-z 0-9 . - _ (the rule of the audit log), e.g. mai.officer")
    ua.add_argument("--role", default="officer", choices=("officer", "auditor", "admin"))
    ua.set_defaults(func=cmd_users_add)
    ul = us.add_parser("list", help="users, roles and whether each is active (no tokens)")
    ul.add_argument("--home", required=True)
    ul.add_argument("--json", action="store_true", help="machine-readable output")
    ul.set_defaults(func=cmd_users_list)
    for verb, fn, hlp in (
            ("disable", cmd_users_disable, "refuse a user's token from now on (also on a "
                                           "running gateway); the user stays listed"),
            ("enable", cmd_users_enable, "accept a disabled user's token again"),
            ("remove", cmd_users_remove, "delete a user and its token file; refused at once")):
        uv = us.add_parser(verb, help=hlp)
        uv.add_argument("--home", required=True)
        uv.add_argument("--name", required=True)
        uv.set_defaults(func=fn)
    up = us.add_parser("password", help="set a user's web sign-in password (asked twice on the "
                                        "terminal); --totp also enrols a second factor")
    up.add_argument("--home", required=True)
    up.add_argument("--name", required=True)
    up.add_argument("--password-stdin", action="store_true",
                    help="read the password from one line of standard input (for scripts)")
    up.add_argument("--totp", action="store_true",
                    help="enrol a new TOTP second factor (required for officers) and print "
                         "its secret and otpauth:// URI once")
    up.set_defaults(func=cmd_users_password)
    for verb, fn, hlp in (
            ("totp", cmd_users_totp, "enrol (or replace) a user's TOTP second factor; prints "
                                     "its secret and otpauth:// URI once; sessions end"),
            ("signout", cmd_users_signout, "end every web session of a user at once")):
        uv = us.add_parser(verb, help=hlp)
        uv.add_argument("--home", required=True)
        uv.add_argument("--name", required=True)
        uv.set_defaults(func=fn)
    tk = sub.add_parser("tokens", help="officer API tokens").add_subparsers(dest="tokens_cmd",
                                                                            required=True)
    tr = tk.add_parser("revoke", help="invalidate a user's token at once (also on a running "
                                      "gateway); --new issues another")
    tr.add_argument("--home", required=True)
    tr.add_argument("--user", required=True, help="the user whose token to revoke")
    tr.add_argument("--new", action="store_true",
                    help="write a new token to private/tokens/USER.token (mode 600)")
    tr.set_defaults(func=cmd_tokens_revoke)
    sv = sub.add_parser("serve", help="run the gateway (peer API, officer API, delivery)")
    sv.add_argument("--home", required=True)
    sv.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    sv.set_defaults(func=cmd_serve)

    def api_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--home", help="the gateway's home folder (API address and tokens)")
        sp.add_argument("--user", default="officer", help="token file private/tokens/USER.token")
        sp.add_argument("--api", help="officer API URL instead of --home")
        sp.add_argument("--token-file", help="with --api; or set BLO_TOKEN")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    sd = sub.add_parser("send", help="submit a message through the officer API")
    sd.add_argument("payload", help='payload JSON file: {"type": ..., "body": {...}}')
    sd.add_argument("--to", action="append", required=True, help="recipient office (repeat)")
    api_args(sd)
    sd.set_defaults(func=cmd_send)
    ss = sub.add_parser("status", help="delivery state of a sent message (or of the last ones)")
    ss.add_argument("message_id", nargs="?")
    ss.add_argument("--limit", type=int, default=20)
    api_args(ss)
    ss.set_defaults(func=cmd_status)
    ib = sub.add_parser("inbox", help="received messages (metadata only)")
    ib.add_argument("--limit", type=int, default=50)
    api_args(ib)
    ib.set_defaults(func=cmd_inbox)
    sh = sub.add_parser("show", help="open a received message, in vi, zh or both")
    sh.add_argument("message_id")
    sh.add_argument("--lang", choices=LANGS, default="both")
    api_args(sh)
    sh.set_defaults(func=cmd_show)
    cs = sub.add_parser("cases", help="case items: state, deadline, overdue")
    cs.add_argument("--overdue", action="store_true", help="only overdue items")
    cs.add_argument("--due-hours", type=float, help="only items due within this many hours")
    api_args(cs)
    cs.set_defaults(func=cmd_cases)
    st = sub.add_parser("stats", help="statistics for a reporting period (from state and "
                                      "metadata, never plaintext), counted in the gateway "
                                      "office's time zone, which the figures name")
    st.add_argument("--period", help="2026-Q1..Q4 (quarter), 2026-H1|H2 (half-year), 2026 "
                                     "(year) or 2026-03-31 (day), from local midnight")
    st.add_argument("--from", dest="from_", metavar="YYYY-MM-DD",
                    help="first day (from local midnight)")
    st.add_argument("--to", metavar="YYYY-MM-DD", help="day after the last (exclusive)")
    st.add_argument("--csv", action="store_true")
    st.add_argument("--pdf", metavar="FILE", help="write the bilingual PDF report")
    api_args(st)
    st.set_defaults(func=cmd_stats)
    rc = sub.add_parser("record", help="a handover record with both sides' signatures")
    rc.add_argument("message_id")
    rc.add_argument("--pdf", metavar="FILE", help="write the bilingual PDF for hand signing")
    rc.add_argument("--lang", choices=LANGS, default="both")
    api_args(rc)
    rc.set_defaults(func=cmd_record)
    cg = sub.add_parser("countersign", help="sign a received handover record (both sides sign "
                                            "the same bytes)")
    cg.add_argument("message_id")
    api_args(cg)
    cg.set_defaults(func=cmd_countersign)
    he = sub.add_parser("health", help="store, peers' reachability, backlog, clock skew")
    api_args(he)
    he.set_defaults(func=cmd_health)

    au = sub.add_parser("audit", help="export and verify the signed audit log").add_subparsers(
        dest="audit_cmd", required=True)
    ae = au.add_parser("export", help="write this gateway's audit bundle (a tar file)")
    ae.add_argument("--home", required=True)
    ae.add_argument("--out", required=True)
    ae.set_defaults(func=cmd_audit_export)
    av = au.add_parser("verify", help="verify one bundle, or both sides'; exit 0 verified, "
                                      "1 tampered, 2 witnessing policy not met, 3 could not "
                                      "check (docs/audit-log.md)")
    av.add_argument("bundle", nargs="+", help="one bundle, or two (one per side)")
    av.add_argument("--roots", help="the VN and CN trust roots you pinned (roots.json); the "
                                    "bundle's own roots must equal them")
    av.add_argument("--home", help="a gateway's home: its pinned roots, its witnessing "
                                   "interval, and its office key to sign --peer requests")
    av.add_argument("--root-fingerprint", action="append", metavar="HEX",
                    help="accept the bundle's roots only if their fingerprints are these "
                         "published ones (give both)")
    av.add_argument("--peer", metavar="URL",
                    help="peer API of the gateway whose log the first bundle is: its latest "
                         "cosigned checkpoint must extend the bundle (needs --home)")
    av.add_argument("--max-witness-lag", type=float, metavar="SECONDS",
                    help="entries older than this before the export must be covered by a "
                         "checkpoint the other country cosigned (default: six witnessing "
                         "intervals, 60 s, or from --home)")
    av.add_argument("--lang", choices=LANGS, default="both")
    av.add_argument("--json", action="store_true")
    av.set_defaults(func=cmd_audit_verify)

    se = sub.add_parser("seal", help="seal a payload JSON file into an envelope (offline)")
    se.add_argument("payload")
    se.add_argument("--to", action="append", required=True, help="recipient office (repeat)")
    se.add_argument("--out", required=True)
    for opt in ("--keyring", "--directory", "--roots"):
        se.add_argument(opt, required=True)
    se.set_defaults(func=cmd_seal)
    op = sub.add_parser("open", help="verify and open an envelope file (offline)")
    op.add_argument("file")
    op.add_argument("--lang", choices=LANGS, default="both")
    op.add_argument("--json", action="store_true")
    for opt in ("--keyring", "--directory", "--roots"):
        op.add_argument(opt, required=True)
    op.set_defaults(func=cmd_open)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe too
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly, as a tool killed by SIGPIPE
        # would. Later writes (the flush at exit) go to /dev/null instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except RemoteError as e:
        print(f"error {e.remote_code}: {e.message}", file=sys.stderr)
        return 2
    except GatewayError as e:
        print(f"error {e.code}: {e.message}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error NOT_FOUND: {e.filename}: no such file", file=sys.stderr)
        return 2
    except FileExistsError as e:
        print(f"error EXISTS: {e.filename} exists; refusing to overwrite a key file",
              file=sys.stderr)
        return 2
    return status
