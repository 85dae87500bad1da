"""Version-2 peer requests: RFC 9421 HTTP Message Signatures (docs/wire-format.md §15).

A version-2 request carries an RFC 9530 ``Content-Digest: sha-256=:<base64>:``, the
``BLO-Destination`` header and two RFC 9421 signatures over the same covered components::

    Signature-Input: ed=("@method" "@path" "@query" "content-digest" "blo-destination")
        ;created=<Unix s>;nonce="<32 hex>";keyid="ed25519:…";alg="ed25519";tag="blo-gateway/v2",
        pq=(…the same…);created=…;nonce=…;keyid="mldsa65:…";alg="ml-dsa-65";tag="blo-gateway/v2"
    Signature: ed=:<64 bytes>:, pq=:<3309 bytes>:

``ed`` is Ed25519 (RFC 9421 §3.3.6), ``pq`` ML-DSA-65 (FIPS 204, pure, empty context; no IANA
name is registered: ``ml-dsa-65`` is ours). Both must be present and verify, by keys of one
office (the origin: there is no origin header, the key says who signed). The two signature
bases differ only in their ``@signature-params`` line (key id and alg).

``Signature-Input``, ``Signature`` and ``Content-Digest`` are parsed as RFC 8941 structured
fields, strictly (``gateway.protocol.sfv``), after their sizes are checked; then their shape must
be exactly the one above (components and parameters in this order, nothing else): anything
else is ``UNAUTHORIZED``. The receiver's own clock, skew window and nonce store decide.

Answers to a version-2 request are signed the same way (``sign_response``): ``@status``,
``content-digest`` and the request's Ed25519 signature (``"signature";req;key="ed"``, RFC 9421
§2.4), tag ``blo-gateway/v2-response``; the sender checks them with ``verify_response``.

Pure: no I/O, no clock reads (times are arguments).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway.protocol import sfv
from gateway.protocol.errors import (
    BadSignature,
    Downgrade,
    Expired,
    Unauthorized,
    WrongDestination,
)
from gateway.protocol.identity import ED25519, ML_DSA_65, SUITE_2, Directory, KeyInfo, Keyring
from gateway.protocol.peerauth import AuthenticatedRequest

__all__ = ["ALG_ED25519", "ALG_MLDSA65", "CONTENT_DIGEST", "COVERED", "DESTINATION",
           "RESPONSE_TAG", "SIGNATURE", "SIGNATURE_INPUT", "TAG", "V2Request",
           "check_body", "check_headers", "content_digest", "is_v2", "params_of",
           "request_base", "response_base", "sign_request", "sign_response",
           "signature_params", "split_target", "verify_response"]

TAG = "blo-gateway/v2"
RESPONSE_TAG = "blo-gateway/v2-response"
ALG_ED25519 = "ed25519"
ALG_MLDSA65 = "ml-dsa-65"
LABELS = {"ed": (ALG_ED25519, ED25519, 64), "pq": (ALG_MLDSA65, ML_DSA_65, 3309)}
COVERED = ("@method", "@path", "@query", "content-digest", "blo-destination")
PARAMS = ("created", "nonce", "keyid", "alg", "tag")
RESPONSE_PARAMS = ("created", "keyid", "alg", "tag")
SIGNATURE_INPUT = "Signature-Input"
SIGNATURE = "Signature"
CONTENT_DIGEST = "Content-Digest"
DESTINATION = "BLO-Destination"
#: header size limits, checked before anything is parsed (bytes)
MAX_HEADER = {SIGNATURE_INPUT: 1024, SIGNATURE: 6144, CONTENT_DIGEST: 128, DESTINATION: 64}
_NONCE = re.compile(r"[0-9a-f]{32}")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9.\-]{0,63}")
_KEY_ID = re.compile(r"[a-z0-9\-]{1,16}:[0-9a-f]{32}")


# --- signature bases ---------------------------------------------------------------------

_REQUEST_ITEMS: tuple[sfv.Item, ...] = tuple((c, ()) for c in COVERED)
_RESPONSE_ITEMS: tuple[sfv.Item, ...] = (("@status", ()), ("content-digest", ()),
                                     ("signature", (("req", True), ("key", "ed"))))


def signature_params(*, created_s: int, nonce: str, keyid: str, alg: str) -> str:
    """The serialized ``@signature-params`` value (= the Signature-Input member) of a request."""
    return sfv.serialize_inner_list(_REQUEST_ITEMS, (("created", created_s), ("nonce", nonce),
                                       ("keyid", keyid), ("alg", alg), ("tag", TAG)))


def _response_params(*, created_s: int, keyid: str, alg: str) -> str:
    return sfv.serialize_inner_list(_RESPONSE_ITEMS, (("created", created_s), ("keyid", keyid),
                                        ("alg", alg), ("tag", RESPONSE_TAG)))


def request_base(*, method: str, path: str, query: str, content_digest: str,
                 destination: str, params: str) -> bytes:
    """The RFC 9421 §2.5 signature base of a request (``query`` without its ``?``)."""
    lines = [f'"@method": {method}', f'"@path": {path or "/"}', f'"@query": ?{query}',
             f'"content-digest": {content_digest}', f'"blo-destination": {destination}',
             f'"@signature-params": {params}']
    return "\n".join(lines).encode("ascii")


def response_base(*, status: int, content_digest: str, request_ed_signature: bytes,
                  params: str) -> bytes:
    lines = [f'"@status": {status}', f'"content-digest": {content_digest}',
             '"signature";req;key="ed": ' + sfv.serialize_bare(request_ed_signature),
             f'"@signature-params": {params}']
    return "\n".join(lines).encode("ascii")


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` of ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=" + sfv.serialize_bare(hashlib.sha256(body).digest())


def split_target(path_qs: str) -> tuple[str, str]:
    """``/path?query`` → (``/path``, ``query``): the ``@path`` and ``@query`` sources."""
    path, _, query = path_qs.partition("?")
    return path, query


def params_of(signature_input: str, label: str) -> str:
    """The ``@signature-params`` value of signature ``label`` in a Signature-Input header,
    re-serialized (the way a verifier rebuilds it)."""
    inner, params = sfv.parse_dictionary(signature_input)[label]
    if not isinstance(inner, tuple):
        raise Unauthorized(f"signature {label!r} is not an inner list")
    return sfv.serialize_inner_list(inner, params)


# --- signing -----------------------------------------------------------------------------

def sign_request(keyring: Keyring, *, method: str, path_qs: str, destination: str, body: bytes,
                 now_ms: int, nonce: str | None = None) -> tuple[dict[str, str], bytes]:
    """Headers that authenticate one version-2 request, and the request's Ed25519 signature
    (which the answer's signature covers: keep it for ``verify_response``)."""
    ed = keyring.signing_key(now_ms)
    pq = keyring.pq_signing_key(now_ms)
    nonce = nacl.utils.random(16).hex() if nonce is None else nonce
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce must be 32 lower-case hex digits")
    created = now_ms // 1000
    digest = content_digest(body)
    path, query = split_target(path_qs)
    inputs, sigs = [], []
    ed_sig = b""
    for label, key in (("ed", ed), ("pq", pq)):
        params = signature_params(created_s=created, nonce=nonce, keyid=key.key_id,
                                  alg=LABELS[label][0])
        base = request_base(method=method.upper(), path=path, query=query,
                            content_digest=digest, destination=destination, params=params)
        sig = key.signer.sign(base).signature if label == "ed" else key.pq_signer.sign(base)
        if label == "ed":
            ed_sig = sig
        inputs.append(f"{label}={params}")
        sigs.append(f"{label}={sfv.serialize_bare(sig)}")
    return ({CONTENT_DIGEST: digest, DESTINATION: destination,
             SIGNATURE_INPUT: ", ".join(inputs), SIGNATURE: ", ".join(sigs)}, ed_sig)


def sign_response(keyring: Keyring, *, status: int, body: bytes, request_ed_signature: bytes,
                  now_ms: int) -> dict[str, str]:
    """Headers that sign an answer to a version-2 request (both algorithms)."""
    digest = content_digest(body)
    inputs, sigs = [], []
    for label, key in (("ed", keyring.signing_key(now_ms)), ("pq", keyring.pq_signing_key(now_ms))):
        params = _response_params(created_s=now_ms // 1000, keyid=key.key_id,
                                  alg=LABELS[label][0])
        base = response_base(status=status, content_digest=digest,
                             request_ed_signature=request_ed_signature, params=params)
        sig = key.signer.sign(base).signature if label == "ed" else key.pq_signer.sign(base)
        inputs.append(f"{label}={params}")
        sigs.append(f"{label}={sfv.serialize_bare(sig)}")
    return {CONTENT_DIGEST: digest, SIGNATURE_INPUT: ", ".join(inputs),
            SIGNATURE: ", ".join(sigs)}


# --- checking ----------------------------------------------------------------------------

def is_v2(headers: Mapping[str, str]) -> bool:
    """Whether a request claims to be version 2 (it carries ``Signature-Input``)."""
    return SIGNATURE_INPUT in headers


@dataclass(frozen=True)
class V2Request:
    """A version-2 request whose headers verified: who, and what the body must hash to."""

    auth: AuthenticatedRequest
    ed_signature: bytes
    body_sha256: bytes


@dataclass(frozen=True)
class _Sig:
    label: str
    params: str
    values: dict[str, sfv.BareItem]
    signature: bytes


def _header(headers: Mapping[str, str], name: str, *, required: bool = True) -> str:
    getall = getattr(headers, "getall", None)
    if getall is not None and len(getall(name, [])) > 1:
        raise Unauthorized(f"{name} must be sent once")
    value = headers.get(name, "")
    if len(value) > MAX_HEADER[name]:
        raise Unauthorized(f"{name} is over {MAX_HEADER[name]} bytes")
    if required and not value:
        raise Unauthorized(f"missing authentication header {name}")
    return value


def _digest_value(text: str) -> bytes:
    d = sfv.parse_dictionary(text)
    member = d.get("sha-256")
    if len(d) != 1 or member is None or not isinstance(member[0], bytes) or member[1] \
            or len(member[0]) != 32:
        raise Unauthorized("Content-Digest must be exactly sha-256=:<base64 of 32 bytes>:")
    return member[0]


def _signatures(inputs: str, signatures: str, items: tuple[sfv.Item, ...],
                names: tuple[str, ...]) -> dict[str, _Sig]:
    si, sg = sfv.parse_dictionary(inputs), sfv.parse_dictionary(signatures)
    if set(si) != set(sg) or not set(si) <= set(LABELS):
        raise Unauthorized("Signature-Input and Signature must have the same labels, "
                           f"among {sorted(LABELS)}")
    out = {}
    for label, member in si.items():
        inner, params = member
        if not isinstance(inner, tuple) or (sfv.serialize_inner_list(inner, ())
                                            != sfv.serialize_inner_list(items, ())):
            raise Unauthorized(f"signature {label!r} must cover exactly "
                               + sfv.serialize_inner_list(items, ()))
        if tuple(k for k, _ in params) != names:
            raise Unauthorized(f"signature {label!r} must have the parameters "
                               f"{', '.join(names)} in this order")
        sig, sig_params = sg[label]
        alg, _, length = LABELS[label]
        if not isinstance(sig, bytes) or sig_params or len(sig) != length:
            raise Unauthorized(f"signature {label!r} must be a byte sequence of {length} bytes")
        values = dict(params)
        if any(type(values[k]) is not str for k in names if k != "created"):
            raise Unauthorized(f"signature {label!r}: {', '.join(names[1:])} must be strings")
        if values["alg"] != alg:
            raise Unauthorized(f"signature {label!r} must have alg={alg!r}")
        if (not isinstance(values["created"], int) or isinstance(values["created"], bool)
                or values["created"] < 0 or not _KEY_ID.fullmatch(str(values["keyid"]))):
            raise Unauthorized(f"signature {label!r}: created must be Unix seconds, keyid a "
                               "key id")
        out[label] = _Sig(label, sfv.serialize_inner_list(inner, params), values, sig)
    return out


def _verify(key: KeyInfo, label: str, sig: bytes, base: bytes) -> None:
    try:
        if label == "ed":
            nacl.signing.VerifyKey(key.public_key).verify(base, sig)
        else:
            mldsa.MLDSA65PublicKey.from_public_bytes(key.public_key).verify(sig, base)
    except (nacl.exceptions.BadSignatureError, InvalidSignature, ValueError) as e:
        raise BadSignature(f"the {label!r} signature by {key.key_id} does not verify") from e


def check_headers(headers: Mapping[str, str], *, method: str, path: str, query: str,
                  directory: Directory, me: str, now_ms: int, max_skew_ms: int) -> V2Request:
    """Authenticate a version-2 request from its headers alone (§15 order): sizes, structure,
    destination, the keys (valid, one office; a missing ``pq`` signature between suite-2
    offices is ``DOWNGRADE``), ``created`` within the skew, both signatures over the
    ``Content-Digest`` value. Then ``check_body`` and the caller's nonce store."""
    inputs = _header(headers, SIGNATURE_INPUT)
    signatures = _header(headers, SIGNATURE)
    digest_text = _header(headers, CONTENT_DIGEST)
    destination = _header(headers, DESTINATION)
    sigs = _signatures(inputs, signatures, _REQUEST_ITEMS, PARAMS)
    body_sha256 = _digest_value(digest_text)
    if "ed" not in sigs:
        raise Unauthorized("a version-2 request carries an 'ed' (Ed25519) signature")
    ed = sigs["ed"]
    created, nonce = ed.values["created"], ed.values["nonce"]
    if not _NONCE.fullmatch(str(nonce)) or ed.values["tag"] != TAG:
        raise Unauthorized(f'nonce must be 32 lower-case hex digits and tag "{TAG}"')
    pq = sigs.get("pq")
    if pq is not None and any(pq.values[k] != ed.values[k] for k in ("created", "nonce", "tag")):
        raise Unauthorized("the two signatures must have the same created, nonce and tag")
    if not _OFFICE.fullmatch(destination):
        raise Unauthorized("BLO-Destination must be an office id")
    if destination != me:
        raise WrongDestination(f"this gateway is {me}, not {destination}")
    ed_key = directory.key(str(ed.values["keyid"]), algorithm=ED25519, at_ms=now_ms)
    origin = ed_key.office_id
    if pq is None:
        if directory.required_suite(origin, me) >= SUITE_2:
            raise Downgrade(f"{origin} and {me} both accept suite 2: the ML-DSA-65 ('pq') "
                            "signature is required")
        raise Unauthorized("a version-2 request carries both the 'ed' and 'pq' signatures")
    pq_key = directory.key(str(pq.values["keyid"]), algorithm=ML_DSA_65, at_ms=now_ms)
    if pq_key.office_id != origin:
        raise BadSignature("the two signatures are by keys of different offices")
    assert isinstance(created, int)
    if abs(created * 1000 - now_ms) > max_skew_ms:
        raise Expired(f"request time differs from ours by {abs(created * 1000 - now_ms)} ms "
                      f"(allowed {max_skew_ms}); check the clocks")
    for s, key in ((ed, ed_key), (pq, pq_key)):
        base = request_base(method=method, path=path, query=query, content_digest=digest_text,
                            destination=destination, params=s.params)
        _verify(key, s.label, s.signature, base)
    return V2Request(AuthenticatedRequest(origin, ed_key.key_id, created * 1000, str(nonce)),
                     ed.signature, body_sha256)


def check_body(request: V2Request, body: bytes) -> None:
    """The body read must hash to the signed ``Content-Digest`` (``BAD_SIGNATURE``)."""
    if not hmac.compare_digest(hashlib.sha256(body).digest(), request.body_sha256):
        raise BadSignature("the body does not match its signed Content-Digest")


def verify_response(headers: Mapping[str, str], *, status: int, body: bytes,
                    request_ed_signature: bytes, responder: str, directory: Directory,
                    now_ms: int, max_skew_ms: int) -> None:
    """Check an answer to our version-2 request: signed by both of ``responder``'s keys,
    over its status, its body's digest and our request's signature, within the skew."""
    inputs = _header(headers, SIGNATURE_INPUT)
    signatures = _header(headers, SIGNATURE)
    digest_text = _header(headers, CONTENT_DIGEST)
    sigs = _signatures(inputs, signatures, _RESPONSE_ITEMS, RESPONSE_PARAMS)
    if set(sigs) != set(LABELS):
        raise Downgrade("an answer from a suite-2 peer carries both signatures")
    if not hmac.compare_digest(hashlib.sha256(body).digest(), _digest_value(digest_text)):
        raise BadSignature("the answer does not match its Content-Digest")
    for label, s in sigs.items():
        if s.values["tag"] != RESPONSE_TAG:
            raise Unauthorized(f'an answer\'s tag is "{RESPONSE_TAG}"')
        key = directory.key(str(s.values["keyid"]), algorithm=LABELS[label][1], at_ms=now_ms)
        if key.office_id != responder:
            raise BadSignature(f"the answer is signed by {key.office_id}, not {responder}")
        created = s.values["created"]
        assert isinstance(created, int)
        if abs(created * 1000 - now_ms) > max_skew_ms:
            raise Expired("the answer's created time is outside the allowed skew")
        base = response_base(status=status, content_digest=digest_text,
                             request_ed_signature=request_ed_signature, params=s.params)
        _verify(key, label, s.signature, base)
