"""Suite 2 (docs/wire-format.md §14): post-quantum hybrid envelopes and receipts between real
gateways, the required-suite rule (DOWNGRADE), and what stays readable across the upgrade.
Gateway tests run on SQLite and, where GATEWAY_TEST_PG_DSN is set, on PostgreSQL."""

from __future__ import annotations

import base64
import time

import aiohttp
import pytest
from harness import BACKENDS, Officer, Pair, admin_headers, error_code, run_cli, wait_for

from gateway.cli.provision import DEFAULT_OFFICES, cosigned_directory, office_json, provision
from gateway.node.delivery import PERMANENT_CODES, frame_batch
from gateway.node.trust import install_offline
from gateway.protocol import envelope, peerrequest, receipt
from gateway.protocol.identity import Keyring, office_from_json
from gateway.protocol.messages import Payload
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

PATH = "/peer/v1/envelopes"
SIGS = 64 + 3309  # Ed25519 ‖ ML-DSA-65 at the end of a suite-2 envelope or receipt


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture(params=BACKENDS)
async def pq_pair(request, tmp_path):
    """Lào Cai and Hekou on suites 1 and 2; the Border Guard (not started) on suite 1."""
    p = Pair(tmp_path, request.param, post_quantum={LAOCAI, HEKOU})
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def _delivered(o: Officer, mid: str) -> bool:
    return all(d["state"] == "delivered" for d in (await o.status(mid))["deliveries"])


async def _post(session, pair: Pair, sender: str, to: str, blobs: list[bytes]) -> dict:
    body = frame_batch(blobs)
    h = peerrequest.sign(pair.net.keyrings[sender], pair.net.directory(), method="POST",
                         path_qs=PATH, destination=to, body=body, now_ms=_now()).headers
    async with session.post(pair.peer(to) + PATH, data=body, headers=h) as r:
        assert r.status == 200
        return dict(await r.json())


async def test_every_type_on_suite_2_with_v2_receipts(pq_pair, session):
    pair = pq_pair
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    d = pair.net.directory()
    assert d.required_suite(LAOCAI, HEKOU) == 2
    sent = []
    for step in case_payloads():
        o = pair.officer(session, step.sender)
        payload = (step.replying_to(sent[step.answers][1]) if step.answers is not None
                   else step.payload)
        mid = await o.send(list(step.recipients), payload.to_dict())
        sent.append((step, mid, payload))
        await o.wait_delivered(mid)
    for step, mid, payload in sent:
        st = await pair.officer(session, step.sender).status(mid)
        rec = st["deliveries"][0]["receipt"]
        assert rec["verified"] is True and rec["suite"] == 2
        raw = base64.b64decode(rec["raw"])
        assert raw[4:6] == b"\x02\x02"
        # The sender's check, independently: a v2 receipt with both signatures.
        r = receipt.verify_receipt(raw, d, receiver=step.recipients[0],
                                   message_id=bytes.fromhex(mid),
                                   envelope_sha256=bytes.fromhex(st["envelope_sha256"]),
                                   now_ms=_now(), suite=2)
        assert r.pq_signer_key_id.startswith("mldsa65:")
        # A suite-1 receipt by the same office would not do for a suite-2 envelope, and a
        # suite-2 receipt is not one for a suite-1 envelope.
        check = {"receiver": step.recipients[0], "message_id": bytes.fromhex(mid),
                 "envelope_sha256": bytes.fromhex(st["envelope_sha256"]), "now_ms": _now()}
        v1 = receipt.make_receipt(pair.net.keyrings[step.recipients[0]],
                                  message_id=bytes.fromhex(mid), sender=step.sender,
                                  envelope_sha256=check["envelope_sha256"],
                                  received_at_ms=r.received_at_ms)
        assert receipt.verify_receipt(v1, d, **check).suite == 1
        assert error_code(lambda v1=v1, c=check: receipt.verify_receipt(
            v1, d, suite=2, **c)) == "DOWNGRADE"
        assert error_code(lambda r=raw, c=check: receipt.verify_receipt(r, d, suite=1, **c)) \
            == "MALFORMED"
        # Either signature half of the receipt tampered with.
        for at in (len(raw) - SIGS, len(raw) - 1):
            bad = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]
            assert error_code(lambda b=bad, c=check: receipt.verify_receipt(
                b, d, suite=2, **c)) == "BAD_SIGNATURE"
        shown = await pair.officer(session, step.recipients[0]).call(
            "GET", f"/api/v1/inbox/{mid}?lang=both", expect=200)
        assert Payload.from_dict(shown["payload"]) == payload


async def test_suite_1_between_suite_2_offices_is_refused_as_downgrade(pq_pair, session):
    pair = pq_pair
    await pair.start(HEKOU)
    d = pair.net.directory()
    p = case_payloads()[0].payload
    ring = pair.net.keyrings[LAOCAI]
    old = envelope.seal(p, sender=ring, recipients=[HEKOU], directory=d, now_ms=_now(), suite=1)
    new = envelope.seal(p, sender=ring, recipients=[HEKOU], directory=d, now_ms=_now())
    # A suite-2 envelope with its ML-DSA-65 key id and signature stripped and reframed as
    # suite 1 no longer verifies at all: its Ed25519 signature is over the v2 domain and the
    # v2 framing.
    kid_end = 7 + new[6]
    stripped = new[:4] + b"\x01\x01" + new[6:kid_end] + new[kid_end + 1 + new[kid_end]:-3309]
    # Also sent to the Border Guard, which accepts suite 1 only: suite 1 is right then.
    mixed = envelope.seal(p, sender=ring, recipients=[HEKOU, LAOCAI_BORDER_GUARD], directory=d,
                          now_ms=_now())
    assert envelope.suite_of(mixed) == 1 and envelope.suite_of(new) == 2
    res = (await _post(session, pair, LAOCAI, HEKOU, [old, stripped, mixed, new]))["results"]
    assert res[0]["code"] == "DOWNGRADE"
    assert res[1]["code"] == "BAD_SIGNATURE"
    assert res[2]["status"] == "accepted" and res[3]["status"] == "accepted"
    assert "DOWNGRADE" in PERMANENT_CODES  # the sender dead-letters it, never retries
    # The receipts: suite 1 for the suite-1 envelope, suite 2 for the suite-2 one.
    assert base64.b64decode(res[2]["receipt"])[4:6] == b"\x01\x01"
    assert base64.b64decode(res[3]["receipt"])[4:6] == b"\x02\x02"
    inbox = await pair.officer(session, HEKOU).inbox()
    assert len(inbox) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_mixed_directory_talks_suite_1(tmp_path, session, backend):
    pair = Pair(tmp_path, backend, post_quantum={HEKOU})
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        d = pair.net.directory()
        assert d.office(HEKOU).suites == (1, 2) and d.office(LAOCAI).suites == (1,)
        steps = case_payloads()
        lc, hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
        first = await lc.send([HEKOU], steps[0].payload.to_dict())
        await lc.wait_delivered(first)
        answer = next(s for s in steps if s.sender == HEKOU and s.answers is None)
        second = await hk.send(list(answer.recipients), answer.payload.to_dict())
        await hk.wait_delivered(second)
        for o, mid in ((lc, first), (hk, second)):
            rec = (await o.status(mid))["deliveries"][0]["receipt"]
            assert rec["suite"] == 1
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_suite_1_stored_before_the_upgrade_still_opens(tmp_path, session, backend,
                                                             capfd):
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        p = case_payloads()[0].payload
        lc = pair.officer(session, LAOCAI)
        before = await lc.send([HEKOU], p.to_dict())
        await lc.wait_delivered(before)
        await pair.stop(LAOCAI)
        await pair.stop(HEKOU)
        # The upgrade: both offices rotate to suite-2 keys with the command an operator runs,
        # and a directory listing them with suites [1, 2] is installed.
        rings = dict(pair.net.keyrings)
        for office in (LAOCAI, HEKOU):
            cfg = pair.config(office)
            public = tmp_path / f"{office}.office.json"
            public.write_text(office_json(pair.net, office), encoding="utf-8")
            out = run_cli(capfd, "keys", "rotate", "--keyring", str(cfg.path(cfg.keyring)),
                          "--public", str(public), "--post-quantum")
            assert out.returncode == 0 and "suites 1, 2" in out.stdout, out
            assert office_from_json(public.read_text(encoding="utf-8")).suites == [1, 2]
            rings[office] = Keyring.load(cfg.path(cfg.keyring))
            assert rings[office].post_quantum
        now = _now()
        signed = cosigned_directory(rings, pair.net.root_signers, DEFAULT_OFFICES,
                                    pair.endpoints(), serial=2, now_ms=now)
        for office in (LAOCAI, HEKOU):
            install_offline(pair.config(office), signed, now_ms=now)
        lc_gw = await pair.start(LAOCAI)
        await pair.start(HEKOU)
        assert lc_gw.directory.serial == 2 and lc_gw.directory.required_suite(LAOCAI, HEKOU) == 2
        # What was stored on suite 1 still verifies and opens, on both sides.
        hk = pair.officer(session, HEKOU)
        shown = await hk.call("GET", f"/api/v1/inbox/{before}?lang=vi", expect=200)
        assert Payload.from_dict(shown["payload"]) == p
        rec = (await lc.status(before))["deliveries"][0]["receipt"]
        assert rec["verified"] is True and rec["suite"] == 1
        # New traffic goes on suite 2.
        after = await lc.send([HEKOU], p.to_dict())
        await lc.wait_delivered(after)
        assert (await lc.status(after))["deliveries"][0]["receipt"]["suite"] == 2
        await wait_for(lambda: _in_inbox(hk, after), what="the suite-2 message in the inbox")
    finally:
        await pair.close()


async def test_suite_2_by_courier_with_v2_receipts_back(pq_pair, session):
    """The link cut: a suite-2 envelope goes by courier bundle and its v2 receipt comes back in
    the return bundle (the receiving side's checks are the peer API's, DOWNGRADE included)."""
    pair = pq_pair
    admin = {o: admin_headers(pair.homes[o]) for o in (LAOCAI, HEKOU)}

    async def export(office: str, to: str) -> bytes:
        async with session.post(pair.api(office) + "/api/v1/courier/export", json={"to": to},
                                headers=admin[office]) as r:
            assert r.status == 200, await r.text()
            return await r.read()

    async def import_(office: str, bundle: bytes) -> dict:
        async with session.post(pair.api(office) + "/api/v1/courier/import", data=bundle,
                                headers=admin[office]) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())

    await pair.start(LAOCAI)
    lc = pair.officer(session, LAOCAI)
    mid = await lc.send([HEKOU], case_payloads()[0].payload.to_dict())
    bundle = await export(LAOCAI, HEKOU)
    await pair.stop(LAOCAI)
    await pair.start(HEKOU)
    got = await import_(HEKOU, bundle)
    assert got["envelopes"] == {"accepted": 1, "duplicate": 0, "refused": 0}, got
    back = await export(HEKOU, LAOCAI)
    await pair.stop(HEKOU)
    await pair.start(LAOCAI)
    got = await import_(LAOCAI, back)
    assert got["receipts"] == {"delivered": 1, "ignored": 0}, got
    rec = (await lc.status(mid))["deliveries"][0]
    assert rec["state"] == "delivered" and rec["receipt"]["suite"] == 2


async def _in_inbox(o: Officer, mid: str) -> bool:
    return any(m["message_id"] == mid for m in await o.inbox())


# Protocol level (no gateways): the framing rules of §14.

@pytest.fixture(scope="module")
def pq_net():
    return provision(_now(), post_quantum=True)


def _sealed(net, **kw) -> bytes:
    return envelope.seal(case_payloads()[0].payload, sender=net.keyrings[LAOCAI],
                         recipients=[HEKOU], directory=net.directory(), now_ms=_now(), **kw)


def test_tampering_with_either_signature_half_is_bad_signature(pq_net):
    d = pq_net.directory()
    data = _sealed(pq_net)
    assert data[4:6] == b"\x02\x02"
    ed_at, pq_at = len(data) - SIGS, len(data) - 3309
    for at in (ed_at, ed_at + 63, pq_at, pq_at + 1000, len(data) - 1):
        bad = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
        assert error_code(lambda b=bad: envelope.verify(b, d, now_ms=_now())) == "BAD_SIGNATURE"
    # Signed part changed (the ciphertext): both halves cover it.
    bad = data[:ed_at - 5] + bytes([data[ed_at - 5] ^ 1]) + data[ed_at - 4:]
    assert error_code(lambda: envelope.verify(bad, d, now_ms=_now())) == "BAD_SIGNATURE"
    # The post-quantum half missing: the framing no longer adds up.
    assert error_code(lambda: envelope.verify(data[:-3309], d, now_ms=_now())) == "MALFORMED"
    env = envelope.verify(data, d, now_ms=_now())
    assert env.suite == 2 and envelope.open_envelope(env, pq_net.keyrings[HEKOU]) \
        == case_payloads()[0].payload


def test_unknown_suite_or_version_is_unsupported(pq_net):
    d = pq_net.directory()
    data = _sealed(pq_net)
    for version, suite in ((2, 9), (2, 1), (1, 2), (3, 2), (9, 9)):
        bad = data[:4] + bytes([version, suite]) + data[6:]
        assert error_code(lambda b=bad: envelope.verify(b, d, now_ms=_now())) \
            == "UNSUPPORTED_VERSION", (version, suite)


def test_pq_key_of_another_office_is_bad_signature(pq_net):
    """Both signer keys must belong to the one sender office."""
    d = pq_net.directory()
    data = _sealed(pq_net)
    kid_len = data[6]
    pq_len = data[7 + kid_len]
    other = pq_net.keyrings[HEKOU].pq_signing_key(_now()).key_id.encode()
    assert len(other) == pq_len
    bad = data[:8 + kid_len] + other + data[8 + kid_len + pq_len:]
    assert error_code(lambda: envelope.verify(bad, d, now_ms=_now())) == "BAD_SIGNATURE"


def test_suite_2_needs_suite_2_keys(pq_net, net):
    """A suite-1 keyring cannot seal suite 2; a suite-2 recipient entry is refused in suite 1."""
    d = net.directory()  # the suite-1 network of conftest
    assert error_code(lambda: _sealed(net, suite=2)) in ("KEY_EXPIRED", "UNKNOWN_KEY")
    assert envelope.suite_of(envelope.seal(
        case_payloads()[0].payload, sender=net.keyrings[LAOCAI], recipients=[HEKOU],
        directory=d, now_ms=_now())) == 1


def test_the_sender_wants_a_receipt_in_its_envelopes_suite(pq_net):
    """``delivery.receipted``, as the link and the courier both use it."""
    from types import SimpleNamespace

    from gateway.node.delivery import receipted
    from gateway.store import OutboxItem

    d = pq_net.directory()
    gw = SimpleNamespace(directory=d)
    for suite in (1, 2):
        data = _sealed(pq_net, suite=suite)
        env = envelope.verify(data, d, now_ms=_now())
        item = OutboxItem(7, 8, HEKOU, env.header.message_id, env.sha256, data,
                          env.header.expires_at_ms, 0)
        for rsuite in (1, 2):
            rec = receipt.make_receipt(pq_net.keyrings[HEKOU], message_id=env.header.message_id,
                                       sender=LAOCAI, envelope_sha256=env.sha256,
                                       received_at_ms=_now(), suite=rsuite)
            want = "OK" if rsuite == suite else "DOWNGRADE" if rsuite < suite else "MALFORMED"
            assert error_code(lambda r=rec, i=item: receipted(gw, HEKOU, i, r, _now())) == want


def test_keys_create_post_quantum(tmp_path, capfd):
    private, public = tmp_path / "secure" / "k.json", tmp_path / "k.office.json"
    out = run_cli(capfd, "keys", "create", "--office", "vn.laocai.test", "--country", "VN",
                  "--name-vi", "Thử", "--name-zh", "测试", "--role", "liaison_office",
                  "--private", str(private), "--public", str(public), "--post-quantum")
    assert out.returncode == 0 and "suites 1, 2" in out.stdout, out
    assert private.stat().st_mode & 0o777 == 0o600
    ring = Keyring.load(private)
    assert sorted(k.algorithm for k in ring.keys) == ["ed25519", "mldsa65", "mlkem768x25519",
                                                       "x25519"]
    entry = office_from_json(public.read_text(encoding="utf-8"))
    assert list(entry.suites) == [1, 2]
    assert {k.key_id for k in entry.keys} == {k.key_id for k in ring.keys}
    assert "mldsa65:" in out.stdout and "fingerprint" in out.stdout
