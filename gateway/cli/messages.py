"""Messages: ``seal``, ``open`` and ``render`` offline; ``send``, ``status``, ``inbox``
and ``show`` through a running gateway's officer API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol import envelope
from gateway.protocol.errors import ConfigError
from gateway.protocol.identity import Keyring
from gateway.protocol.localtime import local_time, party_zones
from gateway.protocol.messages import MessageType, Payload
from gateway.views import payload_json
from gateway.views.render import render, render_header

if TYPE_CHECKING:
    pass
from gateway.cli._common import (
    _client,
    _load_directory,
    _now_ms,
    _office_names,
    _print_json,
    _zone_of,
)

__all__ = ["cmd_inbox", "cmd_open", "cmd_render", "cmd_seal", "cmd_send", "cmd_show", "cmd_status",
           "cmd_template"]


def cmd_seal(a: argparse.Namespace) -> int:
    d = _load_directory(Path(a.directory), Path(a.roots))
    ring = Keyring.load(Path(a.keyring))
    payload = payload_json.parse_json(Path(a.payload).read_bytes())
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
        payload = payload_json.parse_json(data, a.lang)
    else:
        payload = Payload.from_bytes(data)
    print(render(payload, a.lang), end="")
    return 0


def cmd_send(a: argparse.Namespace) -> int:
    # checked locally first, errors named by the fields' labels in --lang
    payload = payload_json.parse_json(Path(a.payload).read_bytes(), a.lang)
    # One key for this invocation: the client retries a broken connection under it.
    res = _client(a).send(a.to, payload.to_dict(), idempotency_key=a.idempotency_key)
    if a.json:
        _print_json(res)
    else:
        again = " (already sent under this key: not sent again)" if res.get("replayed") else ""
        print(f"{res['message_id']}  {res['type']} -> {', '.join(res['to'])}: {res['state']} "
              f"(stored; delivery continues even if a link or gateway goes down){again}")
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


def cmd_show(a: argparse.Namespace) -> int:
    res = _client(a).show(a.message_id, a.lang)
    if a.json:
        _print_json(res)
    else:
        print(res["text"], end="")
    return 0


def cmd_template(a: argparse.Namespace) -> int:
    """An example payload file of a type with every field present; ``--explain``: each
    field's path, its labels in vi and zh (``--lang`` first) and its allowed values."""
    mtype = MessageType.from_slug(a.type)
    if a.explain:
        print(payload_json.explain_text(mtype, a.lang), end="")
    else:
        print(json.dumps(payload_json.template(mtype), ensure_ascii=False, indent=2))
    return 0
