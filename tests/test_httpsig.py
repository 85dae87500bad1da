"""Version-2 peer requests, RFC 9421 HTTP Message Signatures (issue 19, docs/wire-format.md §15).

The known-answer vectors (tests/vectors/httpsig/) through the project's code and, for the
valid one, rebuilt from the spec text with raw primitives only; the strict structured-field
parsing; and two real suite-2 gateways on loopback: messages delivered with version-2
requests (seen on the wire through a recording proxy, answers signed), a version-1 request
between them refused DOWNGRADE, a replayed nonce REPLAY, a changed body BAD_SIGNATURE, an old
``created`` EXPIRED, and unsigned answers from a suite-2 peer ignored by the sender (a ping,
a ``Retry-After``, a witness refusal or cosignature, per-envelope refusals and 413s, which
must not make dead letters, a re-delivery answer, a directory fetch); answers with JSON that
is not an object or nested too deep are failures, never exceptions out of the workers; an
endless answer is cut at the limit; a cosignature dated before its checkpoint is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import mldsa
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.notes import cosign, split_note
from gateway.cli.audit_peer import HttpPeer
from gateway.cli.demo import free_port
from gateway.cli.doctor import ping_peer
from gateway.node import redelivery
from gateway.node.delivery import MAX_ANSWER_BYTES, frame_batch
from gateway.node.witness import accept_cosignature, checkpoint_and_witness, current_checkpoint
from gateway.protocol import envelope, httpsig, peerauth, peerrequest, sfv
from gateway.protocol.errors import GatewayError, Unauthorized
from gateway.protocol.identity import Directory, TrustRoots
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from tests.harness import BACKENDS, Pair, load_script, wait_for

VECTORS = Path(__file__).parent / "vectors" / "httpsig"
VECTOR_FILES = sorted(p for p in VECTORS.glob("*.json") if p.name != "network.json")
ENVELOPES = "/peer/v1/envelopes"


def _now() -> int:
    return int(time.time() * 1000)


# ------------------------------------------------------------------------------ vectors

@pytest.fixture(scope="module")
def vector_directory() -> Directory:
    net = json.loads((VECTORS / "network.json").read_text())
    roots = TrustRoots.from_json(json.dumps(net["roots_json"]))
    return Directory.verify(bytes.fromhex(net["directory_hex"]), roots, now_ms=net["now_ms"])


def _without_hedged(vectors: dict[str, Any]) -> dict[str, Any]:
    """The vectors less what hedged ML-DSA-65 signing changes at every run."""
    text = json.dumps(vectors, sort_keys=True)
    out: dict[str, Any] = json.loads(text)
    for vec in out.values():
        for key in ("mldsa65_signature_b64", "response_mldsa65_signature_b64"):
            vec.pop(key, None)
        for part in (vec.get("request"), vec.get("response")):
            if part and httpsig.SIGNATURE in part["headers"]:
                part["headers"][httpsig.SIGNATURE] = \
                    part["headers"][httpsig.SIGNATURE].split(", pq=")[0]
    return out


def test_vectors_regenerate_identically(tmp_path: Path) -> None:
    generate = load_script(VECTORS / "generate.py", "httpsig_vectors_generate")
    generate.write(tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert names == sorted(p.name for p in VECTORS.glob("*.json"))
    fresh = {n: json.loads((tmp_path / n).read_text()) for n in names}
    stored = {n: json.loads((VECTORS / n).read_text()) for n in names}
    assert _without_hedged(fresh) == _without_hedged(stored)


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_through_the_project(path: Path, vector_directory: Directory) -> None:
    vec = json.loads(path.read_text())
    req = vec["request"]
    target_path, query = httpsig.split_target(req["target"])
    try:
        v2 = httpsig.check_headers(req["headers"], method=req["method"], path=target_path,
                                   query=query, directory=vector_directory, me=vec["me"],
                                   now_ms=vec["now_ms"], max_skew_ms=vec["max_skew_ms"])
        httpsig.check_body(v2, bytes.fromhex(req["body_hex"]))
        code = "OK"
    except GatewayError as e:
        code = e.code
    assert code == vec["expect"], vec["description"]
    if code == "OK":
        assert v2.auth.origin == vec["origin"] and v2.auth.nonce == vec["nonce"]
        resp = vec["response"]
        httpsig.verify_response(resp["headers"], status=resp["status"],
                                body=bytes.fromhex(resp["body_hex"]),
                                request_ed_signature=v2.ed_signature, responder=vec["me"],
                                directory=vector_directory, now_ms=vec["now_ms"],
                                max_skew_ms=vec["max_skew_ms"])


def test_vector_rebuilt_from_the_spec_with_raw_primitives() -> None:
    """No project code: the Content-Digest (RFC 9530), the signature base (RFC 9421 §2.5)
    from the request as §15 lists its components, and both signatures."""
    vec = json.loads((VECTORS / "laocai-to-hekou.json").read_text())
    req, keys = vec["request"], vec["keys"]
    body = bytes.fromhex(req["body_hex"])
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    assert digest == vec["content_digest"] == req["headers"]["Content-Digest"]
    path, _, query = req["target"].partition("?")
    bases = {}
    for label, keyid, alg in (("ed", keys["ed25519_key_id"], "ed25519"),
                              ("pq", keys["mldsa65_key_id"], "ml-dsa-65")):
        params = ('("@method" "@path" "@query" "content-digest" "blo-destination")'
                  f';created={vec["created"]};nonce="{vec["nonce"]}";keyid="{keyid}"'
                  f';alg="{alg}";tag="blo-gateway/v2"')
        assert f"{label}={params}" in req["headers"]["Signature-Input"].split(", ")
        bases[label] = (f'"@method": {req["method"]}\n"@path": {path}\n"@query": ?{query}\n'
                        f'"content-digest": {digest}\n'
                        f'"blo-destination": {req["headers"]["BLO-Destination"]}\n'
                        f'"@signature-params": {params}').encode()
    assert bases["ed"].decode() == vec["signature_base_ed"]
    assert bases["pq"].decode() == vec["signature_base_pq"]
    ed_key = nacl.signing.SigningKey(bytes.fromhex(keys["ed25519_seed_hex"]))
    assert bytes(ed_key.verify_key).hex() == keys["ed25519_public_hex"]
    ed_sig = ed_key.sign(bases["ed"]).signature  # Ed25519 is deterministic: the same bytes
    assert base64.b64encode(ed_sig).decode() == vec["ed25519_signature_b64"]
    pq_key = mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes.fromhex(keys["mldsa65_seed_hex"]))
    pq_pub = pq_key.public_key()
    assert pq_pub.public_bytes_raw().hex() == keys["mldsa65_public_hex"]
    pq_pub.verify(base64.b64decode(vec["mldsa65_signature_b64"]), bases["pq"])  # hedged
    assert req["headers"]["Signature"] == (f'ed=:{vec["ed25519_signature_b64"]}:, '
                                           f'pq=:{vec["mldsa65_signature_b64"]}:')
    # The answer: @status, its Content-Digest, and the request's Ed25519 signature (;req).
    resp = vec["response"]
    rbody = bytes.fromhex(resp["body_hex"])
    rdigest = "sha-256=:" + base64.b64encode(hashlib.sha256(rbody).digest()).decode() + ":"
    ed_input = resp["headers"]["Signature-Input"].split(", ")[0].removeprefix("ed=")
    rbase = (f'"@status": {resp["status"]}\n"content-digest": {rdigest}\n'
             f'"signature";req;key="ed": :{vec["ed25519_signature_b64"]}:\n'
             f'"@signature-params": {ed_input}')
    assert rbase == resp["signature_base_ed"]
    assert ed_input.startswith('("@status" "content-digest" "signature";req;key="ed")')
    nacl.signing.VerifyKey(bytes.fromhex(resp["signer_ed25519_public_hex"])).verify(
        rbase.encode(), base64.b64decode(vec["response_ed25519_signature_b64"]))


def test_spec_shows_the_vectors_signature_bases() -> None:
    """docs/wire-format.md §15 quotes the vector's bases: they must stay the same text."""
    vec = json.loads((VECTORS / "laocai-to-hekou.json").read_text())
    spec = (Path(__file__).parents[1] / "docs" / "wire-format.md").read_text()
    section = spec[spec.index("## 15. Version-2 requests"):]
    for base in (vec["signature_base_ed"], vec["response"]["signature_base_ed"]):
        assert "\n".join("    " + line for line in base.split("\n")) in section


# ------------------------------------------------------------- strict header parsing

def _valid() -> tuple[dict[str, Any], dict[str, str]]:
    vec = json.loads((VECTORS / "laocai-to-hekou.json").read_text())
    return vec, dict(vec["request"]["headers"])


@pytest.mark.parametrize(("name", "change"), [
    ("repeated label", lambda h: h.update({"Signature-Input": h["Signature-Input"] + ", "
                                           + h["Signature-Input"].split(", ")[0]})),
    ("trailing comma", lambda h: h.update({"Signature": h["Signature"] + ","})),
    ("token for a string", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        'alg="ed25519"', "alg=ed25519")})),
    ("extra component", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        '"blo-destination")', '"blo-destination" "date")')})),
    ("parameters reordered", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        ';tag="blo-gateway/v2"', "").replace(";created=", ';tag="blo-gateway/v2";created=')})),
    ("unpadded base64", lambda h: h.update({"Signature": h["Signature"].replace("==:", ":")})),
    ("decimal created", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        ";nonce=", ".5;nonce=")})),
    ("non-ASCII", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        "ed25519\"", "ed25519\u00e9\"")})),
    ("oversized Signature-Input", lambda h: h.update({"Signature-Input": h["Signature-Input"]
                                                      + ", x=()" + " " * 1024})),
    ("two digests", lambda h: h.update({"Content-Digest": h["Content-Digest"]
                                        + ", sha-512=:AA==:"})),
    ("other tag", lambda h: h.update({"Signature-Input": h["Signature-Input"].replace(
        "blo-gateway/v2", "blo-gateway/v3")})),
])
def test_malformed_headers_are_unauthorized(name: str, change: Any,
                                            vector_directory: Directory) -> None:
    vec, headers = _valid()
    change(headers)
    with pytest.raises(Unauthorized):
        httpsig.check_headers(headers, method="POST", path="/peer/v1/redeliver", query="",
                              directory=vector_directory, me=HEKOU, now_ms=vec["now_ms"],
                              max_skew_ms=300_000)


def test_structured_field_round_trip() -> None:
    d = sfv.parse_dictionary('a=("x" "y";req;key="ed");n=-3;b=?0, t=tok/en, s=:AAE=:')
    assert d["a"] == ((("x", ()), ("y", (("req", True), ("key", "ed")))),
                      (("n", -3), ("b", False)))
    assert isinstance(d["t"][0], sfv.Token) and d["s"] == (b"\x00\x01", ())


_KEYS = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,5}", fullmatch=True)
_BARE = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1), st.booleans(), st.binary(max_size=12),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,6}", fullmatch=True).map(sfv.Token))
_PARAMS = st.dictionaries(_KEYS, _BARE, max_size=3).map(lambda d: tuple(d.items()))
_ITEM = st.tuples(_BARE, _PARAMS)
_MEMBER = st.one_of(_ITEM, st.tuples(st.lists(_ITEM, max_size=3).map(tuple), _PARAMS))


def _serialize(d: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={sfv.serialize_inner_list(v, p)}" if isinstance(v, tuple)
        else f"{k}={sfv.serialize_bare(v)}{sfv.serialize_params(p)}" for k, (v, p) in d.items())


@given(st.dictionaries(_KEYS, _MEMBER, min_size=1, max_size=4))
def test_structured_fields_round_trip(d: dict[str, Any]) -> None:
    text = _serialize(d)
    assert _serialize(sfv.parse_dictionary(text)) == text


@given(st.text(max_size=60))
def test_structured_field_parser_only_refuses(text: str) -> None:
    with contextlib.suppress(Unauthorized):
        sfv.parse_dictionary(text)


# ------------------------------------------------------------- two suite-2 gateways

@pytest.fixture(params=BACKENDS)
async def pq_pair(request, tmp_path):
    p = Pair(tmp_path, request.param, post_quantum=True)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


class Recorder:
    """A reverse proxy on loopback that records what passes (the wire, both ways)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[tuple[str, str, dict[str, str], int, dict[str, str]]] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        async with aiohttp.ClientSession() as s, s.request(
                request.method, self.target + request.raw_path, data=body,
                headers=headers) as r:
            answer = await r.read()
            out = {k: v for k, v in r.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                        "date", "server", "content-encoding")}
            self.seen.append((request.method, request.raw_path, dict(request.headers),
                              r.status, dict(out)))
            return web.Response(status=r.status, body=answer, headers=out)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_suite2_gateways_deliver_with_version2_requests(pq_pair: Pair) -> None:
    proxy = Recorder(pq_pair.peer(HEKOU))
    url = await proxy.start()
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: url})
        lc = await pq_pair.start(LAOCAI)
        await pq_pair.start(HEKOU)
        async with aiohttp.ClientSession() as s:
            o = pq_pair.officer(s, LAOCAI)
            mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())
            await o.wait_delivered(mid)
        # Witnessing and the ping go the same way (and their signed answers are used).
        await checkpoint_and_witness(lc)
        assert await lc.store.call(lc.store.sync.witnessed_size, HEKOU) > 0
        await lc.ping(HEKOU)
        assert lc.peer_info[HEKOU]["ping_error"] is None
        assert "clock_skew_ms" in lc.peer_info[HEKOU]
        # The operator's commands sign version 2 too: doctor's ping, audit --peer.
        directory = pq_pair.net.directory()
        skew = await asyncio.to_thread(ping_peer, pq_pair.net.keyrings[LAOCAI], directory,
                                       HEKOU, url)
        assert abs(skew) < 5_000
        peer = HttpPeer(url, pq_pair.net.keyrings[LAOCAI], directory)
        assert "\n" in await asyncio.to_thread(peer.checkpoint, HEKOU)
    finally:
        await proxy.stop()
    paths = {x[1].split("?")[0] for x in proxy.seen}
    assert {ENVELOPES, "/peer/v1/witness/add-checkpoint", "/peer/v1/ping",
            "/peer/v1/audit/checkpoint"} <= paths
    posts = [x for x in proxy.seen if x[1] == ENVELOPES]
    for method, _, headers, status, answer in proxy.seen:
        assert "BLO-Signature" not in headers and "BLO-Origin" not in headers
        inputs = sfv.parse_dictionary(headers["Signature-Input"])
        assert set(inputs) == {"ed", "pq"}
        assert headers["Content-Digest"].startswith("sha-256=:")
        assert "Signature-Input" in answer, (method, status)  # every answer is signed
    assert posts[0][3] == 200


async def test_version1_and_bad_version2_requests_between_suite2_gateways(
        pq_pair: Pair, session: aiohttp.ClientSession) -> None:
    await pq_pair.start(HEKOU)
    ring, directory = pq_pair.net.keyrings[LAOCAI], pq_pair.net.directory()
    blob = envelope.seal(case_payloads()[0].payload, sender=ring, recipients=[HEKOU],
                         directory=directory, now_ms=_now())
    body = frame_batch([blob])
    url = pq_pair.peer(HEKOU) + ENVELOPES

    async def post(headers: dict[str, str], data: bytes = body) -> tuple[int, Any]:
        async with session.post(url, data=data, headers=headers) as r:
            return r.status, await r.json()

    # Version 1 between two suite-2 offices: refused, and nothing is stored.
    v1 = peerauth.sign_request(ring, method="POST", path_qs=ENVELOPES, destination=HEKOU,
                               body=body, now_ms=_now())
    status, answer = await post(v1)
    assert (status, answer["code"]) == (400, "DOWNGRADE")
    # A version-1 ping (no authority in its answer) still works: how an older directory
    # learns the new one's serial.
    ping = peerauth.sign_request(ring, method="GET", path_qs="/peer/v1/ping",
                                 destination=HEKOU, body=b"", now_ms=_now())
    async with session.get(pq_pair.peer(HEKOU) + "/peer/v1/ping", headers=ping) as r:
        assert r.status == 200 and "Signature-Input" not in r.headers
    # The body changed after signing.
    h, _ = httpsig.sign_request(ring, method="POST", path_qs=ENVELOPES, destination=HEKOU,
                                body=body, now_ms=_now())
    status, answer = await post(h, body[:-1] + bytes([body[-1] ^ 1]))
    assert (status, answer["code"]) == (401, "BAD_SIGNATURE")
    # Created 6 minutes ago (skew window ±5 min).
    old, _ = httpsig.sign_request(ring, method="POST", path_qs=ENVELOPES, destination=HEKOU,
                                  body=body, now_ms=_now() - 360_000)
    status, answer = await post(old)
    assert (status, answer["code"]) == (400, "EXPIRED")
    # Only the Ed25519 signature: a downgrade.
    strip = {**h, "Signature-Input": h["Signature-Input"].split(", pq=")[0],
             "Signature": h["Signature"].split(", pq=")[0]}
    status, answer = await post(strip)
    assert (status, answer["code"]) == (400, "DOWNGRADE")
    # Accepted once, its answer signed; the same request again is a replay.
    req = peerrequest.sign(ring, directory, method="POST", path_qs=ENVELOPES,
                           destination=HEKOU, body=body, now_ms=_now())
    assert req.version == 2
    async with session.post(url, data=body, headers=req.headers) as r:
        raw = await r.read()
        assert r.status == 200, raw
        assert peerrequest.answer_verified(req, status=r.status, headers=r.headers, body=raw,
                                           directory=directory, now_ms=_now(),
                                           max_skew_ms=300_000)
        assert not peerrequest.answer_verified(req, status=429, headers=r.headers, body=raw,
                                               directory=directory, now_ms=_now(),
                                               max_skew_ms=300_000)
    status, answer = await post(req.headers)
    assert (status, answer["code"]) == (409, "REPLAY")


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` (a forging or hostile peer) on a free loopback port; the caller cleans
    the runner up."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def test_unsigned_answers_of_a_suite2_peer_are_ignored(pq_pair: Pair) -> None:
    """A man in the middle answering for Hekou: its ping time and a long Retry-After are
    not believed (wire-format §11 Sender behaviour)."""
    hits: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        hits.append("ping")
        return web.json_response({"office": HEKOU, "time_ms": 0, "directory_serial": 99})

    async def envelopes(request: web.Request) -> web.Response:
        hits.append("post")
        return web.json_response({"code": "RATE_LIMITED", "message": "slow down"},
                                 status=429, headers={"Retry-After": "86400"})

    async def witness(request: web.Request) -> web.Response:
        hits.append("witness")
        return web.Response(status=409, text="999999\n")  # "I hold more": an alert if believed

    app = web.Application()
    app.router.add_get("/peer/v1/ping", ping)
    app.router.add_post(ENVELOPES, envelopes)
    app.router.add_post("/peer/v1/witness/add-checkpoint", witness)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"},
                          retry_cap_ms=600_000)  # a believed Retry-After would be 10 min
        gw = await pq_pair.start(LAOCAI)
        await gw.ping(HEKOU)
        info = gw.peer_info[HEKOU]
        assert "not signed" in str(info["ping_error"]) and "clock_skew_ms" not in info
        async with aiohttp.ClientSession() as s:
            o = pq_pair.officer(s, LAOCAI)
            t0 = _now()
            await o.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def refused() -> bool:
                return "post" in hits and gw.deliveries[HEKOU].next_attempt_ms > 0
            await wait_for(refused, 10, "the 429")
        # Backoff by our own rules (from 0.1 s), not the unsigned day (nor the 10-min cap).
        assert gw.deliveries[HEKOU].next_attempt_ms < t0 + 60_000
        # An unsigned witness refusal: neither its size nor an alert.
        await checkpoint_and_witness(gw)
        assert "witness" in hits
        alerts = await gw.store.call(gw.store.sync.alerts)
        assert not [a for a in alerts if a["kind"] in ("peer_saw_more", "not_cosigned")], alerts
    finally:
        await runner.cleanup()


async def test_unsigned_per_envelope_refusals_of_a_suite2_peer_do_not_dead_letter(
        pq_pair: Pair) -> None:
    """A man in the middle answering a version-2 batch with 200 and a per-envelope
    ``BAD_SIGNATURE``, then with 413 (both unsigned): the message must not become a dead
    letter (a permanent loss), it stays queued (wire-format §11 Sender behaviour, §15)."""
    hits: list[str] = []
    answers = [web.json_response({"results": [{"code": "BAD_SIGNATURE", "message": "forged"}]}),
               web.json_response({"code": "TOO_LARGE", "message": "forged"}, status=413)]

    async def envelopes(request: web.Request) -> web.Response:
        hits.append("post")
        return answers.pop(0) if answers else web.json_response({}, status=503)

    app = web.Application()
    app.router.add_post(ENVELOPES, envelopes)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
        await pq_pair.start(LAOCAI)
        async with aiohttp.ClientSession() as s:
            o = pq_pair.officer(s, LAOCAI)
            mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def answered() -> bool:
                d = (await o.status(mid))["deliveries"][0]
                return len(hits) >= 2 and (d["state"] != "queued" or d["attempts"] > 1)
            await wait_for(answered, 10, "the forged refusals")
            d = (await o.status(mid))["deliveries"][0]
        assert d["state"] == "queued", d
    finally:
        await runner.cleanup()


async def test_unsigned_witness_success_of_a_suite2_peer_is_ignored(pq_pair: Pair) -> None:
    """A man in the middle answering a version-2 witness request with 200 and cosignature
    lines it made up: no alert and no cosignature from an answer the witness did not sign
    (wire-format §11 Sender behaviour, §15); its ML-DSA-65 response signature is what keeps
    a forged Ed25519-only cosignature out."""
    hits: list[str] = []

    async def witness(request: web.Request) -> web.Response:
        hits.append("witness")
        forged = base64.b64encode(b"\x00" * 76).decode()
        return web.Response(text=f"\u2014 {HEKOU}/witness {forged}\n")

    app = web.Application()
    app.router.add_post("/peer/v1/witness/add-checkpoint", witness)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
        gw = await pq_pair.start(LAOCAI)
        await checkpoint_and_witness(gw)
        assert "witness" in hits
        alerts = await gw.store.call(gw.store.sync.alerts)
        assert not [a for a in alerts if a["kind"] == "bad_cosignature"], alerts
        assert await gw.store.call(gw.store.sync.witnessed_size, HEKOU) == 0
    finally:
        await runner.cleanup()


async def test_unsigned_redelivery_answer_of_a_suite2_peer_is_ignored(pq_pair: Pair) -> None:
    """After a restore, a man in the middle answering the version-2 re-delivery request
    (``{"requeued": 0}``, or a 404) for Hekou: unsigned, so the gateway neither takes it as
    done (it would never ask again, and what Hekou sent since the backup stays lost) nor
    logs or alerts on it; it asks again later."""
    answers = [web.json_response({"requeued": 0}),
               web.json_response({"code": "NOT_FOUND", "message": "no"}, status=404)]

    async def redeliver(request: web.Request) -> web.Response:
        return answers.pop(0)

    app = web.Application()
    app.router.add_post(redelivery.PATH, redeliver)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: url})
        gw = await pq_pair.start(LAOCAI)
        assert not await redelivery._ask(gw, HEKOU, url, _now() - 60_000)  # the 200
        assert not await redelivery._ask(gw, HEKOU, url, _now() - 60_000)  # the 404
        assert not answers
        alerts = await gw.store.call(gw.store.sync.alerts)
        assert not [a for a in alerts if a["kind"] == "redelivery_unsupported"], alerts
    finally:
        await runner.cleanup()


async def test_hostile_ping_answers_do_not_stop_the_pinger(pq_pair: Pair) -> None:
    """A man in the middle answering pings with JSON that is not an object, or nested too
    deep for the parser: each is a failed ping, never an exception that would end the
    pinger task (and with it directory refresh and the store's sweeps)."""
    bodies = [(500, b"[]"), (200, b"[]"), (200, b"[" * 100_000), (429, b"[" * 50_000)]

    async def ping(request: web.Request) -> web.Response:
        status, body = bodies.pop(0)
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/peer/v1/ping", ping)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
        gw = await pq_pair.start(LAOCAI)
        while bodies:
            await gw.ping(HEKOU)
            assert gw.peer_info[HEKOU]["reachable"] is False
            assert gw.peer_info[HEKOU]["ping_error"]
    finally:
        await runner.cleanup()


async def test_unsigned_directory_answer_of_a_suite2_peer_raises_no_alert(pq_pair: Pair) -> None:
    """A man in the middle answering the version-2 directory fetch with bytes that are not
    a directory: not an alert against the peer (it did not sign that answer); the fetch
    failed and is tried again on the next offer."""
    async def directory(request: web.Request) -> web.Response:
        return web.Response(body=b"not a directory", content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/peer/v1/directory", directory)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
        gw = await pq_pair.start(LAOCAI)
        await gw.trust._fetch_from(HEKOU, gw.directory.serial + 1)
        alerts = await gw.store.call(gw.store.sync.alerts)
        assert not [a for a in alerts if a["kind"] == "directory_refused"], alerts
        # The real peer's answer is signed, and taken.
        hk = await pq_pair.start(HEKOU)
        assert await hk.trust._get(LAOCAI, "/peer/v1/directory") == gw.directory.signed_bytes
    finally:
        await runner.cleanup()


async def test_deeply_nested_batch_answer_is_a_transient_failure(pq_pair: Pair) -> None:
    """A man in the middle answering a batch with JSON nested too deep for the parser: a
    transient failure with backoff (not an exception out of the worker's step, after which
    it sent the batch again every second)."""
    hits: list[str] = []

    async def envelopes(request: web.Request) -> web.Response:
        hits.append("post")  # a 200, then a refusal
        return web.Response(status=200 if len(hits) == 1 else 400, body=b"[" * 100_000,
                            content_type="application/json")

    app = web.Application()
    app.router.add_post(ENVELOPES, envelopes)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
        gw = await pq_pair.start(LAOCAI)
        async with aiohttp.ClientSession() as s:
            o = pq_pair.officer(s, LAOCAI)
            mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def backed_off() -> bool:
                d = (await o.status(mid))["deliveries"][0]
                return len(hits) >= 2 and d["attempts"] >= 2
            await wait_for(backed_off, 5, "backoff after the deep answers")
            d = (await o.status(mid))["deliveries"][0]
        assert gw.deliveries[HEKOU].failures > 0
        assert d["state"] == "queued" and d["error_code"] == "MALFORMED", d
    finally:
        await runner.cleanup()


async def test_deeply_nested_redelivery_answer_is_not_done(tmp_path: Path) -> None:
    """Version 1 (unsigned answers): a re-delivery answer nested too deep for the JSON
    parser is a refused one, asked again later; not an exception that ends the task."""
    async def redeliver(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000, content_type="application/json")

    app = web.Application()
    app.router.add_post(redelivery.PATH, redeliver)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pair = Pair(tmp_path, "sqlite")
    try:
        pair.configure(LAOCAI, peer_urls={HEKOU: url})
        gw = await pair.start(LAOCAI)
        assert not await redelivery._ask(gw, HEKOU, url, _now() - 60_000)
    finally:
        await pair.close()
        await runner.cleanup()


async def test_cosignature_dated_before_its_checkpoint_is_refused(pq_pair: Pair) -> None:
    """Whether a suite-2 witness's cosignature needs its ML-DSA-65 line depends on the date
    it states; one dated before the checkpoint it cosigns existed (here by an hour) is
    refused with an alert, whichever way it arrives (witness answer or courier bundle), so
    that a forger of the witness's Ed25519 key cannot date one before the switch."""
    gw = await pq_pair.start(LAOCAI)
    cid, body_note, size = await current_checkpoint(gw)
    body, _ = split_note(body_note)
    ring = pq_pair.net.keyrings[HEKOU]
    backdated = cosign(ring, body, _now() - 3_600_000)
    assert not await accept_cosignature(gw, HEKOU, cid, size, body_note, backdated)
    alerts = await gw.store.call(gw.store.sync.alerts)
    assert [a for a in alerts if a["kind"] == "bad_cosignature"], alerts
    assert await accept_cosignature(gw, HEKOU, cid, size, body_note, cosign(ring, body, _now()))


async def test_endless_batch_answer_is_cut_at_the_limit(pq_pair: Pair) -> None:
    """A man in the middle streaming an endless answer to a batch: the sender stops reading
    at ``MAX_ANSWER_BYTES`` (a transient MALFORMED), not at the request timeout with all of
    it in memory."""
    sent: list[int] = []  # bytes written, per request

    async def envelopes(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        chunk = b" " * 65536
        sent.append(0)
        with contextlib.suppress(ConnectionError):
            for _ in range(8 * MAX_ANSWER_BYTES // len(chunk)):
                await resp.write(chunk)
                sent[-1] += len(chunk)
        return resp

    app = web.Application()
    app.router.add_post(ENVELOPES, envelopes)
    runner, port = await _serve(app)
    try:
        pq_pair.configure(LAOCAI, peer_urls={HEKOU: f"http://127.0.0.1:{port}"},
                          request_timeout_s=60.0)
        await pq_pair.start(LAOCAI)
        async with aiohttp.ClientSession() as s:
            o = pq_pair.officer(s, LAOCAI)
            mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def refused() -> bool:
                return bool((await o.status(mid))["deliveries"][0]["error_code"])
            await wait_for(refused, 10, "the endless answer cut")
            d = (await o.status(mid))["deliveries"][0]
        assert d["state"] == "queued" and d["error_code"] == "MALFORMED", d
        assert sent[0] < 4 * MAX_ANSWER_BYTES  # the sender hung up (kernel buffers aside)
    finally:
        await runner.cleanup()
