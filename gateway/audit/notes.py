"""Signed checkpoints and cosignatures in the C2SP formats.

* Checkpoint (c2sp.org/tlog-checkpoint): the note body ``<origin>\\n<size>\\n<base64 root>\\n``.
* Signed note (c2sp.org/signed-note): body, an empty line, then signature lines
  ``— <key name> base64(key ID[4] ‖ signature)``; Ed25519 key ID =
  ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]``, signature over the body.
* Cosignature (c2sp.org/tlog-cosignature, cosignature/v1): key ID with algorithm byte 0x04,
  signature = ``timestamp u64be ‖ Ed25519(key, "cosignature/v1\\ntime <t>\\n" ‖ body)``.
* Suite 2 (hybrid, docs/audit-log.md "Suite 2"): beside each of those Ed25519 lines, an
  ML-DSA-65 line under the same key name, over the same bytes. C2SP assigns no signature type
  to ML-DSA-65 (0x06 is its ML-DSA-44 cosignature), so these use the type 0xff that
  c2sp.org/signed-note reserves for types it does not assign, followed by a long identifier:
  ``MLDSA65_NOTE`` for the checkpoint signature, ``MLDSA65_COSIGNATURE`` for the cosignature
  (``timestamp u64be ‖ ML-DSA-65 signature`` over the cosignature/v1 message). For an office
  (witness) that accepts suite 2 both lines are required; a missing ML-DSA-65 line is
  ``DOWNGRADE``.

A gateway's log origin is ``<office id>/audit/v1`` and is signed under that name with the
office's Ed25519 key; it cosigns the peer's checkpoints as ``<office id>/witness``. A cosignature
covers the whole note body, extension lines included (c2sp.org/tlog-cosignature); our
checkpoints carry none and our witnesses refuse any (``CheckpointExtension``). A witness key is
checked at the cosignature's own timestamp: valid then, and not revoked at or before it.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway.protocol import strict
from gateway.protocol.errors import (
    BadSignature,
    CheckpointExtension,
    Downgrade,
    KeyExpired,
    KeyRevoked,
    Malformed,
)
from gateway.protocol.identity import (
    ED25519,
    ML_DSA_65,
    SUITE_2,
    Directory,
    KeyInfo,
    Keyring,
    PrivateKey,
    newest_first,
)

__all__ = ["MLDSA65_COSIGNATURE", "MLDSA65_NOTE", "Checkpoint", "Cosignature", "cosign",
           "cosignatures", "key_id", "log_origin", "make_checkpoint", "own_note",
           "parse_checkpoint", "pq_cosignatures_from_ms", "refuse_extensions", "sign_line",
           "sign_line_mldsa65", "split_note", "verify_cosignature_line",
           "verify_cosignature_line_mldsa65", "verify_cosignatures",
           "verify_line", "verify_line_mldsa65", "verify_note", "witness_name"]

DASH = "\u2014"
#: c2sp.org/signed-note asks verifiers to accept at least 16 signatures, post-quantum ones
#: of up to 5 kB: 16 ML-DSA-65 lines (4.5 kB each in base64) fit.
MAX_NOTE = 128 * 1024
ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
#: Signature type of our ML-DSA-65 note signatures: 0xff (c2sp.org/signed-note: "reserved for
#: signature types without an identifier byte assigned by this specification", followed by a
#: longer identifier) ‖ this ASCII identifier.
MLDSA65_NOTE = b"\xff" + b"blo-gateway/note-mldsa65/v1"
#: ... and of our ML-DSA-65 cosignatures (cosignature/v1 message, timestamped).
MLDSA65_COSIGNATURE = b"\xff" + b"blo-gateway/cosignature-mldsa65/v1"
MLDSA65_SIG_LEN = 3309


def log_origin(office_id: str) -> str:
    return f"{office_id}/audit/v1"


def witness_name(office_id: str) -> str:
    return f"{office_id}/witness"


def key_id(name: str, alg: int | bytes, pk: bytes) -> bytes:
    """c2sp.org/signed-note key ID: ``SHA-256(name ‖ "\\n" ‖ type ‖ public key)[:4]``; the
    type is one byte (0x01, 0x04) or 0xff followed by its identifier (``MLDSA65_NOTE``)."""
    t = bytes([alg]) if isinstance(alg, int) else alg
    return hashlib.sha256(name.encode() + b"\n" + t + pk).digest()[:4]


def _mldsa_verify(pk: bytes, sig: bytes, msg: bytes) -> bool:
    try:
        mldsa.MLDSA65PublicKey.from_public_bytes(pk).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_line(name: str, signer: nacl.signing.SigningKey, body: str) -> str:
    """An Ed25519 (type 0x01) signature line of a signed note over ``body``."""
    sig = signer.sign(body.encode()).signature
    kid = key_id(name, 0x01, bytes(signer.verify_key))
    return f"{DASH} {name} {base64.b64encode(kid + sig).decode()}\n"


def sign_line_mldsa65(name: str, key: PrivateKey, body: str) -> str:
    """An ML-DSA-65 (type ``MLDSA65_NOTE``) signature line of a signed note over ``body``."""
    sig = key.pq_signer.sign(body.encode())
    kid = key_id(name, MLDSA65_NOTE, key.public_key)
    return f"{DASH} {name} {base64.b64encode(kid + sig).decode()}\n"


def verify_line_mldsa65(body: str, name: str, pk: bytes, blob: bytes) -> None:
    """Check one ML-DSA-65 note signature (key ID ‖ signature) by ``name``/``pk``."""
    if len(blob) != 4 + MLDSA65_SIG_LEN or blob[:4] != key_id(name, MLDSA65_NOTE, pk):
        raise BadSignature(f"not an ML-DSA-65 signature by {name}")
    if not _mldsa_verify(pk, blob[4:], body.encode()):
        raise BadSignature(f"ML-DSA-65 signature of {name} does not verify")


def verify_line(body: str, name: str, pk: bytes, blob: bytes) -> None:
    """Check one Ed25519 note signature (key ID ‖ signature) by ``name``/``pk`` over ``body``."""
    if len(blob) != 68 or blob[:4] != key_id(name, 0x01, pk):
        raise BadSignature(f"not a signature by {name}")
    try:
        nacl.signing.VerifyKey(pk).verify(body.encode(), blob[4:])
    except nacl.exceptions.BadSignatureError as e:
        raise BadSignature(f"signature of {name} does not verify") from e


def verify_cosignature_line(body: str, name: str, pk: bytes, blob: bytes) -> int:
    """Check one cosignature/v1 (type 0x04) by ``name``/``pk`` over the whole note body;
    returns its timestamp (Unix seconds)."""
    if len(blob) != 4 + 8 + 64 or blob[:4] != key_id(name, 0x04, pk):
        raise BadSignature(f"not a cosignature/v1 by {name}")
    (ts,) = struct.unpack(">Q", blob[4:12])
    if ts >= 2**63:
        raise BadSignature("cosignature timestamp out of range")
    msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
    try:
        nacl.signing.VerifyKey(pk).verify(msg, blob[12:])
    except nacl.exceptions.BadSignatureError as e:
        raise BadSignature(f"cosignature of {name} does not verify") from e
    return int(ts)


def verify_cosignature_line_mldsa65(body: str, name: str, pk: bytes, blob: bytes) -> int:
    """Check one ML-DSA-65 cosignature (type ``MLDSA65_COSIGNATURE``: key ID ‖ timestamp ‖
    signature over the cosignature/v1 message) by ``name``/``pk``; returns its timestamp."""
    if (len(blob) != 4 + 8 + MLDSA65_SIG_LEN
            or blob[:4] != key_id(name, MLDSA65_COSIGNATURE, pk)):
        raise BadSignature(f"not an ML-DSA-65 cosignature by {name}")
    ts = _timestamp(blob)
    if not _mldsa_verify(pk, blob[12:], _cosignature_message(body, ts)):
        raise BadSignature(f"ML-DSA-65 cosignature of {name} does not verify")
    return ts


def refuse_extensions(body: str) -> None:
    """Our witnesses cosign only the three lines of a checkpoint (origin, size, root)."""
    if body.count("\n") != 3:
        raise CheckpointExtension("checkpoint has extension lines, which this witness does not "
                                  "cosign")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    @property
    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise Malformed("not a checkpoint body")
    size = strict.uint(lines[1], "checkpoint size", max_digits=19)
    root = strict.b64(lines[2], "checkpoint root")
    if len(root) != 32:
        raise Malformed("checkpoint root is not 32 bytes")
    return Checkpoint(lines[0], size, root)


def split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(body, [(key name, key ID ‖ signature bytes)]) of a signed note."""
    if len(text) > MAX_NOTE or not text.endswith("\n"):
        raise Malformed("not a signed note")
    body, sep, sigs = text.rpartition("\n\n")
    if not sep:
        raise Malformed("a signed note needs an empty line before its signatures")
    out = []
    for line in sigs.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Malformed("bad signature line in note")
        out.append((parts[1], strict.b64(parts[2], "signature line")))
    return body + "\n", out


def _pq_key(keyring: Keyring, now_ms: int) -> PrivateKey | None:
    """The ML-DSA-65 key to sign with: the newest one the directory we hold lists, else the
    newest valid one the keyring holds (the directory that lists it is on its way; verifiers
    ignore a line by a key they do not know, c2sp.org/signed-note); None on suite 1."""
    try:
        return keyring.pq_signing_key(now_ms)
    except KeyExpired:
        valid = [k for k in keyring.keys if k.algorithm == ML_DSA_65 and k.valid_at(now_ms)]
        return max(valid, key=newest_first) if valid else None


def _want_pq(keyring: Keyring, now_ms: int, post_quantum: bool | None) -> PrivateKey | None:
    if post_quantum is False:
        return None
    key = _pq_key(keyring, now_ms)
    if key is None and post_quantum:
        raise KeyExpired(f"{keyring.office_id} holds no valid ML-DSA-65 key (suite 2)")
    return key


def make_checkpoint(keyring: Keyring, size: int, root: bytes, now_ms: int, *,
                    post_quantum: bool | None = None) -> str:
    """A checkpoint of our log, signed with our office key, and also with our ML-DSA-65 key
    if the keyring holds one (``post_quantum``: True requires it, False leaves it out)."""
    cp = Checkpoint(log_origin(keyring.office_id), size, root)
    note = cp.body + "\n" + sign_line(cp.origin, keyring.signing_key(now_ms).signer, cp.body)
    pq = _want_pq(keyring, now_ms, post_quantum)
    if pq is not None:
        note += sign_line_mldsa65(cp.origin, pq, cp.body)
    return note


def own_note(note: str) -> str:
    """A checkpoint with only its log's own signature lines (those under the origin's name),
    without the cosignatures collected so far: what is submitted to a witness."""
    body, _, sigs = note.partition("\n\n")
    origin = body.split("\n", 1)[0]
    mine = [line for line in sigs.split("\n") if line.startswith(f"{DASH} {origin} ")]
    return body + "\n\n" + "".join(line + "\n" for line in mine)


def verify_note(text: str, directory: Directory, office_id: str, *, at_ms: int,
                require_pq: bool | None = None) -> Checkpoint:
    """Verify a checkpoint signed by ``office_id``'s log key; returns it. Unknown lines are
    ignored; at least one Ed25519 signature by one of the office's keys must verify, and
    every line by a key of the office must verify (``BAD_SIGNATURE``). An ML-DSA-65 line
    must verify too if ``require_pq`` (by default: if the directory says the office accepts
    suite 2); without one, ``DOWNGRADE``."""
    body, sigs = split_note(text)
    cp = parse_checkpoint(body)
    if cp.origin != log_origin(office_id):
        raise Malformed(f"checkpoint origin {cp.origin!r} is not {office_id}'s log")
    office = directory.office(office_id)
    ed_keys = {key_id(cp.origin, ED25519_TYPE, k.public_key): k for k in office.keys
               if k.algorithm == ED25519}
    pq_keys = {key_id(cp.origin, MLDSA65_NOTE, k.public_key): k for k in office.keys
               if k.algorithm == ML_DSA_65}
    ed_ok = pq_ok = False
    for name, blob in sigs:
        if name != cp.origin:
            continue
        if (k := ed_keys.get(blob[:4])) is not None and len(blob) == 68:
            directory.key(k.key_id, algorithm=ED25519, at_ms=at_ms)
            try:
                nacl.signing.VerifyKey(k.public_key).verify(body.encode(), blob[4:])
            except nacl.exceptions.BadSignatureError as e:
                raise BadSignature(f"checkpoint signature of {office_id} does not verify") from e
            ed_ok = True
        elif (k := pq_keys.get(blob[:4])) is not None:
            directory.key(k.key_id, algorithm=ML_DSA_65, at_ms=at_ms)
            verify_line_mldsa65(body, name, k.public_key, blob)
            pq_ok = True
    if not ed_ok:
        raise BadSignature(f"no valid signature of {office_id} on the checkpoint")
    need = SUITE_2 in office.suites if require_pq is None else require_pq
    if need and not pq_ok:
        raise Downgrade(f"{office_id} accepts suite 2 but its checkpoint of size {cp.size} "
                        "has no ML-DSA-65 signature")
    return cp


def _cosignature_message(body: str, ts: int) -> bytes:
    return f"cosignature/v1\ntime {ts}\n".encode() + body.encode()


def cosign(keyring: Keyring, body: str, now_ms: int, *,
           post_quantum: bool | None = None) -> str:
    """Our cosignature line on a checkpoint: over the whole note ``body`` as C2SP says; and
    the ML-DSA-65 line with the same time over the same message if the keyring holds an
    ML-DSA-65 key (``post_quantum`` as for ``make_checkpoint``)."""
    name = witness_name(keyring.office_id)
    ts = now_ms // 1000
    at = ts * 1000  # the keys must be valid at the time the line states (its whole second)
    key = keyring.signing_key(at)
    msg = _cosignature_message(body, ts)
    sig = key.signer.sign(msg).signature
    blob = key_id(name, COSIGNATURE_TYPE, key.public_key) + struct.pack(">Q", ts) + sig
    lines = f"{DASH} {name} {base64.b64encode(blob).decode()}\n"
    pq = _want_pq(keyring, at, post_quantum)
    if pq is not None:
        blob = (key_id(name, MLDSA65_COSIGNATURE, pq.public_key) + struct.pack(">Q", ts)
                + pq.pq_signer.sign(msg))
        lines += f"{DASH} {name} {base64.b64encode(blob).decode()}\n"
    return lines


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness office, which key, when (Unix seconds); for a
    suite-2 witness also its ML-DSA-65 key (``pq_key_id``, empty if it made none)."""

    office_id: str
    key_id: str
    timestamp: int
    pq_key_id: str = ""


def _usable_at(directory: Directory, k: KeyInfo, at_ms: int, algorithm: str = ED25519) -> None:
    """The key was valid and not yet revoked at ``at_ms`` (the time it signed)."""
    revoked_at = directory.revoked.get(k.key_id)
    if revoked_at is not None and revoked_at <= at_ms:
        raise KeyRevoked(f"witness key {k.key_id} of {k.office_id} was revoked before it "
                         "cosigned")
    try:
        directory.key(k.key_id, algorithm=algorithm, at_ms=at_ms)
    except KeyRevoked:
        if revoked_at is None or revoked_at <= at_ms:
            raise
    if not k.not_before_ms <= at_ms < k.not_after_ms:
        raise KeyExpired(f"witness key {k.key_id} of {k.office_id} was not valid when it "
                         "cosigned")


def _timestamp(blob: bytes) -> int:
    (ts,) = struct.unpack(">Q", blob[4:12])
    if ts >= 2**63:
        raise BadSignature("cosignature timestamp out of range")
    return int(ts)


def pq_cosignatures_from_ms(directory: Directory, witness_office: str) -> int | None:
    """From when on ``witness_office``'s cosignatures must carry their ML-DSA-65 line (None:
    never, the directory does not say it accepts suite 2): from the later of the directory's
    issue and the first validity of its ML-DSA-65 keys. Cosignatures are timestamped but
    the bundle holds one directory, so this is the rule (docs/audit-log.md, Suite 2)."""
    office = directory.office(witness_office)
    starts = [k.not_before_ms for k in office.keys if k.algorithm == ML_DSA_65]
    if SUITE_2 not in office.suites or not starts:
        return None
    return max(directory.issued_at_ms, min(starts))


def cosignatures(text: str, directory: Directory, witness_office: str) -> list[Cosignature]:
    """The cosignatures by ``witness_office`` on a signed checkpoint, each checked at its own
    timestamp; a line by one of that office's keys that does not verify raises BadSignature,
    and one made with a key revoked or outside its validity then raises KeyRevoked/KeyExpired.
    A suite-2 witness's Ed25519 cosignature needs its ML-DSA-65 line of the same time (from
    ``pq_cosignatures_from_ms``), else ``DOWNGRADE``."""
    body, sigs = split_note(text)
    name = witness_name(witness_office)
    office = directory.office(witness_office)
    keys = {key_id(name, COSIGNATURE_TYPE, k.public_key): k for k in office.keys
            if k.algorithm == ED25519}
    pq_keys = {key_id(name, MLDSA65_COSIGNATURE, k.public_key): k for k in office.keys
               if k.algorithm == ML_DSA_65}
    out: list[Cosignature] = []
    pq_at: dict[int, str] = {}
    for sname, blob in sigs:
        if sname != name:
            continue
        if (k := keys.get(blob[:4])) is not None:
            if len(blob) != 4 + 8 + 64:
                raise BadSignature("cosignature has the wrong length")
            ts = verify_cosignature_line(body, name, k.public_key, blob)
            _usable_at(directory, k, ts * 1000)
            out.append(Cosignature(witness_office, k.key_id, ts))
        elif (k := pq_keys.get(blob[:4])) is not None:
            if len(blob) != 4 + 8 + MLDSA65_SIG_LEN:
                raise BadSignature("ML-DSA-65 cosignature has the wrong length")
            ts = verify_cosignature_line_mldsa65(body, name, k.public_key, blob)
            _usable_at(directory, k, ts * 1000, ML_DSA_65)
            pq_at[ts] = k.key_id
    since = pq_cosignatures_from_ms(directory, witness_office)
    if since is not None:
        for c in out:
            if c.timestamp not in pq_at and c.timestamp * 1000 >= since:
                raise Downgrade(f"{witness_office} accepts suite 2 but its cosignature of "
                                f"{c.timestamp} has no ML-DSA-65 line")
    return [Cosignature(c.office_id, c.key_id, c.timestamp, pq_at.get(c.timestamp, ""))
            for c in out]


def verify_cosignatures(text: str, directory: Directory, witness_office: str, *,
                        at_ms: int) -> list[int]:
    """Timestamps of the valid cosignatures by ``witness_office`` (see ``cosignatures``);
    ``at_ms`` is unused: each cosignature is checked at its own time."""
    _ = at_ms
    return [c.timestamp for c in cosignatures(text, directory, witness_office)]
