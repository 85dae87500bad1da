"""The courier bundle: what one gateway hands another on removable media while the link is down.

Layout (docs/wire-format.md §13)::

    "BLOC" | version u8 | suite u8 | kid_len u8 | signer key id
           | manifest_len u32be | manifest | signature[64]
           | for each item the manifest lists, in its order: u32be length ‖ item bytes

The signature is Ed25519 over ``COURIER_DOMAIN ‖ every byte before it`` by the issuing
office. The manifest is canonical JSON (sorted keys, no white space, ASCII escapes): the
format, ``issuer``, ``destination``, ``sequence`` (per issuer and destination, from 1),
``created_at_ms``, ``ack_sequence`` (the last sequence the issuer imported from the
destination, 0 for none) and ``items``: ``[kind, sha256 hex, length]`` for every item.
Item kinds: ``envelope`` (exact envelope bytes), ``receipt`` (a receipt the issuer signed
for an envelope the destination sent), ``witness`` (a witness request: the body of
``POST /peer/v1/witness/add-checkpoint``), ``cosignature`` (a checkpoint of the
destination's log with the issuer's cosignature).

Verification order is the contract, as for envelopes: size limit, framing, signer key
(listed, unrevoked, valid now), signature over the exact bytes, and only then the manifest
is parsed (strictly); its issuer must own the key (``BAD_SIGNATURE``), its destination must
be the importing office and its issuer another (``WRONG_DESTINATION``); then each item's
length and SHA-256 must be those the manifest signs (``BAD_SIGNATURE``) and nothing may
follow the last one (``MALFORMED``). Each item is then checked by its own rules (an
envelope as the peer API checks it, a receipt as delivery does) by the caller. Replay and
order (``REPLAY``, ``STALE_BUNDLE``) need the store: ``gateway.node.courier``. Pure: no I/O,
no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing

from gateway.protocol.errors import (
    BadSignature,
    Malformed,
    PayloadTooLarge,
    UnsupportedVersion,
    WrongDestination,
)
from gateway.protocol.identity import ED25519, Directory, Keyring

__all__ = ["COURIER_DOMAIN", "FORMAT", "ITEM_KINDS", "MAX_BUNDLE_BYTES", "Bundle", "make_bundle",
           "verify_bundle"]

MAGIC = b"BLOC"
VERSION = 1
SUITE = 1
FORMAT = "blo-courier/v1"
COURIER_DOMAIN = b"blo-gateway/courier/v1\x00"
#: The largest bundle a gateway writes or reads (the export stops short of it and leaves the
#: rest queued for the next bundle).
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_ITEMS = 100_000
ITEM_KINDS = ("envelope", "receipt", "witness", "cosignature")
_PREFIX = struct.Struct(">4sBBB")
_U32 = struct.Struct(">I")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9.\-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEYS = frozenset({"format", "issuer", "destination", "sequence", "created_at_ms",
                   "ack_sequence", "items"})
_MAX_INT = 2**62


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: the manifest's values and the items, in order."""

    raw: bytes = field(repr=False)
    sha256: bytes
    issuer: str
    destination: str
    sequence: int
    created_at_ms: int
    ack_sequence: int
    signer_key_id: str
    items: tuple[tuple[str, bytes], ...] = field(repr=False)

    def of_kind(self, kind: str) -> list[bytes]:
        return [data for k, data in self.items if k == kind]


def _manifest(issuer: str, destination: str, sequence: int, created_at_ms: int,
              ack_sequence: int, items: Sequence[tuple[str, bytes]]) -> bytes:
    return json.dumps({
        "format": FORMAT, "issuer": issuer, "destination": destination, "sequence": sequence,
        "created_at_ms": created_at_ms, "ack_sequence": ack_sequence,
        "items": [[k, hashlib.sha256(d).hexdigest(), len(d)] for k, d in items],
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def make_bundle(keyring: Keyring, *, destination: str, sequence: int, created_at_ms: int,
                ack_sequence: int, items: Sequence[tuple[str, bytes]]) -> bytes:
    """Sign a bundle from ``keyring``'s office to ``destination``."""
    if any(k not in ITEM_KINDS for k, _ in items) or len(items) > MAX_ITEMS:
        raise Malformed("unknown item kind, or too many items")
    if sequence < 1 or ack_sequence < 0:
        raise Malformed("a bundle's sequence starts at 1")
    manifest = _manifest(keyring.office_id, destination, sequence, created_at_ms, ack_sequence,
                         items)
    key = keyring.signing_key(created_at_ms)
    kid = key.key_id.encode("ascii")
    head = _PREFIX.pack(MAGIC, VERSION, SUITE, len(kid)) + kid + _U32.pack(len(manifest)) \
        + manifest
    signature = key.signer.sign(COURIER_DOMAIN + head).signature
    data = b"".join([head, signature, *(_U32.pack(len(d)) + d for _, d in items)])
    if len(data) > MAX_BUNDLE_BYTES:
        raise PayloadTooLarge(f"bundle over {MAX_BUNDLE_BYTES} bytes")
    return data


def _int(v: object, what: str, lo: int = 0) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v < _MAX_INT:
        raise Malformed(f"manifest {what} must be an integer from {lo}")
    return v


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        m = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed("manifest is not ASCII JSON") from e
    if not isinstance(m, dict) or set(m) != _KEYS:
        raise Malformed(f"manifest must have exactly the fields {', '.join(sorted(_KEYS))}")
    if m["format"] != FORMAT:
        raise UnsupportedVersion(f"manifest format is not {FORMAT}")
    for name in ("issuer", "destination"):
        if not isinstance(m[name], str) or not _OFFICE.fullmatch(m[name]):
            raise Malformed(f"manifest {name} is not an office id")
    items = m["items"]
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Malformed(f"manifest items must be a list of at most {MAX_ITEMS}")
    for it in items:
        if (not isinstance(it, list) or len(it) != 3 or it[0] not in ITEM_KINDS
                or not isinstance(it[1], str) or not _HEX64.fullmatch(it[1])):
            raise Malformed("a manifest item is not [kind, sha256 hex, length]")
        _int(it[2], "item length")
    return m


def verify_bundle(data: bytes, directory: Directory, *, me: str, now_ms: int,
                  max_size: int = MAX_BUNDLE_BYTES) -> Bundle:
    """Check a bundle addressed to office ``me``; raises on anything wrong (order: module doc)."""
    if len(data) > max_size:
        raise PayloadTooLarge(f"bundle over {max_size} bytes")
    if len(data) < _PREFIX.size:
        raise Malformed("bundle is truncated")
    magic, version, suite, kid_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise Malformed("not a courier bundle")
    if version != VERSION or suite != SUITE:
        raise UnsupportedVersion("courier bundle version or suite not supported")
    pos = _PREFIX.size + kid_len
    if len(data) < pos + _U32.size:
        raise Malformed("bundle is truncated")
    (mlen,) = _U32.unpack_from(data, pos)
    if mlen > MAX_MANIFEST_BYTES:
        raise PayloadTooLarge("bundle manifest too large")
    end = pos + _U32.size + mlen
    if len(data) < end + 64:
        raise Malformed("bundle is truncated")
    try:
        kid = data[_PREFIX.size:pos].decode("ascii")
    except UnicodeDecodeError as e:
        raise Malformed("bundle key id is not ASCII") from e
    key = directory.key(kid, algorithm=ED25519, at_ms=now_ms)
    try:
        nacl.signing.VerifyKey(key.public_key).verify(COURIER_DOMAIN + data[:end],
                                                     data[end:end + 64])
    except nacl.exceptions.BadSignatureError as e:
        raise BadSignature("bundle manifest signature does not verify") from e
    m = _parse_manifest(data[pos + _U32.size:end])
    issuer, destination = str(m["issuer"]), str(m["destination"])
    if key.office_id != issuer:
        raise BadSignature(f"bundle signed by {key.office_id}, not by its issuer {issuer}")
    if destination != me or issuer == me:
        raise WrongDestination(f"this bundle is from {issuer} for {destination}; this office "
                               f"is {me}")
    items: list[tuple[str, bytes]] = []
    at = end + 64
    for n, (kind, digest, length) in enumerate(m["items"]):
        if len(data) < at + _U32.size or _U32.unpack_from(data, at)[0] != length \
                or len(data) < at + _U32.size + length:
            raise BadSignature(f"item {n} does not have the length the manifest signs")
        blob = data[at + _U32.size:at + _U32.size + length]
        if not hmac.compare_digest(hashlib.sha256(blob).hexdigest(), digest):
            raise BadSignature(f"item {n} does not match the signed manifest")
        items.append((kind, blob))
        at += _U32.size + length
    if at != len(data):
        raise Malformed("bytes after the last item of the bundle")
    return Bundle(data, hashlib.sha256(data).digest(), issuer, destination,
                  _int(m["sequence"], "sequence", 1), _int(m["created_at_ms"], "created_at_ms"),
                  _int(m["ack_sequence"], "ack_sequence"), kid, tuple(items))
