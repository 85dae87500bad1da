"""Root rotation: a new set of trust roots, accepted only on the word of the set it replaces.

The model is TUF's root rotation (docs/wire-format.md §3.4):

* A **root set** is a ``SignedTrustRoots``: the serialised new ``TrustRoots`` (one VN and one
  CN root, a ``version``) verbatim, and root signatures over
  ``"blo-gateway/roots/v1\\0" ‖ trust_roots`` (a hybrid root signs with Ed25519 and
  ML-DSA-65 and counts as having signed only with both).
* A gateway holding roots *C* (version *v*) accepts a root set *N* only if it is at most
  64 KiB, every signature is by a root of *C* or of *N* and verifies, **every** root of *C*
  has signed (both countries: neither side can replace the other's root, nor its own, alone)
  and **every** root of *N* has signed (the new keys are held by someone able to use them),
  *N* holds exactly one VN and one CN root whose key ids match their keys, and its version is
  ``v + 1``. The same set again (version *v*, the same roots) is no change; an older version,
  or another set with version *v*, is a **rollback** and refused. Every fault is
  ``BAD_ROOTS``; the message says which.
* Once *N* is in force only its roots sign directories: a directory signed by a retired root
  is refused like any directory with an unknown signer (``BAD_DIRECTORY``). Directories are
  unchanged (a v1 directory verifies as before).
* Rotations chain: version ``v + 2`` must be signed by the roots of ``v + 1``; a gateway that
  missed a rotation installs the missing root sets in order.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from gateway.protocol.errors import (
    ConfigError,
    DirectoryError,
    RootsError,
    UnknownRoot,
)
from gateway.protocol.identity import (
    REQUIRED_COUNTRIES,
    RootSigner,
    TrustRoots,
    check_root_key,
    root_signed,
    verify_root_signatures,
)
from gateway.schemas.blo.v1 import directory_pb2

__all__ = ["MAX_ROOT_SET_BYTES", "ROOTS_DOMAIN", "build_root_set", "next_roots",
           "read_root_set", "sign_root_set", "verify_root_set"]

ROOTS_DOMAIN = b"blo-gateway/roots/v1\x00"
MAX_ROOT_SET_BYTES = 64 * 1024


def next_roots(current: TrustRoots, replacements: list[directory_pb2.RootKey]) -> TrustRoots:
    """The set after ``current`` in which each country of ``replacements`` has its new root."""
    new = {r.country: r for r in replacements}
    if len(new) != len(replacements) or not new or not set(new) <= REQUIRED_COUNTRIES:
        raise ConfigError("a root rotation replaces the VN root, the CN root or both, "
                          "one new root each")
    for r in current.roots:
        if r.country in new and r.key_id == new[r.country].key_id:
            raise ConfigError(f"the new {r.country} root is the current one")
    kept = [r for r in current.roots if r.country not in new]
    roots = sorted([*kept, *new.values()], key=lambda r: r.country)
    return TrustRoots(tuple(roots), current.version + 1)


def build_root_set(roots: TrustRoots) -> bytes:
    """An unsigned ``SignedTrustRoots`` for ``roots`` (no signatures yet)."""
    _check_set(roots)
    inner = roots.to_pb().SerializeToString(deterministic=True)
    return directory_pb2.SignedTrustRoots(trust_roots=inner).SerializeToString(
        deterministic=True)


def sign_root_set(signed: bytes, root: RootSigner) -> bytes:
    """Add ``root``'s signature over the exact ``trust_roots`` bytes (one per root key; a
    hybrid root adds its Ed25519 and its ML-DSA-65 signature)."""
    outer = _parse(signed)
    kept = [s for s in outer.signatures if s.key_id not in (root.key_id, root.pq_key_id)]
    kept.extend(root.signatures(ROOTS_DOMAIN + outer.trust_roots))
    out = directory_pb2.SignedTrustRoots(trust_roots=outer.trust_roots, signatures=kept)
    return out.SerializeToString(deterministic=True)


def read_root_set(signed: bytes) -> TrustRoots:
    """The roots a root set proposes, unverified (to show at a ceremony before signing)."""
    return _inner(_parse(signed))


def verify_root_set(signed: bytes, current: TrustRoots) -> TrustRoots:
    """The new roots, if ``signed`` may replace ``current`` (see the module's rules).

    Returns ``current`` itself when ``signed`` holds exactly the roots in force, whatever
    its signatures: it changes nothing (installing a rotation again is how a crash between
    its two file writes is completed)."""
    outer = _parse(signed)
    new = _inner(outer)
    if new.version == current.version and _same(new, current):
        return current  # installed already (its retired signers are not known any more)
    try:
        signed_ids = verify_root_signatures(outer.signatures, ROOTS_DOMAIN + outer.trust_roots,
                                            (*current.roots, *new.roots))
    except UnknownRoot as e:
        raise RootsError(f"root set {e.message}".replace(
            "not a trust root", "neither a current nor a new root")) from e
    except DirectoryError as e:
        raise RootsError(f"root set {e.message}") from e
    signers: set[str] = set()
    for r in (*current.roots, *new.roots):
        lacking = root_signed(r, signed_ids)
        if lacking:
            raise RootsError(lacking)
        if lacking == "":
            signers.add(r.key_id)
    missing_current = [f"{r.country} {r.key_id}" for r in current.roots
                       if r.key_id not in signers]
    if missing_current:
        raise RootsError("root set lacks the signature of the current root "
                         f"{', '.join(missing_current)}; a rotation needs every current root "
                         "(2-of-2) and every new root")
    missing_new = [f"{r.country} {r.key_id}" for r in new.roots if r.key_id not in signers]
    if missing_new:
        raise RootsError(f"root set lacks the signature of the new root "
                         f"{', '.join(missing_new)}; every new root signs the set it joins")
    if new.version <= current.version:
        raise RootsError(f"root set version {new.version} is not newer than version "
                         f"{current.version} in force; a rollback is refused")
    if new.version != current.version + 1:
        raise RootsError(f"root set version {new.version} does not follow version "
                         f"{current.version}; install version {current.version + 1} first")
    return new


def _same(a: TrustRoots, b: TrustRoots) -> bool:
    return (sorted((r.key_id, r.pq_key_id) for r in a.roots)
            == sorted((r.key_id, r.pq_key_id) for r in b.roots))


def _check_set(roots: TrustRoots) -> None:
    countries = [r.country for r in roots.roots]
    if sorted(countries) != sorted(REQUIRED_COUNTRIES):
        raise RootsError("a root set holds exactly one VN and one CN root")
    for r in roots.roots:
        if problem := check_root_key(r):
            raise RootsError(problem)


def _parse(signed: bytes) -> directory_pb2.SignedTrustRoots:
    if len(signed) > MAX_ROOT_SET_BYTES:
        raise RootsError(f"root set is {len(signed)} bytes; limit {MAX_ROOT_SET_BYTES}")
    outer = directory_pb2.SignedTrustRoots()
    try:
        outer.ParseFromString(signed)
    except DecodeError as e:
        raise RootsError("not a root set (serialised SignedTrustRoots)") from e
    if not outer.trust_roots:
        raise RootsError("not a root set (no trust_roots)")
    return outer


def _inner(outer: directory_pb2.SignedTrustRoots) -> TrustRoots:
    msg = directory_pb2.TrustRoots()
    try:
        msg.ParseFromString(outer.trust_roots)
    except DecodeError as e:
        raise RootsError("root set holds no valid TrustRoots") from e
    roots = TrustRoots(tuple(msg.roots), msg.version or 1)
    _check_set(roots)
    return roots
