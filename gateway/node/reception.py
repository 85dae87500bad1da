"""Reception: envelopes from a peer office, whatever carried them (the peer API or a courier
bundle), checked and stored the one way.

``receive_envelopes`` is the only path by which a peer's envelope enters the store. Per
envelope, in order: ``envelope.verify`` (size limit, framing, signer key, signature over the
exact bytes before any parsing, then the header's times), the sender must be the
authenticated origin (the request's signer, or the bundle's issuer: no relaying), this
office must be a recipient, and the envelope's suite must not be lower than the one its
sender and recipients all accept (``envelope.check_downgrade``: ``DOWNGRADE``); refusals are
audit leaves (``envelope.rejected``). Then one transaction: the request's nonce or the
courier bundle's claim (a replay fails it whole), dedupe on (sender, message id) with the
stored receipt for a repeat, the workflow step, the audit leaves, and for each new envelope
a receipt signed by this office, in the envelope's suite (a suite-2 envelope gets a
version-2 receipt with both signatures).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from gateway.node.alerts import Arrival
from gateway.node.logs import get_logger
from gateway.node.ports import ReceptionHost
from gateway.protocol import envelope
from gateway.protocol.errors import BadSignature, GatewayError, NotARecipient
from gateway.protocol.receipt import make_receipt
from gateway.store import BundleClaim, Incoming

__all__ = ["receive_envelopes"]

log = get_logger("reception")


async def receive_envelopes(gw: ReceptionHost, origin: str, blobs: Sequence[bytes], *,
                            nonce: str | None = None, bundle: BundleClaim | None = None,
                            events: Sequence[dict[str, Any]] = (),
                            via: str = "peer_api") -> list[dict[str, Any]]:
    """Check and store ``blobs`` from the authenticated ``origin``; one result per blob, in
    order: ``{"status": "accepted"|"duplicate", "message_id", "receipt"}`` (receipt in
    base64) or ``{"code", "message"}``. ``nonce``: the peer request's (recorded in the same
    transaction); ``bundle``: the courier bundle's claim; ``events``: further audit leaves
    of the same transaction."""
    now = gw.clock.now_ms()
    results: list[dict[str, Any] | None] = []
    accepted: list[tuple[int, Incoming]] = []
    refused: list[dict[str, Any]] = []
    for i, blob in enumerate(blobs):
        try:
            env = envelope.verify(blob, gw.directory, now_ms=now,
                                  max_size=gw.config.max_envelope_bytes)
            h = env.header
            if h.sender != origin:
                raise BadSignature(f"envelope from {h.sender} relayed by {origin}")
            if gw.office_id not in h.recipient_offices:
                raise NotARecipient(f"{gw.office_id} is not a recipient")
            envelope.check_downgrade(env, gw.directory, upgraded_at=gw.trust.upgraded_at,
                                     now_ms=now)
        except GatewayError as e:
            log.warning("envelope_refused", origin=origin, index=i, code=e.code, via=via)
            results.append({"code": e.code, "message": e.message})
            refused.append({"t": now, "type": "envelope.rejected", "peer": origin,
                            "code": e.code, "envelope_sha256": hashlib.sha256(blob).hexdigest()})
            continue
        results.append(None)
        accepted.append((i, Incoming(
            h.message_id, h.sender, h.recipient_offices, int(h.message_type), env.sha256,
            blob, h.created_at_ms, h.expires_at_ms, h.case_reference, h.in_reply_to,
            int(h.priority), int(h.handling_code), h.deadline_ms, h.workflow_step)))

    def sign(inc: Incoming, at_ms: int) -> bytes:
        return make_receipt(gw.keyring, message_id=inc.message_id, sender=inc.sender,
                            envelope_sha256=inc.sha256, received_at_ms=at_ms,
                            suite=envelope.suite_of(inc.raw))

    # One transaction: the request's nonce or the bundle's claim (a replay fails it whole),
    # the refusals for the audit log, and the accepted envelopes with their receipts.
    stored = await gw.store.write(
        gw.store.sync.receive, [a for _, a in accepted], now_ms=now, sign_receipt=sign,
        me=gw.office_id,
        nonce=None if nonce is None else (origin, nonce, now + 2 * gw.config.max_skew_ms),
        events=[*events, *refused], bundle=bundle)
    for (i, inc), res in zip(accepted, stored, strict=True):
        if res.status == "invalid":
            results[i] = {"code": "INVALID_TRANSITION", "message": res.detail}
        elif res.status == "conflict":
            results[i] = {"code": "CONFLICT", "message":
                          "this message id was received before with different bytes"}
            log.warning("envelope_conflict", origin=origin, message_id=inc.message_id.hex(),
                        via=via)
        else:
            results[i] = {"status": res.status, "message_id": inc.message_id.hex(),
                          "receipt": base64.b64encode(res.receipt).decode("ascii")}
            if res.status == "accepted":  # newly stored: the open pages learn of it
                gw.alerts.publish(Arrival(inc.message_id.hex(), inc.message_type, inc.priority,
                                          inc.sender, inc.case_reference, now))
    if accepted:
        log.info("envelopes_received", origin=origin, count=len(accepted), via=via)
    return [r for r in results if r is not None]
