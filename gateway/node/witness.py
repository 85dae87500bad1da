"""Cross-border witnessing of the audit logs (after C2SP tlog-witness).

Each gateway signs checkpoints of its own audit log and submits them to its peer gateways
(``witnesses`` of them, the other country's first: ``witness_order``; with the scenario's
offices, every peer), each of which cosigns a checkpoint only if it extends the last one it
cosigned for that log (a consistency proof from the old size). So each witness holds the
office's signed promise about its history: a rollback, a truncation or a split view (two
different trees shown) is refused by the witness and raised as an alert on both
sides, and an offline auditor holding both bundles sees it too. With more peers than
``witnesses``, a peer outside an office's witness set holds no such promise of that office's
log (the pair's bundles then have no cosignature to compare); every log still has
``witnesses`` of them, the other country's first. The check and the record
are one compare-and-set in the store, so processes of one gateway sharing a PostgreSQL
schema may all answer witness requests (``witness_lock`` serialises them within one).

Request body (``POST /peer/v1/witness/add-checkpoint``): ``old <size>\\n``, the
consistency proof lines (base64), an empty line, the signed checkpoint. Answers: 200
with the cosignature line; 409 ``text/x.tlog.size`` with the size we hold; 422 when
the proof fails; 400 for a smaller tree, ``CHECKPOINT_EXTENSION`` for a checkpoint with
extension lines (we cosign only origin, size and root: docs/audit-log.md), and ``DOWNGRADE``
for a checkpoint of an office that accepts suite 2 (per our directory) without its ML-DSA-65
line; 403 for a bad signature; 404 for a log that is not the requesting office's own. A
witness whose keyring holds an ML-DSA-65 key answers with two lines: the Ed25519
cosignature/v1 and the ML-DSA-65 one (gateway/audit/notes.py).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import aiohttp

from gateway.audit.merkle import ProofError, verify_consistency
from gateway.audit.notes import (
    cosign,
    log_origin,
    make_checkpoint,
    own_note,
    refuse_extensions,
    split_note,
    verify_cosignatures,
    verify_note,
)
from gateway.node.delivery import read_answer
from gateway.node.logs import get_logger
from gateway.node.ports import WitnessHost
from gateway.protocol import peerrequest, strict
from gateway.protocol.errors import (
    BadSignature,
    Downgrade,
    GatewayError,
    Malformed,
    PayloadTooLarge,
)

__all__ = ["WitnessAnswer", "accept_cosignature", "add_checkpoint", "checkpoint_and_witness",
           "current_checkpoint", "witness_order", "witness_request"]

log = get_logger("witness")
PATH = "/peer/v1/witness/add-checkpoint"
#: audit events that only record witnessing (not what the office did): alone, they do not
#: call for a new checkpoint before ``BOOKKEEPING_REFRESH_MS`` (``current_checkpoint``)
BOOKKEEPING = frozenset({"checkpoint.cosigned"})
BOOKKEEPING_REFRESH_MS = 30 * 60 * 1000
MAX_PROOF_LINES = 63


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain"


def _parse(body: bytes) -> tuple[int, list[bytes], str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed("witness request is not UTF-8") from e
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise Malformed("witness request must start with 'old <size>' and an empty line")
    old = strict.uint(lines[0][4:], "old size", max_digits=19)
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Malformed("too many consistency proof lines")
    proof = [strict.b64(x, "proof line") for x in lines[1:]]
    if any(len(p) != 32 for p in proof):
        raise Malformed("a proof line is not a 32-byte hash")
    return old, proof, note


async def add_checkpoint(gw: WitnessHost, origin_office: str, body: bytes) -> WitnessAnswer:
    """Witness a checkpoint of ``origin_office``'s log (the authenticated requester)."""
    old, proof, note = _parse(body)
    now = gw.clock.now_ms()
    if not note.startswith(log_origin(origin_office) + "\n"):
        return WitnessAnswer(404, "only an office's own log can be submitted by it\n")
    try:
        cp = verify_note(note, gw.directory, origin_office, at_ms=now)
    except Downgrade as e:  # a suite-2 office's checkpoint without its ML-DSA-65 line
        log.warning("witness_refused", origin=log_origin(origin_office), code=e.code)
        return WitnessAnswer(e.http_status, f"{e.code}: {e.message}\n")
    except GatewayError as e:
        return WitnessAnswer(403, f"{e.code}: {e.message}\n")
    body_text, _ = split_note(note)
    try:
        refuse_extensions(body_text)
    except GatewayError as e:
        log.warning("witness_refused", origin=cp.origin, code=e.code)
        return WitnessAnswer(e.http_status, f"{e.code}: {e.message}\n")
    if old > cp.size:
        await gw.store.call(gw.store.sync.alert, cp.origin, "rollback",
                            f"{origin_office} offered size {cp.size} after {old}", now)
        return WitnessAnswer(400, "old size is larger than the checkpoint\n")
    async with gw.witness_lock:  # check and record atomically
        latest = await gw.store.call(gw.store.sync.witness_latest, cp.origin)
        held = latest[0] if latest else 0
        if old != held:
            if latest and cp.size < held:
                await gw.store.call(gw.store.sync.alert, cp.origin, "rollback",
                                    f"checkpoint of size {cp.size} after {held}", now)
            return WitnessAnswer(409, f"{held}\n", "text/x.tlog.size")
        if latest:
            try:
                verify_consistency(held, cp.size, latest[1], cp.root, proof)
            except ProofError as e:
                kind = "fork" if cp.size == held else "inconsistent"
                await gw.store.call(gw.store.sync.alert, cp.origin, kind,
                                    f"size {held} -> {cp.size}: {e.message}", now)
                log.error("witness_refused", origin=cp.origin, kind=kind)
                return WitnessAnswer(409 if kind == "fork" else 422, f"{e.message}\n")
        elif proof:
            return WitnessAnswer(422, "proof must be empty from size 0\n")
        line = cosign(gw.keyring, body_text, now)
        if not await gw.store.call(gw.store.sync.witness_record, cp.origin, origin_office,
                                   cp.size, cp.root, note + line, now, after=held):
            # Another process of this gateway cosigned meanwhile (one PostgreSQL schema):
            # the requester retries from the size we hold now.
            latest = await gw.store.call(gw.store.sync.witness_latest, cp.origin)
            return WitnessAnswer(409, f"{latest[0] if latest else 0}\n", "text/x.tlog.size")
    return WitnessAnswer(200, line)


async def current_checkpoint(gw: WitnessHost) -> tuple[int, str, int]:
    """Our latest checkpoint (signing a new one if the log grew): its id, the note as we
    signed it (without the cosignatures collected so far), and its size.

    Witnessing writes to the witness's own log (``checkpoint.cosigned``), so two idle
    gateways would otherwise sign a new checkpoint for each other every round, for ever (with
    suite 2 some 9 KB each). When all that the log gained since the latest checkpoint is
    such bookkeeping, the latest checkpoint serves for up to ``BOOKKEEPING_REFRESH_MS``;
    anything else an office logs gets a new checkpoint at once, as before. (The auditor's
    witness-lag rule lets these entries wait as long: docs/audit-log.md.)"""
    now = gw.clock.now_ms()
    size, root = await gw.store.call(gw.store.sync.audit_head)
    latest = await gw.store.call(gw.store.sync.latest_checkpoint)
    if (latest is not None and latest["size"] < size
            and now - latest["created_ms"] < BOOKKEEPING_REFRESH_MS
            and await gw.store.call(gw.store.sync.audit_only_types, latest["size"], size,
                                    BOOKKEEPING)):
        size = latest["size"]
    if latest is None or latest["size"] != size:
        note = make_checkpoint(gw.keyring, size, root, now)
        cid = await gw.store.call(gw.store.sync.add_checkpoint, size, root, note, now)
    else:
        note, cid = latest["note"], latest["id"]
        size = latest["size"]
    return cid, own_note(note), size


async def witness_request(gw: WitnessHost, old: int, size: int, body_note: str) -> bytes:
    """The body that asks a witness holding our log at ``old`` to cosign ``body_note``."""
    proof = (await gw.store.call(gw.store.sync.audit_consistency, old, size)
             if 0 < old < size else [])
    return (f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
            + "\n" + body_note).encode()


async def accept_cosignature(gw: WitnessHost, peer: str, cid: int, size: int, body_note: str,
                             lines: str) -> bool:
    """Check ``peer``'s cosignature ``lines`` on our checkpoint ``cid`` and keep them; a bad
    one is an alert. Whether they came as the witness's answer or in a courier bundle.

    A cosignature cannot be older than the checkpoint it cosigns (less the allowed clock
    skew): one dated earlier is refused (``BAD_SIGNATURE``), since whether a suite-2 witness's
    ML-DSA-65 line is required depends on that date (``notes.pq_cosignatures_from_ms``)."""
    now = gw.clock.now_ms()
    created = await gw.store.call(gw.store.sync.checkpoint_created_ms, cid)
    try:
        stamps = verify_cosignatures(body_note + lines, gw.directory, peer, at_ms=now)
        if not stamps:
            raise Malformed(f"no cosignature by {peer}")
        if min(stamps) * 1000 < created - gw.config.max_skew_ms:
            raise BadSignature(f"cosignature by {peer} dated before the checkpoint it cosigns")
    except GatewayError as e:
        await gw.store.call(gw.store.sync.alert, log_origin(gw.office_id),
                            "bad_cosignature", f"{peer}: {e.message}", now)
        return False
    await gw.store.call(gw.store.sync.add_cosignature, cid, peer, size, lines, now)
    log.info("checkpoint_cosigned", peer=peer, size=size)
    return True


def witness_order(gw: WitnessHost) -> list[str]:
    """Every peer, in the order they are asked to cosign our checkpoints: the offices of the
    other country first (the auditor's verifier requires one of them), then our own; within
    each, an order of our own (SHA-256 of our id and theirs), so that twenty offices spread
    the witnessing among them instead of all asking the same few."""
    offices = gw.directory.offices
    ours = offices[gw.office_id].country if gw.office_id in offices else ""

    def key(peer: str) -> tuple[bool, bytes]:
        country = offices[peer].country if peer in offices else ours
        return (country == ours,
                hashlib.sha256(f"{gw.office_id}\0{peer}".encode()).digest())

    return sorted(gw.deliveries, key=key)


async def checkpoint_and_witness(gw: WitnessHost) -> None:
    """Sign a checkpoint of our log if it grew, and have it cosigned by ``witnesses`` peers
    (gateway.toml; 0: every peer), asked in ``witness_order``: a peer that cannot or will
    not cosign is passed over for the next one in that order, this round."""
    cid, body_note, size = await current_checkpoint(gw)
    want = gw.config.witnesses or len(gw.deliveries)
    cosigned = 0
    for peer in witness_order(gw):
        if cosigned >= want:
            break
        cosigned += await _cosigned_by(gw, peer, cid, size, body_note)


async def _cosigned_by(gw: WitnessHost, peer: str, cid: int, size: int,
                       body_note: str) -> bool:
    """Whether ``peer`` holds our log cosigned at ``size`` (asking it if it does not yet)."""
    d = gw.deliveries[peer]
    old = await gw.store.call(gw.store.sync.witnessed_size, peer)
    if old == size:
        return True  # this peer has already cosigned this size
    for _ in range(2):  # a 409 tells us the size the witness holds; retry once with it
        request = await witness_request(gw, old, size, body_note)
        req = peerrequest.sign(gw.keyring, gw.directory, method="POST", path_qs=PATH,
                               destination=peer, body=request, now_ms=gw.clock.now_ms())
        try:
            async with gw.http.post(d.url + PATH, data=request, headers=req.headers,
                                    timeout=aiohttp.ClientTimeout(total=10)) as resp:
                status, raw = resp.status, await read_answer(resp)
                answer_headers = resp.headers.copy()
            text = raw.decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError, PayloadTooLarge):
            return False  # unreachable (or an answer over the limit): next round
        if req.version >= 2 and not peerrequest.answer_verified(
                req, status=status, headers=answer_headers, body=raw,
                directory=gw.directory, now_ms=gw.clock.now_ms(),
                max_skew_ms=gw.config.max_skew_ms):
            # An answer a suite-2 witness did not sign may not be its own: act on
            # nothing it says (no size, no alert, no cosignature: a forged Ed25519-only
            # cosignature dated before the switch would pass); the next round asks again.
            log.warning("witness_answer_unsigned", peer=peer, status=status)
            return False
        try:
            held = strict.uint(text.strip(), "size") if status == 409 else None
        except GatewayError:
            held = None
        if held is not None:
            if held > size:
                await gw.store.call(gw.store.sync.alert, log_origin(gw.office_id),
                                    "peer_saw_more", f"{peer} holds size {held} > {size}",
                                    gw.clock.now_ms())
                return False
            old = held
            continue
        if status != 200:
            await gw.store.call(gw.store.sync.alert, log_origin(gw.office_id),
                                "not_cosigned", f"{peer}: HTTP {status} {text[:100]}",
                                gw.clock.now_ms())
            return False
        return await accept_cosignature(gw, peer, cid, size, body_note, text)
    return False
