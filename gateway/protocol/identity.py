"""Office identities, keys and the co-signed trust directory.

Concepts and invariants:

* An **office** (``vn.laocai.blo``, ``cn.yunnan.hekou.blo``, ``vn.laocai.bdbp.<post>``)
  has Ed25519 signing keys and X25519 encryption keys, each with a validity
  period, and from suite 2 on (docs/wire-format.md §14) ML-DSA-65 signing keys and
  ML-KEM-768 + X25519 hybrid KEM keys too. Rotation adds a new key while the old one is
  still valid (overlap). The directory says which suites each office accepts.
* A **key id** is derived from the key: ``<alg>:<hex(SHA-256(domain‖alg‖0‖pk)[:16])>``;
  it is never chosen by hand, so it cannot be made to collide on purpose.
* The **directory** lists every office and its public keys plus a revocation
  list. It is valid only with a signature from a Vietnamese *and* a Chinese
  root key (2-of-2) over its exact bytes, so neither side can add or swap an
  office alone. A **hybrid root** also holds an ML-DSA-65 key and signs with both; a
  country counts as signed only if both halves verify (docs/wire-format.md §3).
  A gateway never goes back to an older serial nor accepts a second
  directory with a serial it holds (``gateway.node.trust``); every directory fault is
  ``BAD_DIRECTORY``.
* A key's validity for an envelope is judged at the envelope's signed creation time;
  a revoked key is refused at reception whatever that time (docs/wire-format.md §3.1).
* Private keys live in a **keyring** file outside the repository, created
  with mode 0600; ``keys/`` holds public material only.

Over 400 lines on purpose: keys, key ids, keyrings and the directory are one trust
concept whose checks refer to each other; split, a reader would have to follow a
signature check across files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem, x25519
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from gateway.protocol._b64 import b64d, b64e
from gateway.protocol.errors import (
    ConfigError,
    DirectoryError,
    KeyExpired,
    KeyRevoked,
    Malformed,
    UnknownKey,
    UnknownRoot,
)
from gateway.protocol.localtime import check_zone_name
from gateway.schemas.blo.v1 import common_pb2, directory_pb2

__all__ = [
    "ED25519",
    "ML_DSA_65",
    "ML_KEM_768_X25519",
    "REQUIRED_COUNTRIES",
    "SUITE_1",
    "SUITE_2",
    "X25519",
    "Directory",
    "KeyInfo",
    "Keyring",
    "OfficeInfo",
    "PrivateKey",
    "RootSigner",
    "TrustRoots",
    "build_directory",
    "check_root_key",
    "fingerprint",
    "key_id_for",
    "newest_first",
    "root_signed",
    "sign_directory",
    "suite_2_since",
    "verify_root_signatures",
    "write_private",
]

ED25519 = "ed25519"
X25519 = "x25519"
ML_DSA_65 = "mldsa65"  # FIPS 204 ML-DSA-65; the secret is the 32-byte seed
ML_KEM_768_X25519 = "mlkem768x25519"  # HPKE hybrid KEM; secret = 64-byte ML-KEM seed ‖ X25519
SUITE_1 = 1  # Ed25519 / X25519-HKDF / ChaCha20-Poly1305 (wire-format §1)
SUITE_2 = 2  # + ML-DSA-65 beside every Ed25519 signature, HPKE ML-KEM-768+X25519 (§14)
KNOWN_SUITES = frozenset({SUITE_1, SUITE_2})
#: algorithm name → (public key length, secret length) in bytes
KEY_SIZES = {ED25519: (32, 32), X25519: (32, 32), ML_DSA_65: (1952, 32),
             ML_KEM_768_X25519: (1184 + 32, 64 + 32)}
#: the algorithms an office's keyring holds for each suite it accepts
SUITE_ALGORITHMS = {SUITE_1: (ED25519, X25519), SUITE_2: (ML_DSA_65, ML_KEM_768_X25519)}
_PB_ALGORITHMS = {directory_pb2.KEY_ALGORITHM_ED25519: ED25519,
                  directory_pb2.KEY_ALGORITHM_X25519: X25519,
                  directory_pb2.KEY_ALGORITHM_ML_DSA_65: ML_DSA_65,
                  directory_pb2.KEY_ALGORITHM_ML_KEM_768_X25519: ML_KEM_768_X25519}
_ALGORITHM_PB = {v: k for k, v in _PB_ALGORITHMS.items()}
KEY_ID_DOMAIN = b"blo-gateway/key-id/v1\x00"
DIRECTORY_DOMAIN = b"blo-gateway/directory/v1\x00"
REQUIRED_COUNTRIES = frozenset({"VN", "CN"})
MAX_DIRECTORY_BYTES = 1024 * 1024
ROLES = ("liaison_office", "border_guard", "police", "hotline", "auditor")
FOREVER_MS = 2**62

Random = Callable[[int], bytes]


def key_id_for(algorithm: str, public_key: bytes) -> str:
    """Derive the key id of a public key (see docs/wire-format.md §Key ids)."""
    if algorithm not in KEY_SIZES or len(public_key) != KEY_SIZES[algorithm][0]:
        raise Malformed(f"not a {algorithm} public key")
    digest = hashlib.sha256(KEY_ID_DOMAIN + algorithm.encode() + b"\x00" + public_key).digest()
    return f"{algorithm}:{digest[:16].hex()}"


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the key in groups of four hex digits, for reading aloud at a key ceremony."""
    h = hashlib.sha256(public_key).hexdigest()
    return " ".join(h[i : i + 4] for i in range(0, len(h), 4))


def write_private(path: Path, text: str) -> None:
    """Create a file that only its owner can read (0600); refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _read_private(path: Path) -> dict[str, Any]:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ConfigError(f"{path} is not a keyring file") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a keyring file")
    return data


def newest_first(key: PrivateKey | KeyInfo) -> tuple[int, int, str]:
    """The order of "newest valid key" (docs/wire-format.md §3): the greatest
    ``not_before_ms``, then the greatest ``not_after_ms``, then the greatest key id (ASCII)."""
    return (key.not_before_ms, key.not_after_ms, key.key_id)


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class PrivateKey:
    """One private key with its validity; ``secret`` is the seed / scalar (``KEY_SIZES``):
    the RFC 8032 seed (Ed25519), the RFC 7748 scalar (X25519), the FIPS 204 seed ξ
    (ML-DSA-65), or the FIPS 203 seed d ‖ z followed by the X25519 scalar (hybrid KEM)."""

    algorithm: str
    secret: bytes = field(repr=False)
    not_before_ms: int
    not_after_ms: int

    # Derived values are cached: deriving a key costs as much as a signature.
    def __post_init__(self) -> None:
        if self.algorithm not in KEY_SIZES or len(self.secret) != KEY_SIZES[self.algorithm][1]:
            raise ConfigError(f"not a {self.algorithm} private key")

    @cached_property
    def public_key(self) -> bytes:
        if self.algorithm == ED25519:
            return bytes(self.signer.verify_key)
        if self.algorithm == ML_DSA_65:
            return self.pq_signer.public_key().public_bytes_raw()
        if self.algorithm == ML_KEM_768_X25519:
            ml = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.secret[:64]).public_key()
            return ml.public_bytes_raw() + bytes(
                nacl.bindings.crypto_scalarmult_base(self.secret[64:]))
        return bytes(nacl.bindings.crypto_scalarmult_base(self.secret))

    @cached_property
    def key_id(self) -> str:
        return key_id_for(self.algorithm, self.public_key)

    @cached_property
    def signer(self) -> nacl.signing.SigningKey:
        """The libsodium signing key (Ed25519 keys only)."""
        if self.algorithm != ED25519:
            raise TypeError("not a signing key")
        return nacl.signing.SigningKey(self.secret)

    @cached_property
    def pq_signer(self) -> mldsa.MLDSA65PrivateKey:
        """The ML-DSA-65 signing key (ML-DSA-65 keys only)."""
        if self.algorithm != ML_DSA_65:
            raise TypeError("not an ML-DSA-65 key")
        return mldsa.MLDSA65PrivateKey.from_seed_bytes(self.secret)

    @cached_property
    def kem_private(self) -> hpke.MLKEM768X25519PrivateKey:
        """The HPKE hybrid KEM private key (ML-KEM-768 + X25519 keys only)."""
        if self.algorithm != ML_KEM_768_X25519:
            raise TypeError("not an ML-KEM-768 + X25519 key")
        return hpke.MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(self.secret[:64]),
            x25519.X25519PrivateKey.from_private_bytes(self.secret[64:]))

    def valid_at(self, at_ms: int) -> bool:
        return self.not_before_ms <= at_ms < self.not_after_ms

    def to_public(self) -> directory_pb2.PublicKey:
        return directory_pb2.PublicKey(
            key_id=self.key_id, algorithm=_ALGORITHM_PB[self.algorithm], public_key=self.public_key,
            not_before_ms=self.not_before_ms, not_after_ms=self.not_after_ms,
        )


@dataclass(frozen=True)
class Keyring:
    """An office's private keys (signing and encryption, current and rotated)."""

    office_id: str
    keys: tuple[PrivateKey, ...]
    #: the key ids this office may sign with (those the directory it holds lists unrevoked;
    #: ``usable_in``); None: any of its keys. Decryption always uses every key.
    signable: frozenset[str] | None = None

    @classmethod
    def generate(cls, office_id: str, *, now_ms: int, valid_ms: int,
                 rng: Random = nacl.utils.random, post_quantum: bool = False) -> Keyring:
        """Fresh Ed25519 and X25519 keys from the CSPRNG (or ``rng`` for test vectors), and
        with ``post_quantum`` ML-DSA-65 and ML-KEM-768 + X25519 keys too (suite 2)."""
        _check_office_id(office_id)
        algs = _algorithms(post_quantum)
        keys = tuple(PrivateKey(alg, rng(KEY_SIZES[alg][1]), now_ms, now_ms + valid_ms)
                     for alg in algs)
        return cls(office_id, keys)

    def rotate(self, *, now_ms: int, valid_ms: int, overlap_ms: int,
               rng: Random = nacl.utils.random, post_quantum: bool | None = None) -> Keyring:
        """Add new keys valid from now; current keys stay valid for ``overlap_ms`` more.

        New keys are made for every algorithm the keyring holds; ``post_quantum=True`` adds
        the suite-2 algorithms to a keyring that had none (the upgrade to suite 2)."""
        kept = tuple(
            PrivateKey(k.algorithm, k.secret, k.not_before_ms,
                       min(k.not_after_ms, now_ms + overlap_ms)) if k.valid_at(now_ms) else k
            for k in self.keys
        )
        pq = self.post_quantum if post_quantum is None else post_quantum
        fresh = tuple(PrivateKey(alg, rng(KEY_SIZES[alg][1]), now_ms, now_ms + valid_ms)
                      for alg in _algorithms(pq))
        return Keyring(self.office_id, kept + fresh)

    @property
    def post_quantum(self) -> bool:
        """Whether this keyring holds suite-2 keys (ML-DSA-65 and the hybrid KEM)."""
        algs = {k.algorithm for k in self.keys}
        return ML_DSA_65 in algs and ML_KEM_768_X25519 in algs

    @property
    def suites(self) -> tuple[int, ...]:
        """The suites this keyring can take part in, for its directory entry."""
        return (SUITE_1, SUITE_2) if self.post_quantum else (SUITE_1,)

    def pq_signing_key(self, at_ms: int) -> PrivateKey:
        """The newest ML-DSA-65 key valid at ``at_ms`` (among ``signable`` ones, if set)."""
        return self._newest(ML_DSA_65, at_ms)

    def signing_key(self, at_ms: int) -> PrivateKey:
        """The newest Ed25519 key valid at ``at_ms`` (among ``signable`` ones, if set)."""
        return self._newest(ED25519, at_ms)

    def usable_in(self, directory: Directory) -> Keyring:
        """This keyring signing only with keys that ``directory`` lists for this office and
        does not revoke: a key rotated into the keyring before the new directory is
        installed is not used to sign, and a revoked one no longer is (wire-format §3)."""
        listed = {k.key_id for k in directory.offices[self.office_id].keys
                  if k.key_id not in directory.revoked} if self.office_id in directory.offices \
            else set()
        return Keyring(self.office_id, self.keys, frozenset(listed))

    def encryption_key(self, key_id: str, algorithm: str = X25519) -> PrivateKey | None:
        """The private key of ``algorithm`` (X25519, or the hybrid KEM) with this id."""
        return next((k for k in self.keys if k.algorithm == algorithm and k.key_id == key_id),
                    None)

    def _newest(self, algorithm: str, at_ms: int) -> PrivateKey:
        valid = [k for k in self.keys if k.algorithm == algorithm and k.valid_at(at_ms)
                 and (self.signable is None or k.key_id in self.signable)]
        if not valid:
            raise KeyExpired(f"{self.office_id} has no {algorithm} key valid now"
                             + ("" if self.signable is None else
                                " that the trust directory lists unrevoked"))
        return max(valid, key=newest_first)

    def public_office(self, *, country: str, name_vi: str, name_zh: str, role: str,
                      endpoint: str, time_zone: str = "") -> directory_pb2.Office:
        """The directory entry for this office (public keys only)."""
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}")
        if time_zone and (problem := check_zone_name(time_zone)):
            raise ConfigError(problem)
        return directory_pb2.Office(
            office_id=self.office_id, country=country,
            name=common_pb2.LocalizedText(vi=name_vi, zh=name_zh),
            role=f"OFFICE_ROLE_{role.upper()}",
            endpoint=endpoint, keys=[k.to_public() for k in self.keys], time_zone=time_zone,
            suites=list(self.suites) if self.post_quantum else [],
        )

    def to_json(self) -> str:
        return json.dumps({
            "kind": "blo-gateway keyring v1",
            "office_id": self.office_id,
            "keys": [{"algorithm": k.algorithm, "key_id": k.key_id, "secret": b64e(k.secret),
                      "not_before_ms": k.not_before_ms, "not_after_ms": k.not_after_ms}
                     for k in self.keys],
        }, indent=2)

    def save(self, path: Path) -> None:
        write_private(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Keyring:
        data = _read_private(path)
        if data.get("kind") != "blo-gateway keyring v1":
            raise ConfigError(f"{path} is not a keyring file")
        keys = []
        for k in data["keys"]:
            if k.get("algorithm") not in KEY_SIZES:
                raise ConfigError(f"{path}: unknown key algorithm {k.get('algorithm')!r}")
            pk = PrivateKey(k["algorithm"], b64d(k["secret"], what="key"),
                            int(k["not_before_ms"]), int(k["not_after_ms"]))
            if pk.key_id != k["key_id"]:
                raise ConfigError(f"{path}: key id {k['key_id']} does not match its key")
            keys.append(pk)
        return cls(str(data["office_id"]), tuple(keys))


def _algorithms(post_quantum: bool) -> tuple[str, ...]:
    return SUITE_ALGORITHMS[SUITE_1] + (SUITE_ALGORITHMS[SUITE_2] if post_quantum else ())


def _check_office_id(office_id: str) -> None:
    parts = office_id.split(".")
    ok = (len(parts) >= 2 and parts[0] in ("vn", "cn") and len(office_id) <= 64
          and all(p and p.replace("_", "").replace("-", "").isalnum() and p.isascii()
                  and p.islower() for p in parts if not p.isdigit()))
    if not ok:
        raise ConfigError(
            f"bad office id {office_id!r}: lower-case dotted, starting with vn. or cn., "
            "e.g. vn.laocai.blo or cn.yunnan.hekou.blo")


# --------------------------------------------------------------------------- roots


@dataclass(frozen=True)
class RootSigner:
    """A country's root signing key (kept offline; used only to sign directories and root
    sets): an Ed25519 seed and, for a hybrid root (docs/wire-format.md §3), an ML-DSA-65
    seed too, with which it signs the same bytes a second time."""

    country: str
    secret: bytes = field(repr=False)
    #: the FIPS 204 seed of the ML-DSA-65 half; None: an Ed25519-only root
    pq_secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != 32 or (self.pq_secret is not None
                                      and len(self.pq_secret) != KEY_SIZES[ML_DSA_65][1]):
            raise ConfigError("not a root key")

    @classmethod
    def generate(cls, country: str, rng: Random = nacl.utils.random, *,
                 post_quantum: bool = False) -> RootSigner:
        """A fresh root; with ``post_quantum`` a hybrid one (Ed25519 + ML-DSA-65)."""
        if country not in REQUIRED_COUNTRIES:
            raise ConfigError("root keys are for country VN or CN")
        secret = rng(32)
        return cls(country, secret, rng(KEY_SIZES[ML_DSA_65][1]) if post_quantum else None)

    @cached_property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.secret).verify_key)

    @property
    def key_id(self) -> str:
        return key_id_for(ED25519, self.public_key)

    @property
    def post_quantum(self) -> bool:
        return self.pq_secret is not None

    @cached_property
    def _pq_signer(self) -> mldsa.MLDSA65PrivateKey:
        if self.pq_secret is None:
            raise TypeError("an Ed25519-only root has no ML-DSA-65 key")
        return mldsa.MLDSA65PrivateKey.from_seed_bytes(self.pq_secret)

    @cached_property
    def pq_public_key(self) -> bytes:
        """The ML-DSA-65 public key (b"" for an Ed25519-only root)."""
        return self._pq_signer.public_key().public_bytes_raw() if self.post_quantum else b""

    @property
    def pq_key_id(self) -> str:
        """``mldsa65:<hex>`` ("" for an Ed25519-only root)."""
        return key_id_for(ML_DSA_65, self.pq_public_key) if self.post_quantum else ""

    def root_key(self, name_vi: str = "", name_zh: str = "") -> directory_pb2.RootKey:
        return directory_pb2.RootKey(key_id=self.key_id, country=self.country,
                                     public_key=self.public_key,
                                     name=common_pb2.LocalizedText(vi=name_vi, zh=name_zh),
                                     pq_key_id=self.pq_key_id,
                                     pq_public_key=self.pq_public_key)

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return nacl.signing.SigningKey(self.secret).sign(message).signature

    def signatures(self, message: bytes) -> list[directory_pb2.DirectorySignature]:
        """This root's signatures of ``message``: Ed25519, then ML-DSA-65 if it has it."""
        sigs = [directory_pb2.DirectorySignature(key_id=self.key_id,
                                                 signature=self.sign(message))]
        if self.post_quantum:
            sigs.append(directory_pb2.DirectorySignature(
                key_id=self.pq_key_id, signature=self._pq_signer.sign(message)))
        return sigs

    def save(self, path: Path) -> None:
        data = {"kind": "blo-gateway root key v1", "country": self.country,
                "secret": b64e(self.secret)}
        if self.pq_secret is not None:
            data["pq_secret"] = b64e(self.pq_secret)
        write_private(path, json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> RootSigner:
        data = _read_private(path)
        if data.get("kind") != "blo-gateway root key v1":
            raise ConfigError(f"{path} is not a root key file")
        pq = data.get("pq_secret")
        return cls(str(data["country"]), b64d(data["secret"], what="root key"),
                   None if pq is None else b64d(pq, what="root key"))


def verify_root_signatures(signatures: Iterable[directory_pb2.DirectorySignature],
                           message: bytes, roots: Iterable[directory_pb2.RootKey],
                           ) -> set[str]:
    """Check root signatures over ``message`` (the domain-separated bytes): every one must be
    by a key id of ``roots`` (a root's Ed25519 key or its ML-DSA-65 half) and verify.

    Returns the key ids that signed (see ``root_signed``). Raises ``UnknownRoot`` for a key
    id that is no root's and ``DirectoryError`` for a signature that does not verify;
    callers re-raise as their own code."""
    keys: dict[str, tuple[str, bytes]] = {}  # key id -> (algorithm, public key)
    for r in roots:
        keys[r.key_id] = (ED25519, r.public_key)
        if r.pq_key_id:
            keys[r.pq_key_id] = (ML_DSA_65, r.pq_public_key)
    signed: set[str] = set()
    for sig in signatures:
        found = keys.get(sig.key_id)
        if found is None:
            raise UnknownRoot(f"signed by {sig.key_id}, which is not a trust root")
        alg, public = found
        try:
            if alg == ED25519:
                nacl.signing.VerifyKey(public).verify(message, sig.signature)
            else:
                mldsa.MLDSA65PublicKey.from_public_bytes(public).verify(sig.signature, message)
        except (nacl.exceptions.BadSignatureError, InvalidSignature, ValueError) as e:
            raise DirectoryError(f"signature by {sig.key_id} does not verify") from e
        signed.add(sig.key_id)
    return signed


def root_signed(root: directory_pb2.RootKey, signed: set[str]) -> str | None:
    """Whether ``root`` signed in full, given the key ids whose signatures verified: "" if
    yes (its Ed25519 key and, when it has one, its ML-DSA-65 half), None if not at all, else
    the sentence naming the half that is missing."""
    halves = (root.key_id in signed, bool(root.pq_key_id) and root.pq_key_id in signed)
    if not any(halves):
        return None
    if halves[0] and (halves[1] or not root.pq_key_id):
        return ""
    half = "ML-DSA-65" if halves[0] else "Ed25519"
    return (f"the {half} half of the {root.country} root's signature is missing "
            f"(root {root.key_id} is hybrid: both are needed)")


def check_root_key(r: directory_pb2.RootKey) -> str:
    """"" if the root's key ids match its keys (and an ML-DSA-65 half is whole), else why."""
    if len(r.public_key) != 32 or key_id_for(ED25519, r.public_key) != r.key_id:
        return f"root {r.key_id}: key id does not match the key"
    if (r.pq_key_id or r.pq_public_key) and (
            len(r.pq_public_key) != KEY_SIZES[ML_DSA_65][0]
            or key_id_for(ML_DSA_65, r.pq_public_key) != r.pq_key_id):
        return f"root {r.key_id}: ML-DSA-65 key id {r.pq_key_id} does not match its key"
    return ""


@dataclass(frozen=True)
class TrustRoots:
    """The pinned root public keys: the trust anchors of every gateway."""

    roots: tuple[directory_pb2.RootKey, ...]
    #: increases by one with every root rotation (gateway.protocol.rootset); files made
    #: before rotations existed hold no version, which means 1
    version: int = 1

    def by_id(self, key_id: str) -> directory_pb2.RootKey | None:
        """The root with this Ed25519 key id or (a hybrid root) ML-DSA-65 key id."""
        return next((r for r in self.roots if key_id and key_id in (r.key_id, r.pq_key_id)),
                    None)

    def to_pb(self) -> directory_pb2.TrustRoots:
        """The protobuf message (version 1 is written as absent, as before rotations)."""
        return directory_pb2.TrustRoots(roots=list(self.roots),
                                        version=self.version if self.version > 1 else 0)

    def to_json(self) -> str:
        msg = self.to_pb()
        return json_format.MessageToJson(msg, preserving_proto_field_name=True,
                                         ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, require_both: bool = True) -> TrustRoots:
        """Parse a trust-roots file; a usable set holds a VN and a CN root."""
        msg = directory_pb2.TrustRoots()
        try:
            json_format.Parse(text, msg)
        except json_format.ParseError as e:
            raise ConfigError(f"not a trust-roots file: {e}") from e
        for r in msg.roots:
            if problem := check_root_key(r):
                raise ConfigError(problem)
        if require_both and not {r.country for r in msg.roots} >= REQUIRED_COUNTRIES:
            raise ConfigError("trust roots need a VN and a CN root key")
        return cls(tuple(msg.roots), msg.version or 1)

    @classmethod
    def load(cls, path: Path, *, require_both: bool = True) -> TrustRoots:
        return cls.from_json(path.read_text(encoding="utf-8"), require_both=require_both)


# --------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class KeyInfo:
    """A public key from the directory, with the office it belongs to."""

    office_id: str
    key_id: str
    algorithm: str
    public_key: bytes
    not_before_ms: int
    not_after_ms: int


@dataclass(frozen=True)
class OfficeInfo:
    office_id: str
    country: str
    name_vi: str
    name_zh: str
    role: str
    endpoint: str
    keys: tuple[KeyInfo, ...]
    #: IANA zone from the directory entry ("" if none; see gateway.protocol.localtime)
    time_zone: str = ""
    #: the suites the office accepts (wire-format §14); an empty list in the directory is (1,)
    suites: tuple[int, ...] = (SUITE_1,)


@dataclass(frozen=True)
class Directory:
    """A verified trust directory. Build one only through ``Directory.verify``."""

    serial: int
    issued_at_ms: int
    expires_at_ms: int
    offices: dict[str, OfficeInfo]
    revoked: dict[str, int]
    signed_bytes: bytes = field(repr=False)
    _keys: dict[str, KeyInfo] = field(repr=False)

    @classmethod
    def verify(cls, signed: bytes, roots: TrustRoots, *, now_ms: int,
               min_serial: int = 0) -> Directory:
        """Check the 2-of-2 root signatures over the exact bytes, then parse. A hybrid root
        (one with an ML-DSA-65 half) counts only if both its signatures verify.

        Every fault (size, framing, an unknown or failing root signature, a missing country,
        the serial, the validity period, the content) raises ``DirectoryError``
        (``BAD_DIRECTORY``); the message says which."""
        if len(signed) > MAX_DIRECTORY_BYTES:
            raise DirectoryError(
                f"directory is {len(signed)} bytes; limit {MAX_DIRECTORY_BYTES}")
        outer = directory_pb2.SignedDirectory()
        try:
            outer.ParseFromString(signed)
        except DecodeError as e:
            raise DirectoryError("not a signed directory (serialised SignedDirectory)") from e
        try:
            signed_by = verify_root_signatures(outer.signatures,
                                               DIRECTORY_DOMAIN + outer.directory, roots.roots)
        except UnknownRoot as e:
            raise UnknownRoot(f"directory {e.message}") from e
        except DirectoryError as e:
            raise DirectoryError(f"directory {e.message}") from e
        countries: set[str] = set()
        for r in roots.roots:
            lacking = root_signed(r, signed_by)
            if lacking:
                raise DirectoryError(lacking)
            if lacking == "":
                countries.add(r.country)
        missing = REQUIRED_COUNTRIES - countries
        if missing:
            raise DirectoryError(
                f"directory lacks a signature by the {'/'.join(sorted(missing))} root key; "
                "it needs both Vietnam's and China's")
        d = directory_pb2.Directory()
        try:
            d.ParseFromString(outer.directory)
        except DecodeError as e:
            raise DirectoryError("signed directory holds no valid directory") from e
        if d.serial < min_serial:
            raise DirectoryError(f"directory serial {d.serial} is older than {min_serial}")
        if not d.issued_at_ms <= now_ms < d.expires_at_ms:
            raise DirectoryError("directory is outside its validity period")
        return cls._from_pb(d, signed)

    @classmethod
    def _from_pb(cls, d: directory_pb2.Directory, signed: bytes) -> Directory:
        offices: dict[str, OfficeInfo] = {}
        keys: dict[str, KeyInfo] = {}
        for o in d.offices:
            if o.office_id in offices:
                raise DirectoryError(f"office {o.office_id} is listed twice")
            infos = []
            for k in o.keys:
                alg = _check_public_key(o.office_id, k)
                if k.key_id in keys:
                    raise DirectoryError(f"key {k.key_id} is listed twice")
                info = KeyInfo(o.office_id, k.key_id, alg, k.public_key,
                               k.not_before_ms, k.not_after_ms)
                keys[k.key_id] = info
                infos.append(info)
            role = directory_pb2.OfficeRole.Name(o.role).removeprefix("OFFICE_ROLE_").lower()
            if o.time_zone and (problem := check_zone_name(o.time_zone)):
                raise DirectoryError(f"{o.office_id}: {problem}")
            suites = _check_suites(o.office_id, o.suites, infos)
            offices[o.office_id] = OfficeInfo(o.office_id, o.country, o.name.vi, o.name.zh,
                                              role, o.endpoint, tuple(infos), o.time_zone,
                                              suites)
        revoked = {r.key_id: r.revoked_at_ms for r in d.revocations}
        return cls(d.serial, d.issued_at_ms, d.expires_at_ms, offices, revoked, signed, keys)

    def office(self, office_id: str) -> OfficeInfo:
        try:
            return self.offices[office_id]
        except KeyError:
            raise UnknownKey(f"office {office_id!r} is not in the trust directory") from None

    def key(self, key_id: str, *, algorithm: str, at_ms: int) -> KeyInfo:
        """A key usable at ``at_ms``: known, of the algorithm, not revoked, within validity."""
        info = self.lookup(key_id, algorithm=algorithm)
        self.check_validity(info, at_ms)
        return info

    def lookup(self, key_id: str, *, algorithm: str,
               received_at_ms: int | None = None) -> KeyInfo:
        """A known key of ``algorithm`` that is not revoked, whatever its validity period.

        A revoked key is refused (``KEY_REVOKED``), except that with ``received_at_ms`` (the
        time, by this gateway's own clock, at which it stored what is being re-verified) a
        revocation dated after that moment does not apply: what was accepted before a
        revocation stays verifiable."""
        info = self._keys.get(key_id)
        if info is None or info.algorithm != algorithm:
            raise UnknownKey(f"key {key_id!r} is not a known {algorithm} key")
        revoked_at = self.revoked.get(key_id)
        if revoked_at is not None and (received_at_ms is None or revoked_at <= received_at_ms):
            raise KeyRevoked(f"key {key_id} of {info.office_id} has been revoked")
        return info

    @staticmethod
    def check_validity(info: KeyInfo, at_ms: int) -> None:
        """``KEY_EXPIRED`` unless ``not_before_ms <= at_ms < not_after_ms``."""
        if not info.not_before_ms <= at_ms < info.not_after_ms:
            raise KeyExpired(f"key {info.key_id} of {info.office_id} is not valid at this time")

    def encryption_key(self, office_id: str, at_ms: int, algorithm: str = X25519) -> KeyInfo:
        """The newest unrevoked key of ``algorithm`` (X25519 for suite 1, the hybrid KEM for
        suite 2) of an office, valid at ``at_ms`` (see ``newest_first``)."""
        return self.newest_key(office_id, at_ms, algorithm, "encryption")

    def newest_key(self, office_id: str, at_ms: int, algorithm: str, what: str = "") -> KeyInfo:
        """The newest unrevoked ``algorithm`` key of an office valid at ``at_ms``."""
        valid = [k for k in self.office(office_id).keys
                 if k.algorithm == algorithm and k.key_id not in self.revoked
                 and k.not_before_ms <= at_ms < k.not_after_ms]
        if not valid:
            raise KeyExpired(f"office {office_id} has no valid {what or algorithm} key")
        return max(valid, key=newest_first)

    def suites(self, office_id: str) -> tuple[int, ...]:
        """The suites ``office_id`` accepts (``(1,)`` for an office the directory lists
        without any; ``UNKNOWN_KEY`` for one it does not list)."""
        return self.office(office_id).suites

    def required_suite(self, *offices: str) -> int:
        """The suite that traffic among ``offices`` must use: the highest suite every one
        of them accepts (wire-format §14). Anything lower between them is a downgrade."""
        common = set(KNOWN_SUITES)
        for o in offices:
            common &= set(self.suites(o))
        return max(common) if common else SUITE_1

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_at_ms

    def to_dict(self) -> dict[str, Any]:
        outer = directory_pb2.SignedDirectory.FromString(self.signed_bytes)
        d = directory_pb2.Directory.FromString(outer.directory)
        out = json_format.MessageToDict(d, preserving_proto_field_name=True)
        out["signatures"] = [s.key_id for s in outer.signatures]
        return out


def _check_public_key(office_id: str, k: directory_pb2.PublicKey) -> str:
    """The algorithm name of a listed key whose id matches its key; else ``BAD_DIRECTORY``."""
    alg = _PB_ALGORITHMS.get(k.algorithm)
    if (alg is None or len(k.public_key) != KEY_SIZES[alg][0]
            or key_id_for(alg, k.public_key) != k.key_id):
        raise DirectoryError(f"{office_id}: key {k.key_id} does not match its key "
                             "(key ids are derived from the key, docs/wire-format.md §2)")
    return alg


def _check_suites(office_id: str, listed: Iterable[int], keys: Sequence[KeyInfo],
                  ) -> tuple[int, ...]:
    """The suites an office accepts: the known ones it lists (a later suite number is
    ignored, so a directory made for newer gateways still loads), ``(1,)`` if none. An
    office that accepts suite 2 must list an ML-DSA-65 and a hybrid KEM key."""
    suites = tuple(sorted({s for s in listed if s in KNOWN_SUITES})) or (SUITE_1,)
    algs = {k.algorithm for k in keys}
    for suite in suites:
        missing = [a for a in SUITE_ALGORITHMS[suite] if a not in algs]
        if missing:
            raise DirectoryError(f"{office_id} accepts suite {suite} but lists no "
                                 f"{' or '.join(missing)} key")
    return suites


def suite_2_since(accepted: Iterable[tuple[bytes, int]]) -> dict[str, int]:
    """For each office that moved from suite 1 to suite 2, when this gateway (by its own
    clock) accepted the first directory listing it with suite 2, after one that listed it
    without. ``accepted`` holds every accepted directory (serialised ``SignedDirectory``,
    verified when it was accepted) with that moment, in serial order. An office listed with
    suite 2 from its first appearance never moved: it has no entry (no grace; see
    ``envelope.check_downgrade``)."""
    since: dict[str, int] = {}
    on_suite_1: set[str] = set()
    for signed, at_ms in accepted:
        try:
            d = directory_pb2.Directory.FromString(
                directory_pb2.SignedDirectory.FromString(signed).directory)
        except DecodeError:
            continue  # not one we could have accepted
        for o in d.offices:
            if SUITE_2 not in o.suites:
                on_suite_1.add(o.office_id)
            elif o.office_id in on_suite_1 and o.office_id not in since:
                since[o.office_id] = at_ms
    return since


def build_directory(offices: Iterable[directory_pb2.Office], *, serial: int, issued_at_ms: int,
                    expires_at_ms: int,
                    revocations: Sequence[tuple[str, int, str]] = ()) -> bytes:
    """An unsigned ``SignedDirectory`` (no signatures yet) for the roots to sign.

    Each office entry is checked as a verifier will check it: a key whose id does not
    match its key, or an office listed twice, is refused now (``BAD_DIRECTORY``) rather
    than when a gateway loads the signed directory."""
    ordered: list[directory_pb2.Office] = sorted(offices, key=lambda o: o.office_id)
    seen: set[str] = set()
    for o in ordered:
        if o.office_id in seen:
            raise DirectoryError(f"office {o.office_id} is listed twice")
        seen.add(o.office_id)
        infos = [KeyInfo(o.office_id, k.key_id, _check_public_key(o.office_id, k), k.public_key,
                         k.not_before_ms, k.not_after_ms) for k in o.keys]
        _check_suites(o.office_id, o.suites, infos)
    d = directory_pb2.Directory(
        serial=serial, issued_at_ms=issued_at_ms, expires_at_ms=expires_at_ms,
        offices=ordered,
        revocations=[directory_pb2.Revocation(key_id=k, revoked_at_ms=t, reason=r)
                     for k, t, r in revocations],
    )
    return directory_pb2.SignedDirectory(
        directory=d.SerializeToString(deterministic=True)).SerializeToString(deterministic=True)


def sign_directory(signed: bytes, root: RootSigner) -> bytes:
    """Add ``root``'s signature over the exact directory bytes (one per root key; a hybrid
    root adds two, Ed25519 and ML-DSA-65, replacing any it made before)."""
    outer = directory_pb2.SignedDirectory()
    try:
        outer.ParseFromString(signed)
    except DecodeError as e:
        raise Malformed("not a signed directory") from e
    kept = [s for s in outer.signatures if s.key_id not in (root.key_id, root.pq_key_id)]
    kept.extend(root.signatures(DIRECTORY_DOMAIN + outer.directory))
    out = directory_pb2.SignedDirectory(directory=outer.directory, signatures=kept)
    return out.SerializeToString(deterministic=True)


def office_from_json(text: str) -> directory_pb2.Office:
    """Parse a public office entry written by ``blo-gateway keys create``."""
    msg = directory_pb2.Office()
    try:
        json_format.Parse(text, msg)
    except json_format.ParseError as e:
        raise ConfigError(f"not an office entry: {e}") from e
    return msg


def office_to_json(office: directory_pb2.Office) -> str:
    return json_format.MessageToJson(office, preserving_proto_field_name=True,
                                     ensure_ascii=False, indent=2) + "\n"
