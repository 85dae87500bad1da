"""Signed checkpoints and cosignatures in the C2SP formats.

* Checkpoint (c2sp.org/tlog-checkpoint): the note body ``<origin>\\n<size>\\n<base64 root>\\n``.
* Signed note (c2sp.org/signed-note): body, an empty line, then signature lines
  ``— <key name> base64(key ID[4] ‖ signature)``; Ed25519 key ID =
  ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]``, signature over the body.
* Cosignature (c2sp.org/tlog-cosignature, cosignature/v1): key ID with algorithm byte 0x04,
  signature = ``timestamp u64be ‖ Ed25519(key, "cosignature/v1\\ntime <t>\\n" ‖ body)``.

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

from gateway.protocol import strict
from gateway.protocol.errors import (
    BadSignature,
    CheckpointExtension,
    KeyExpired,
    KeyRevoked,
    Malformed,
)
from gateway.protocol.identity import ED25519, Directory, KeyInfo, Keyring

__all__ = ["Checkpoint", "Cosignature", "cosign", "cosignatures", "key_id", "log_origin",
           "make_checkpoint", "parse_checkpoint", "refuse_extensions", "sign_line", "split_note",
           "verify_cosignature_line", "verify_cosignatures", "verify_line", "verify_note",
           "witness_name"]

DASH = "\u2014"
MAX_NOTE = 16 * 1024


def log_origin(office_id: str) -> str:
    return f"{office_id}/audit/v1"


def witness_name(office_id: str) -> str:
    return f"{office_id}/witness"


def key_id(name: str, alg: int, pk: bytes) -> bytes:
    """c2sp.org/signed-note key ID: ``SHA-256(name ‖ "\\n" ‖ alg ‖ public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pk).digest()[:4]




def sign_line(name: str, signer: nacl.signing.SigningKey, body: str) -> str:
    """An Ed25519 (type 0x01) signature line of a signed note over ``body``."""
    sig = signer.sign(body.encode()).signature
    kid = key_id(name, 0x01, bytes(signer.verify_key))
    return f"{DASH} {name} {base64.b64encode(kid + sig).decode()}\n"


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


def make_checkpoint(keyring: Keyring, size: int, root: bytes, now_ms: int) -> str:
    """A checkpoint of our log, signed with our office key."""
    cp = Checkpoint(log_origin(keyring.office_id), size, root)
    return cp.body + "\n" + sign_line(cp.origin, keyring.signing_key(now_ms).signer, cp.body)


def verify_note(text: str, directory: Directory, office_id: str, *, at_ms: int) -> Checkpoint:
    """Verify a checkpoint signed by ``office_id``'s log key; returns it. Unknown lines are
    ignored; at least one signature by one of the office's keys must verify."""
    body, sigs = split_note(text)
    cp = parse_checkpoint(body)
    if cp.origin != log_origin(office_id):
        raise Malformed(f"checkpoint origin {cp.origin!r} is not {office_id}'s log")
    keys = {key_id(cp.origin, 0x01, k.public_key): k for k in
            directory.office(office_id).keys if k.algorithm == ED25519}
    for name, blob in sigs:
        k = keys.get(blob[:4])
        if name != cp.origin or k is None or len(blob) != 68:
            continue
        directory.key(k.key_id, algorithm=ED25519, at_ms=at_ms)
        try:
            nacl.signing.VerifyKey(k.public_key).verify(body.encode(), blob[4:])
        except nacl.exceptions.BadSignatureError as e:
            raise BadSignature(f"checkpoint signature of {office_id} does not verify") from e
        return cp
    raise BadSignature(f"no valid signature of {office_id} on the checkpoint")


def cosign(keyring: Keyring, body: str, now_ms: int) -> str:
    """Our cosignature line on a checkpoint: over the whole note ``body`` as C2SP says."""
    name = witness_name(keyring.office_id)
    key = keyring.signing_key(now_ms)
    ts = now_ms // 1000
    msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
    sig = key.signer.sign(msg).signature
    blob = key_id(name, 0x04, key.public_key) + struct.pack(">Q", ts) + sig
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness office, which key, when (Unix seconds)."""

    office_id: str
    key_id: str
    timestamp: int


def _usable_at(directory: Directory, k: KeyInfo, at_ms: int) -> None:
    """The key was valid and not yet revoked at ``at_ms`` (the time it signed)."""
    revoked_at = directory.revoked.get(k.key_id)
    if revoked_at is not None and revoked_at <= at_ms:
        raise KeyRevoked(f"witness key {k.key_id} of {k.office_id} was revoked before it "
                         "cosigned")
    try:
        directory.key(k.key_id, algorithm=ED25519, at_ms=at_ms)
    except KeyRevoked:
        if revoked_at is None or revoked_at <= at_ms:
            raise
    if not k.not_before_ms <= at_ms < k.not_after_ms:
        raise KeyExpired(f"witness key {k.key_id} of {k.office_id} was not valid when it "
                         "cosigned")


def cosignatures(text: str, directory: Directory, witness_office: str) -> list[Cosignature]:
    """The cosignatures by ``witness_office`` on a signed checkpoint, each checked at its own
    timestamp; a line by one of that office's keys that does not verify raises BadSignature,
    and one made with a key revoked or outside its validity then raises KeyRevoked/KeyExpired."""
    body, sigs = split_note(text)
    name = witness_name(witness_office)
    keys = {key_id(name, 0x04, k.public_key): k for k in
            directory.office(witness_office).keys if k.algorithm == ED25519}
    out = []
    for sname, blob in sigs:
        k = keys.get(blob[:4])
        if sname != name or k is None:
            continue
        if len(blob) != 4 + 8 + 64:
            raise BadSignature("cosignature has the wrong length")
        ts = verify_cosignature_line(body, name, k.public_key, blob)
        _usable_at(directory, k, ts * 1000)
        out.append(Cosignature(witness_office, k.key_id, ts))
    return out


def verify_cosignatures(text: str, directory: Directory, witness_office: str, *,
                        at_ms: int) -> list[int]:
    """Timestamps of the valid cosignatures by ``witness_office`` (see ``cosignatures``);
    ``at_ms`` is unused: each cosignature is checked at its own time."""
    _ = at_ms
    return [c.timestamp for c in cosignatures(text, directory, witness_office)]
