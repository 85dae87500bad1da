"""Which version a gateway-to-gateway request is signed with, and which answers to trust.

The one place that signs a peer request (``sign``): version 1 (``BLO-*`` headers,
``gateway.protocol.peerauth``, docs/wire-format.md §11) when the signed directory says the
two offices' required suite is 1, version 2 (RFC 9421, ``gateway.protocol.httpsig``, §15)
when it is 2. To a version-2 request a peer's answer is signed too: ``answer_verified``
says whether it is, and a sender acts on what such an answer says (a ping's time and serial,
a witness answer, a ``Retry-After``, a per-envelope refusal) only if it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.protocol import httpsig, peerauth
from gateway.protocol.errors import GatewayError
from gateway.protocol.identity import SUITE_2, Directory, Keyring

__all__ = ["PeerRequest", "answer_verified", "sign"]


@dataclass(frozen=True)
class PeerRequest:
    """The headers of one signed request, and what checking its answer needs."""

    headers: dict[str, str]
    version: int
    destination: str
    #: the request's Ed25519 signature, which a version-2 answer's signature covers
    ed_signature: bytes = b""


def sign(keyring: Keyring, directory: Directory, *, method: str, path_qs: str,
         destination: str, body: bytes, now_ms: int) -> PeerRequest:
    """Sign a request to ``destination``, in the version their required suite says."""
    try:
        suite = directory.required_suite(keyring.office_id, destination)
    except GatewayError:  # an office our directory does not list: it cannot say suite 2
        suite = 1
    if suite >= SUITE_2:
        headers, ed_sig = httpsig.sign_request(keyring, method=method, path_qs=path_qs,
                                               destination=destination, body=body,
                                               now_ms=now_ms)
        return PeerRequest(headers, 2, destination, ed_sig)
    return PeerRequest(peerauth.sign_request(keyring, method=method, path_qs=path_qs,
                                             destination=destination, body=body,
                                             now_ms=now_ms), 1, destination)


def answer_verified(request: PeerRequest, *, status: int, headers: Mapping[str, str],
                    body: bytes, directory: Directory, now_ms: int, max_skew_ms: int) -> bool:
    """Whether the answer to ``request`` is signed by its destination (version 2 only: an
    answer to a version-1 request never is, and is used as before, as a hint)."""
    if request.version < 2:
        return False
    try:
        httpsig.verify_response(headers, status=status, body=body,
                                request_ed_signature=request.ed_signature,
                                responder=request.destination, directory=directory,
                                now_ms=now_ms, max_skew_ms=max_skew_ms)
    except GatewayError:
        return False
    return True
