"""The courier: the peer link carried on removable media while the border link is down.

``export_bundle`` writes one signed bundle (``gateway.protocol.courier``) for a peer office:
every envelope still queued for it (already signed and sealed; up to the size limit, those
no bundle carried first, then those carried longest ago, then urgent first: a second bundle
written at once carries what did not fit in the first), the receipts we owe it for envelopes that
came by courier, a witness request for our latest checkpoint, and our latest cosignature of
its log. Nothing leaves the queue: an envelope stays queued until a receipt for it comes
back, by a later bundle or over the link when it returns (the peer deduplicates).

``import_bundle`` on the other side goes through exactly what the link uses: the bundle's
signature, destination and order (a replay: ``REPLAY``, an older bundle: ``STALE_BUNDLE``,
checked before any item is looked at), then receipts as delivery checks them (each marks its
message delivered, the same audit leaf), cosignatures as witnessing checks them, the witness
request as the peer API's witness endpoint answers it, and last the envelopes through
``gateway.node.reception`` (the peer API's checks, dedupe and receipts) in one transaction with
the bundle's claim and its ``courier.imported`` leaf: importing a bundle twice changes nothing.
The receipts for those envelopes travel back in the next bundle to the issuer (the
``--return-out`` of ``blo-gateway courier import``) until a bundle of the issuer acknowledges
it. Both sides' audit logs record each bundle (digest, sequence, counts; no content).
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.audit.notes import log_origin, parse_checkpoint, split_note, witness_name
from gateway.node.delivery import receipted, record_delivered
from gateway.node.logs import get_logger
from gateway.node.ports import CourierHost
from gateway.node.reception import receive_envelopes
from gateway.node.witness import (
    accept_cosignature,
    add_checkpoint,
    current_checkpoint,
    witness_request,
)
from gateway.protocol import courier
from gateway.protocol.errors import GatewayError, Malformed, NotFound, PayloadTooLarge
from gateway.protocol.receipt import read_receipt
from gateway.store import BundleClaim

__all__ = ["export_bundle", "import_bundle"]

log = get_logger("courier")
#: Room kept in a bundle for its manifest and framing per item, and for the rest.
_PER_ITEM = 100
_RESERVE = 512


async def export_bundle(gw: CourierHost, peer: str, *,
                        max_bytes: int = courier.MAX_BUNDLE_BYTES) -> tuple[bytes, dict[str, Any]]:
    """The next bundle for ``peer`` and its summary; recorded (and audited) as written."""
    if peer == gw.office_id or peer not in gw.directory.offices:
        raise NotFound(f"office {peer} is not a peer in the trust directory")
    gw.trust.require_current()
    max_bytes = min(max_bytes, courier.MAX_BUNDLE_BYTES)
    async with gw.courier_lock:
        now = gw.clock.now_ms()
        owed = await gw.store.call(gw.store.sync.courier_owed, peer)
        extra: list[tuple[str, bytes]] = [("receipt", r) for _, r in owed]
        _, body_note, size = await current_checkpoint(gw)
        old = await gw.store.call(gw.store.sync.witnessed_size, peer)
        if old < size:
            extra.append(("witness", await witness_request(gw, old, size, body_note)))
        cosigned = await gw.store.call(gw.store.sync.witness_latest_note, log_origin(peer))
        if cosigned is not None:
            extra.append(("cosignature", cosigned.encode()))
        budget = max_bytes - _RESERVE - sum(len(d) + _PER_ITEM for _, d in extra)
        queued, left = await gw.store.call(gw.store.sync.courier_queued, peer, now,
                                           max(0, budget))
        while queued and budget - _PER_ITEM * len(queued) < 0:  # the manifest's share
            queued.pop()
            left += 1
        sequence, ack = await gw.store.call(gw.store.sync.courier_sequences, peer)
        while True:
            data = courier.make_bundle(
                gw.keyring, destination=peer, sequence=sequence, created_at_ms=now,
                ack_sequence=ack, items=[*(("envelope", i.raw) for i in queued), *extra])
            if len(data) <= max_bytes:
                break
            if not queued:
                raise PayloadTooLarge(f"a bundle for {peer} needs more than {max_bytes} "
                                      "bytes for its receipts and checkpoints alone")
            queued.pop()
            left += 1
        sha = hashlib.sha256(data).digest()
        checkpoints = sum(1 for k, _ in extra if k in ("witness", "cosignature"))
        await gw.store.call(
            gw.store.sync.courier_record_export, peer, sequence=sequence, sha256=sha,
            created_at_ms=now, outbox_ids=[i.outbox_id for i in queued],
            owed_ids=[e for e, _ in owed],
            event={"t": now, "type": "courier.exported", "peer": peer, "sequence": sequence,
                   "bundle_sha256": sha.hex(), "envelopes": len(queued),
                   "receipts": len(owed), "checkpoints": checkpoints})
    summary = {"issuer": gw.office_id, "destination": peer, "sequence": sequence,
               "ack_sequence": ack, "bundle_sha256": sha.hex(), "bytes": len(data),
               "envelopes": len(queued), "receipts": len(owed), "checkpoints": checkpoints,
               "left_queued": left}
    log.info("courier_exported", peer=peer, sequence=sequence, envelopes=len(queued),
             receipts=len(owed), left=left, bundle_sha256=sha.hex())
    return data, summary


async def import_bundle(gw: CourierHost, data: bytes) -> dict[str, Any]:
    """Verify and apply a bundle addressed to this office; its summary (module doc)."""
    gw.trust.require_current()
    async with gw.courier_lock:
        now = gw.clock.now_ms()
        b = courier.verify_bundle(data, gw.directory, me=gw.office_id, now_ms=now)
        await gw.store.call(gw.store.sync.courier_check, b.issuer, b.sequence, b.sha256)
        delivered, ignored = await _receipts(gw, b.issuer, b.of_kind("receipt"),
                                             b.created_at_ms)
        cosigned = [await _cosignature(gw, b.issuer, n) for n in b.of_kind("cosignature")]
        witnessed = []
        for body in b.of_kind("witness"):
            ans = await add_checkpoint(gw, b.issuer, body)
            witnessed.append(ans.status == 200)
            if ans.status != 200:
                log.warning("courier_witness_refused", peer=b.issuer, status=ans.status)
        blobs = b.of_kind("envelope")
        claim = BundleClaim(b.issuer, b.sequence, b.sha256, b.created_at_ms, b.ack_sequence,
                            len(blobs), len(b.of_kind("receipt")))
        leaf = {"t": now, "type": "courier.imported", "peer": b.issuer, "sequence": b.sequence,
                "bundle_sha256": b.sha256.hex(), "envelopes": len(blobs),
                "receipts": claim.receipts, "checkpoints": len(cosigned) + len(witnessed)}
        results = await receive_envelopes(gw, b.issuer, blobs, bundle=claim, events=[leaf],
                                          via="courier")
    counts = {"accepted": 0, "duplicate": 0, "refused": 0}
    for r in results:
        counts[r.get("status", "refused")] += 1
    summary = {"issuer": b.issuer, "sequence": b.sequence, "ack_sequence": b.ack_sequence,
               "bundle_sha256": b.sha256.hex(), "envelopes": counts,
               "refused": [{"index": i, "code": r["code"]} for i, r in enumerate(results)
                           if "code" in r],
               "receipts": {"delivered": delivered, "ignored": ignored},
               "cosignatures_accepted": sum(cosigned), "checkpoints_cosigned": sum(witnessed)}
    log.info("courier_imported", peer=b.issuer, sequence=b.sequence, **counts,
             receipts=delivered, bundle_sha256=b.sha256.hex())
    return summary


async def _receipts(gw: CourierHost, peer: str, blobs: list[bytes],
                    written_ms: int) -> tuple[int, int]:
    """Receipts ``peer`` signed for our envelopes: each one for an envelope still queued for
    it marks that message delivered, as a receipt over HTTP does. (delivered, ignored). The
    receipts' round trip is counted from when the peer wrote the bundle (its clock)."""
    now = gw.clock.now_ms()
    readable = []
    for blob in blobs:
        try:
            readable.append(read_receipt(blob, gw.directory, receiver=peer, now_ms=now))
        except GatewayError as e:
            log.warning("courier_receipt_refused", peer=peer, code=e.code)
    items = {i.message_id: i for i in await gw.store.call(
        gw.store.sync.outbox_queued, peer, [r.message_id for r in readable])}
    delivered, matched = [], []
    for rec in readable:
        item = items.pop(rec.message_id, None)
        if item is None:
            continue  # delivered already (over the link or an earlier bundle), or not ours
        try:
            delivered.append(receipted(gw, peer, item, rec.raw, now))
        except GatewayError:
            continue
        matched.append(item)
    if delivered:
        await record_delivered(gw, peer, matched, delivered, sent_ms=min(written_ms, now),
                               now_ms=now)
    return len(delivered), len(blobs) - len(delivered)


async def _cosignature(gw: CourierHost, peer: str, blob: bytes) -> bool:
    """``peer``'s cosignature of one of our checkpoints, as its witness answer would be."""
    try:
        note = blob.decode("utf-8")
        body, _ = split_note(note)
        cp = parse_checkpoint(body)
        if not body.startswith(log_origin(gw.office_id) + "\n"):
            raise Malformed("a cosignature of another log")
    except (UnicodeDecodeError, GatewayError):
        log.warning("courier_cosignature_refused", peer=peer)
        return False
    cid = await gw.store.call(gw.store.sync.checkpoint_id, cp.size, cp.root)
    if cid is None or cp.size < await gw.store.call(gw.store.sync.witnessed_size, peer):
        return False  # not a checkpoint we signed, or older than what it cosigned already
    prefix = "\u2014 " + witness_name(peer) + " "
    ours = [ln for ln in note[len(body) + 1:].split("\n") if ln and not ln.startswith(prefix)]
    lines = "".join(ln + "\n" for ln in note[len(body) + 1:].split("\n")
                    if ln.startswith(prefix))
    if not ours or not lines:
        return False
    body_note = body + "\n" + ours[0] + "\n"
    return await accept_cosignature(gw, peer, cid, cp.size, body_note, lines)
