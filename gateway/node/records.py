"""Handover records on a running gateway: countersigning, collecting both signatures, PDFs.

See ``gateway.protocol.handover`` for the signature scheme. Everything here decrypts only on an
officer's request, in this process, and writes nothing in plaintext.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from gateway.node import roles
from gateway.node.ports import RecordsHost
from gateway.protocol import envelope
from gateway.protocol.errors import Conflict, Forbidden, Malformed, NotFound
from gateway.protocol.glossary import term
from gateway.protocol.handover import RecordSignature, sign_record, verify_record_signature
from gateway.protocol.identity import fingerprint
from gateway.protocol.localtime import local_time, party_zones, utc_offset_minutes
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.protocol.release import check_forward, released_copy
from gateway.store import IdempotentAnswer
from gateway.views.pdf import bilingual_pdf
from gateway.views.render import Row, header_rows, label_of, rows_for

__all__ = ["countersign", "forward", "open_received", "open_record", "record_pdf", "record_view",
           "stats_pdf"]


async def open_received(gw: RecordsHost, message_id: bytes, user: str, *, role: str = ""
                        ) -> tuple[envelope.VerifiedEnvelope, Payload]:
    """Open a received message for ``user`` (the officer API and the web app both do this):
    the stored bytes verified again as of their reception, decrypted, and the read recorded
    (an audit leaf) before anything is shown. With ``role``: ``Forbidden`` before anything
    is decrypted unless the role may read the message's type (``roles.may_read``)."""
    rows = await gw.store.call(gw.store.sync.inbox_envelope, message_id)
    if len(rows) != 1:
        raise NotFound("no such message in the inbox")
    row = rows[0]
    if role and not roles.may_read(role, row["message_type"]):
        raise Forbidden(f"role {role} does not open a {MessageType(row['message_type']).slug}")
    env = envelope.verify_stored(row["raw"], gw.directory, received_at_ms=row["stored_at_ms"],
                                 max_size=gw.config.max_envelope_bytes)
    payload = envelope.open_envelope(env, gw.keyring)
    await gw.store.call(gw.store.sync.mark_opened, row["iid"], user, gw.clock.now_ms(),
                        message_id=message_id, sender=env.header.sender)
    return env, payload


async def forward(gw: RecordsHost, message_id: bytes, to: list[str], *, user: str,
                  idempotency: Callable[[bytes], IdempotentAnswer] | None = None) -> bytes:
    """Forward a received message to other offices, within its handling code and the
    person's consent (``HandlingRestricted`` otherwise, before anything is sent): the copy
    is a new message from this office (the officer API and the web app both do this)."""
    rows = await gw.store.call(gw.store.sync.inbox_envelope, message_id)
    if len(rows) != 1:
        raise NotFound("no such message in the inbox")
    env = envelope.verify_stored(rows[0]["raw"], gw.directory,
                                 received_at_ms=rows[0]["stored_at_ms"],
                                 max_size=gw.config.max_envelope_bytes)
    payload = envelope.open_envelope(env, gw.keyring)
    check_forward(payload, originator=env.header.sender, to=to)
    copy = released_copy(payload)
    body = type(copy.body)()
    body.CopyFrom(copy.body)
    body.context.in_reply_to = ""  # type: ignore[attr-defined]
    return await gw.submit(Payload(body), to, user=user, idempotency=idempotency)


async def _open(gw: RecordsHost, message_id: bytes) -> tuple[envelope.VerifiedEnvelope, Payload,
                                                          bytes]:
    row = await gw.store.call(gw.store.sync.envelope_by_id, message_id)
    if row is None:
        raise NotFound("no such message here")
    env = envelope.verify_stored(row["raw"], gw.directory,
                                 received_at_ms=row["stored_at_ms"],
                                 max_size=gw.config.max_envelope_bytes)
    payload, plain = envelope.open_with_plaintext(env, gw.keyring)
    return env, payload, plain


async def _signatures(gw: RecordsHost, record_hex: str, plain: bytes
                      ) -> dict[str, RecordSignature]:
    out: dict[str, RecordSignature] = {}
    acks = await gw.store.call(gw.store.sync.replies_to, record_hex,
                               int(MessageType.ACKNOWLEDGEMENT))
    for row in acks:
        env = envelope.verify_stored(row["raw"], gw.directory,
                                     received_at_ms=row["stored_at_ms"],
                                     max_size=gw.config.max_envelope_bytes)
        ack = envelope.open_envelope(env, gw.keyring).body
        sig = ack.record_signature  # type: ignore[attr-defined]
        if sig:
            kid = ack.record_signer_key_id  # type: ignore[attr-defined]
            out[env.header.sender] = verify_record_signature(
                gw.directory, env.header.sender, kid, sig, plain, env.header.created_at_ms)
    return out


async def countersign(gw: RecordsHost, record_id: bytes, *, user: str,
                      idempotency: Callable[[bytes], IdempotentAnswer] | None = None) -> bytes:
    """Sign a received handover record's exact bytes and send the signature to its sender
    (``idempotency``: the answer stored with it, see ``Gateway.submit``)."""
    env, payload, plain = await _open(gw, record_id)
    if payload.message_type != MessageType.HANDOVER_RECORD:
        raise Malformed("only a handover record can be countersigned")
    if env.header.sender == gw.office_id:
        raise Conflict("our own records are signed when they are sent")
    if gw.office_id in await _signatures(gw, record_id.hex(), plain):
        raise Conflict("this record is already signed by this office")
    return await gw.submit(_signature_ack(gw, env, plain), [env.header.sender], user=user,
                           self_copy=True, idempotency=idempotency)


def _signature_ack(gw: RecordsHost, env: envelope.VerifiedEnvelope, plain: bytes) -> Payload:
    now = gw.clock.now_ms()
    kid, sig = sign_record(gw.keyring, plain, now)
    h = env.header
    return Payload(pb.Acknowledgement(
        context=pb.MessageContext(case_reference=h.case_reference, in_reply_to=h.message_id_hex,
                                  priority=int(h.priority), handling_code=int(h.handling_code)),
        subject_message_id=h.message_id_hex,
        acknowledged_at=pb.ZonedTime(unix_millis=now,
                                     utc_offset_minutes=utc_offset_minutes(now, gw.zone)),
        record_signature=sig, record_signer_key_id=kid))


async def sign_own_record(gw: RecordsHost, record_id: bytes, recipients: list[str]) -> None:
    """After sending a record: sign it and send the signature too (sealed to us as well)."""
    env, _, plain = await _open(gw, record_id)
    await gw.submit(_signature_ack(gw, env, plain), recipients, user="gateway",
                    self_copy=True)


async def record_view(gw: RecordsHost, record_id: bytes) -> dict[str, Any]:
    env, payload, plain = await _open(gw, record_id)
    if payload.message_type != MessageType.HANDOVER_RECORD:
        raise Malformed("not a handover record")
    sigs = await _signatures(gw, record_id.hex(), plain)
    parties = [env.header.sender] + [o for o in env.header.recipient_offices
                                     if o != env.header.sender]
    return {"message_id": record_id.hex(), "header": env.header, "payload": payload,
            "parties": parties, "signatures": sigs,
            "complete": all(p in sigs and sigs[p].verified for p in parties)}


async def open_record(gw: RecordsHost, record_id: bytes, user: str) -> dict[str, Any]:
    """``record_view`` for ``user``, the read recorded (an audit leaf ``message.opened``, as
    for any message opened): the officer API and the web app both do this."""
    view = await record_view(gw, record_id)
    await gw.store.call(gw.store.sync.audit, [{
        "t": gw.clock.now_ms(), "type": "message.opened", "user": user,
        "message_id": record_id.hex(), "peer": view["header"].sender}])
    return view


def record_pdf(gw: RecordsHost, view: dict[str, Any]) -> bytes:
    def lab(key: str) -> tuple[str, str]:
        t = term(key)
        return t.vi, t.zh

    names = {o.office_id: (o.name_vi, o.name_zh) for o in gw.directory.offices.values()}
    sig_rows: list[Row] = []
    for office in view["parties"]:
        vi, zh = names.get(office, (office, office))
        s: RecordSignature | None = view["signatures"].get(office)
        sig_rows.append(Row(0, vi, zh, office, office))
        if s is None:
            sig_rows.append(Row(1, *lab("record.missing")))
            continue
        key = gw.directory.key(s.key_id, algorithm="ed25519", at_ms=view["header"].created_at_ms)
        sig_rows.append(Row(1, *lab("key_id"), s.key_id, s.key_id))
        fp = fingerprint(key.public_key)
        sig_rows.append(Row(1, *lab("record.fingerprint"), fp, fp))
        status = lab("record.verified") if s.verified else ("✗ " + s.problem,) * 2
        sig_rows.append(Row(1, *status))
    body = view["payload"].body
    units = [(body.handing_over_unit.name.vi or lab("role.handing_over")[0],
              body.handing_over_unit.name.zh or lab("role.handing_over")[1]),
             (body.receiving_unit.name.vi or lab("role.receiving")[0],
              body.receiving_unit.name.zh or lab("role.receiving")[1])]
    hand = lab("record.hand_signature")
    return bilingual_pdf(
        lab("record.title"),
        [(lab("envelope_header"), header_rows(view["header"], names, party_zones(
            gw.directory.offices, gw.office_id, gw.zone))),
         (label_of(body.DESCRIPTOR), list(rows_for(body))),
         (lab("record.signatures"), sig_rows)],
        signature_lines=[(f"{u[0]}\n{hand[0]}", f"{u[1]}\n{hand[1]}") for u in units])


def stats_pdf(figures: dict[str, Any]) -> bytes:
    from gateway.views.render import message_type_label

    def lab(key: str) -> tuple[str, str]:
        t = term(key)
        return t.vi, t.zh

    zone = ZoneInfo(figures["time_zone"])
    period = (f"{figures['period']}: " if figures.get("period") else "") + (
        f"{local_time(figures['from_ms'], zone)} .. {local_time(figures['to_ms'], zone)}")
    head = [Row(0, *lab("stats.period"), period, period),
            Row(0, *lab("office"), figures["office"], figures["office"])]
    counts = []
    for r in figures["by_type_direction_state"]:
        tvi, tzh = message_type_label(r["type"])
        dvi, dzh = lab(f"stats.direction.{r['direction']}")
        svi, szh = lab(f"state.{r['state']}")
        counts.append(Row(0, f"{tvi} — {dvi} — {svi}", f"{tzh} — {dzh} — {szh}",
                          str(r["count"]), str(r["count"])))

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.0f} %"

    med = figures["median_response_hours"]
    summary = [
        Row(0, *lab("stats.items"), str(figures["items"]), str(figures["items"])),
        Row(0, *lab("stats.hotline_received"), *(str(figures["hotline_reports_received"]),) * 2),
        Row(0, *lab("stats.classified_share"),
            *(pct(figures["hotline_reports_classified_share"]),) * 2),
        Row(0, *lab("stats.resolved_share"), *(pct(figures["resolved_share"]),) * 2),
        Row(0, *lab("stats.median_response"), *(("—" if med is None else f"{med:.1f}"),) * 2),
        Row(0, *lab("stats.overdue"), str(figures["overdue"]), str(figures["overdue"])),
    ]
    return bilingual_pdf(lab("stats.title"), [(lab("stats.period"), head),
                                              (lab("stats.items"), counts),
                                              (lab("stats.title"), summary)])
