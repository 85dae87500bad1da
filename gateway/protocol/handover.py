"""The handover record signed by both sides: two Ed25519 signatures over one byte string; and
the steps before it, as payloads made from the plan (``agreement_to``, ``counter_proposal_to``,
``record_from``).

The byte string is the exact decrypted ``Payload`` of the HandoverRecord message. Each
office signs ``RECORD_DOMAIN ‖ those bytes`` and sends its signature to the other in an
Acknowledgement whose ``in_reply_to`` is the record's message id (``record_signature``,
``record_signer_key_id``). Records and these acknowledgements are sealed to the sender too,
so either gateway can later open the record, collect both signatures and verify both
against the directory: a record is *complete* when both offices' signatures verify.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from gateway.protocol.errors import BadSignature, Malformed
from gateway.protocol.identity import ED25519, Directory, Keyring, fingerprint
from gateway.protocol.messages import MessageType, Payload, PbMessage, pb

__all__ = ["RECORD_DOMAIN", "RecordSignature", "agreement_to", "counter_proposal_to",
           "record_from", "sign_record", "verify_record_signature"]

RECORD_DOMAIN = b"blo-gateway/handover-record/v1\x00"


@dataclass(frozen=True)
class RecordSignature:
    office_id: str
    key_id: str
    fingerprint: str
    verified: bool
    problem: str = ""


def sign_record(keyring: Keyring, record: bytes, now_ms: int) -> tuple[str, bytes]:
    key = keyring.signing_key(now_ms)
    return key.key_id, key.signer.sign(RECORD_DOMAIN + record).signature


def verify_record_signature(directory: Directory, office_id: str, key_id: str,
                            signature: bytes, record: bytes, at_ms: int) -> RecordSignature:
    """Check one office's signature over the record; never raises, reports the problem."""
    try:
        key = directory.key(key_id, algorithm=ED25519, at_ms=at_ms)
        if key.office_id != office_id:
            raise BadSignature(f"key {key_id} is not {office_id}'s")
        nacl.signing.VerifyKey(key.public_key).verify(RECORD_DOMAIN + record, signature)
    except (BadSignature, nacl.exceptions.BadSignatureError, ValueError) as e:
        return RecordSignature(office_id, key_id, "", False, str(e) or "bad signature")
    except Exception as e:  # noqa: BLE001 - an unknown or revoked key is reported, not raised
        return RecordSignature(office_id, key_id, "", False, getattr(e, "message", str(e)))
    return RecordSignature(office_id, key_id, fingerprint(key.public_key), True)


_STEP_COUNTER, _STEP_AGREEMENT = 2, 3
_SHARED = ("border_gate", "handover_point", "handing_over_unit", "receiving_unit", "officers")


def agreement_to(notice: Payload, root_id: str, *, reply_to: str,
                 remarks: PbMessage | None = None) -> Payload:
    """The agreement to a proposal or counter-proposal (``notice``) of the handover whose
    plan is ``root_id``: the same plan, step ``agreement``, replying to the plan
    (``gateway.protocol.workflow``: proposed | counter_proposed → agreed)."""
    return _answer(notice, root_id, _STEP_AGREEMENT, reply_to, remarks)


def counter_proposal_to(notice: Payload, root_id: str, *, reply_to: str) -> Payload:
    """A counter-proposal to ``notice`` to be edited (another time, place, ...): the same
    plan, step ``counter_proposal``, replying to the plan (→ counter_proposed)."""
    return _answer(notice, root_id, _STEP_COUNTER, reply_to, None)


def _answer(notice: Payload, root_id: str, step: int, reply_to: str,
            remarks: PbMessage | None) -> Payload:
    if notice.message_type != MessageType.REPATRIATION_NOTICE:
        raise Malformed("only a repatriation notice can be answered with a plan")
    body = pb.RepatriationNotice()
    body.CopyFrom(notice.body)
    body.step = step
    body.context.in_reply_to = root_id
    body.context.reply_to = reply_to
    body.context.ClearField("deadline")
    body.ClearField("remarks")
    if remarks is not None:
        body.remarks.CopyFrom(remarks)
    return Payload(body)


def record_from(notice: Payload, notice_id: str, root_id: str) -> Payload:
    """A handover record pre-filled from the agreed plan (``notice``, message ``notice_id``):
    time, gate, point, units, officers and persons as agreed; it replies to the plan."""
    if notice.message_type != MessageType.REPATRIATION_NOTICE:
        raise Malformed("a handover record is made from a repatriation notice")
    plan = notice.body
    ctx = plan.context  # type: ignore[attr-defined]
    record = pb.HandoverRecord(
        context=pb.MessageContext(case_reference=ctx.case_reference, in_reply_to=root_id,
                                  priority=ctx.priority, handling_code=ctx.handling_code),
        notice_ref=notice_id)
    if plan.HasField("proposed_time"):
        record.executed_at.CopyFrom(plan.proposed_time)  # type: ignore[attr-defined]
    for name in _SHARED:
        if name == "officers":
            record.officers.extend(plan.officers)  # type: ignore[attr-defined]
        elif plan.HasField(name):
            getattr(record, name).CopyFrom(getattr(plan, name))
    for p in plan.persons:  # type: ignore[attr-defined]
        record.persons.add(request_ref=p.request_ref, person=p.person, is_minor=p.is_minor,
                           health=p.health)
    return Payload(record)
