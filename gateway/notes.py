"""Signed checkpoints and cosignatures in the C2SP formats.

* Checkpoint (c2sp.org/tlog-checkpoint): the note body ``<origin>\\n<size>\\n<base64 root>\\n``.
* Signed note (c2sp.org/signed-note): body, an empty line, then signature lines
  ``— <key name> base64(key ID[4] ‖ signature)``; Ed25519 key ID =
  ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]``, signature over the body.
* Cosignature (c2sp.org/tlog-cosignature, cosignature/v1): key ID with algorithm byte 0x04,
  signature = ``timestamp u64be ‖ Ed25519(key, "cosignature/v1\\ntime <t>\\n" ‖ body)``.

A gateway's log origin is ``<office id>/audit/v1`` and is signed under that name with the
office's Ed25519 key; it cosigns the peer's checkpoints as ``<office id>/witness``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from gateway import strict
from gateway.errors import BadSignature, Malformed
from gateway.identity import ED25519, Directory, Keyring

__all__ = ["Checkpoint", "cosign", "log_origin", "make_checkpoint", "parse_checkpoint",
           "split_note", "verify_cosignatures", "verify_note", "witness_name"]

DASH = "\u2014"
MAX_NOTE = 16 * 1024


def log_origin(office_id: str) -> str:
    return f"{office_id}/audit/v1"


def witness_name(office_id: str) -> str:
    return f"{office_id}/witness"


def _key_id(name: str, alg: int, pk: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pk).digest()[:4]


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
    key = keyring.signing_key(now_ms)
    sig = key.signer.sign(cp.body.encode()).signature
    kid = _key_id(cp.origin, 0x01, key.public_key)
    return cp.body + "\n" + f"{DASH} {cp.origin} {base64.b64encode(kid + sig).decode()}\n"


def verify_note(text: str, directory: Directory, office_id: str, *, at_ms: int) -> Checkpoint:
    """Verify a checkpoint signed by ``office_id``'s log key; returns it. Unknown lines are
    ignored; at least one signature by one of the office's keys must verify."""
    body, sigs = split_note(text)
    cp = parse_checkpoint(body)
    if cp.origin != log_origin(office_id):
        raise Malformed(f"checkpoint origin {cp.origin!r} is not {office_id}'s log")
    keys = {_key_id(cp.origin, 0x01, k.public_key): k for k in
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
    """Our cosignature line on a checkpoint body (we witnessed it)."""
    name = witness_name(keyring.office_id)
    key = keyring.signing_key(now_ms)
    ts = now_ms // 1000
    msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
    sig = key.signer.sign(msg).signature
    blob = _key_id(name, 0x04, key.public_key) + struct.pack(">Q", ts) + sig
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def verify_cosignatures(text: str, directory: Directory, witness_office: str, *,
                        at_ms: int) -> list[int]:
    """Timestamps of the valid cosignatures by ``witness_office`` on a signed checkpoint;
    a cosignature line by that office that does not verify raises BadSignature."""
    body, sigs = split_note(text)
    name = witness_name(witness_office)
    keys = {_key_id(name, 0x04, k.public_key): k for k in
            directory.office(witness_office).keys if k.algorithm == ED25519}
    out = []
    for sname, blob in sigs:
        k = keys.get(blob[:4])
        if sname != name or k is None:
            continue
        if len(blob) != 4 + 8 + 64:
            raise BadSignature("cosignature has the wrong length")
        (ts,) = struct.unpack(">Q", blob[4:12])
        msg = f"cosignature/v1\ntime {ts}\n".encode() + body.encode()
        try:
            nacl.signing.VerifyKey(k.public_key).verify(msg, blob[12:])
        except nacl.exceptions.BadSignatureError as e:
            raise BadSignature(f"cosignature of {witness_office} does not verify") from e
        _ = at_ms
        out.append(ts)
    return out
