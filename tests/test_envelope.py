"""Seal / verify / open: round trips for every payload type, and every way to break one."""

from __future__ import annotations

import struct

import pytest
from harness import error_code
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cli.provision import Network
from gateway.protocol import envelope
from gateway.protocol.identity import (
    Directory,
    Keyring,
    PrivateKey,
    build_directory,
    sign_directory,
)
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

PAYLOADS = {m.payload.message_type: m.payload for m in case_payloads()}
DAY = 24 * 3600 * 1000


_code = error_code


def _seal(net: Network, d: Directory, payload: Payload, now: int, sender=LAOCAI,
          to=(HEKOU,), **kw) -> bytes:
    return envelope.seal(payload, sender=net.keyrings[sender], recipients=list(to), directory=d,
                         now_ms=now, **kw)


@settings(max_examples=60, deadline=None)
@given(mtype=st.sampled_from(list(MessageType)),
       case_ref=st.text(max_size=40),
       priority=st.integers(1, 3), handling=st.integers(1, 4),
       deadline=st.integers(0, 2**40),
       recipients=st.sampled_from([(HEKOU,), (HEKOU, LAOCAI_BORDER_GUARD)]))
def test_round_trip_every_payload_type(net, directory, now_ms, mtype, case_ref, priority,
                                       handling, deadline, recipients):
    body = type(PAYLOADS[mtype].body)()
    body.CopyFrom(PAYLOADS[mtype].body)
    body.context.case_reference = case_ref
    body.context.priority = priority
    body.context.handling_code = handling
    body.context.deadline.unix_millis = deadline
    payload = Payload(body)
    data = _seal(net, directory, payload, now_ms, to=recipients)
    env = envelope.verify(data, directory, now_ms=now_ms)
    assert env.header.message_type == mtype
    assert env.header.sender == LAOCAI
    assert env.header.recipient_offices == recipients
    assert env.header.case_reference == case_ref
    assert env.header.deadline_ms == deadline
    for office in recipients:
        assert envelope.open_envelope(env, net.keyrings[office]) == payload


def _regions(data: bytes) -> list[tuple[range, set[str]]]:
    """Byte ranges of the framing and the error codes a flipped bit there may give."""
    kid_len = data[6]
    pos = 7 + kid_len
    (hlen,) = struct.unpack_from(">I", data, pos)
    ct_at = pos + 4 + hlen
    length = {"MALFORMED", "TOO_LARGE"}
    return [
        (range(0, 4), {"MALFORMED"}),
        (range(4, 6), {"UNSUPPORTED_VERSION"}),
        (range(6, 7), {"MALFORMED", "UNKNOWN_KEY", "TOO_LARGE"}),  # shifts the framing
        (range(7, pos), {"UNKNOWN_KEY", "MALFORMED"}),
        (range(pos, pos + 4), length),
        (range(pos + 4, ct_at), {"BAD_SIGNATURE"}),
        (range(ct_at, ct_at + 4), length),
        (range(ct_at + 4, len(data)), {"BAD_SIGNATURE"}),
    ]


def test_flipping_any_bit_fails_with_the_right_code(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT], now_ms)
    regions = _regions(data)
    assert regions[-1][0].stop == len(data)
    seen: dict[str, int] = {}
    for region, codes in regions:
        for i in region:
            for bit in range(8):
                bad = bytearray(data)
                bad[i] ^= 1 << bit
                code = _code(lambda b=bytes(bad): envelope.verify(b, directory, now_ms=now_ms))
                assert code in codes, f"byte {i} bit {bit}: {code}, want one of {codes}"
                seen[code] = seen.get(code, 0) + 1
    assert seen["BAD_SIGNATURE"] > 8 * 300


@pytest.mark.parametrize("cut", [0, 3, 7, 20, 100, -65, -1])
def test_truncated_envelope_is_malformed(net, directory, now_ms, cut):
    data = _seal(net, directory, PAYLOADS[MessageType.STATUS_UPDATE], now_ms)
    assert _code(lambda: envelope.verify(data[:cut], directory, now_ms=now_ms)) == "MALFORMED"


def test_trailing_bytes_are_malformed(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.STATUS_UPDATE], now_ms)
    assert _code(lambda: envelope.verify(data + b"\0", directory, now_ms=now_ms)) == "MALFORMED"


def test_oversized_envelope_is_refused_before_anything_else(directory, now_ms):
    huge = b"XXXX" + bytes(envelope.MAX_ENVELOPE_BYTES)
    assert _code(lambda: envelope.verify(huge, directory, now_ms=now_ms)) == "TOO_LARGE"


def test_oversized_payload_cannot_be_sealed(net, directory, now_ms):
    big = pb.CaseNotice(offence=pb.LocalizedText(vi="x" * (envelope.MAX_ENVELOPE_BYTES + 1)))
    assert _code(lambda: _seal(net, directory, Payload(big), now_ms)) == "TOO_LARGE"


def test_only_a_recipient_can_open(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.HOTLINE_REPORT], now_ms)
    env = envelope.verify(data, directory, now_ms=now_ms)
    bg = net.keyrings[LAOCAI_BORDER_GUARD]
    assert _code(lambda: envelope.open_envelope(env, bg)) == "NOT_A_RECIPIENT"
    # A keyring that claims to be Hekou but holds other keys cannot open it either.
    impostor = Keyring(HEKOU, bg.keys)
    assert _code(lambda: envelope.open_envelope(env, impostor)) == "NOT_A_RECIPIENT"


def test_sender_cannot_be_forged(net, directory, now_ms):
    """An office signing with its own key but naming another sender is caught."""
    body = bytearray(_seal(net, directory, PAYLOADS[MessageType.CASE_NOTICE], now_ms,
                           sender=LAOCAI_BORDER_GUARD))
    # Re-sign a header that claims Lào Cai BLO, with the Border Guard's key.
    env = envelope.verify(bytes(body), directory, now_ms=now_ms)
    from gateway.schemas.blo.v1 import envelope_pb2

    h = envelope_pb2.EnvelopeHeader.FromString(env.header_bytes)
    h.sender = LAOCAI
    forged_header = h.SerializeToString()
    kid = env.signer_key_id.encode()
    framed = (b"BLOE\x01\x01" + bytes([len(kid)]) + kid + struct.pack(">I", len(forged_header))
              + forged_header + struct.pack(">I", len(env.ciphertext)) + env.ciphertext)
    sk = net.keyrings[LAOCAI_BORDER_GUARD].signing_key(now_ms)
    import nacl.signing

    sig = nacl.signing.SigningKey(sk.secret).sign(envelope.SIGN_DOMAIN + framed).signature
    code = _code(lambda: envelope.verify(framed + sig, directory, now_ms=now_ms))
    assert code == "BAD_SIGNATURE"


def test_expired_and_future_messages(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT], now_ms, ttl_ms=1000)
    assert _code(lambda: envelope.verify(data, directory, now_ms=now_ms + 1000)) == "EXPIRED"
    future = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT],
                   now_ms + 10 * 60 * 1000)
    # beyond the skew: not yet (the sender retries until the receiver's clock catches up)
    assert _code(lambda: envelope.verify(future, directory, now_ms=now_ms)) == "NOT_YET_VALID"
    assert _code(lambda: envelope.verify(future, directory, now_ms=now_ms + 6 * 60 * 1000)) \
        == "OK"


def _directory_with(net: Network, now_ms: int, revoke: list[tuple[str, int, str]],
                    serial: int = 2) -> Directory:
    d = net.directory()
    entries = [net.keyrings[o].public_office(country=i.country, name_vi=i.name_vi,
                                             name_zh=i.name_zh, role=i.role, endpoint="")
               for o, i in d.offices.items()]
    unsigned = build_directory(entries, serial=serial, issued_at_ms=now_ms - 1000,
                               expires_at_ms=now_ms + 10**9, revocations=revoke)
    signed = sign_directory(sign_directory(unsigned, net.root_signers[0]), net.root_signers[1])
    return Directory.verify(signed, net.roots, now_ms=now_ms)


def test_revoked_and_unknown_and_expired_signer_keys(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT], now_ms)
    kid = net.keyrings[LAOCAI].signing_key(now_ms).key_id
    revoked = _directory_with(net, now_ms, [(kid, now_ms, "device lost")])
    assert _code(lambda: envelope.verify(data, revoked, now_ms=now_ms)) == "KEY_REVOKED"
    later = now_ms + 400 * DAY  # after the key's validity: the message has expired too
    assert _code(lambda: envelope.verify(data, directory, now_ms=later)) == "EXPIRED"
    # (A message signed after the end of its key's period: KEY_EXPIRED, see below.)
    other = Network.__new__(Network)  # a directory that does not know Lào Cai's key
    from gateway.cli.provision import provision

    other = provision(now_ms)
    assert _code(lambda: envelope.verify(data, other.directory(), now_ms=now_ms)) == "UNKNOWN_KEY"


def test_wrong_key_cannot_decrypt(net, directory, now_ms):
    """The right office id with the wrong private key fails authentication, not silently."""
    data = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT], now_ms)
    env = envelope.verify(data, directory, now_ms=now_ms)
    real = net.keyrings[HEKOU]
    from gateway.protocol.identity import PrivateKey

    enc = next(k for k in real.keys if k.algorithm == "x25519")
    swapped = Keyring(HEKOU, (PrivateKey("x25519", bytes(32 - 1) + b"\x09", enc.not_before_ms,
                                         enc.not_after_ms),))
    # Same key id is required to even try; fake the lookup with a keyring whose id matches.
    object.__setattr__(swapped, "encryption_key", lambda kid: swapped.keys[0])
    assert _code(lambda: envelope.open_envelope(env, swapped)) == "DECRYPTION_FAILED"


def _directory_of(net: Network, now_ms: int, rings: dict[str, Keyring],
                  revoke: list[tuple[str, int, str]] | None = None) -> Directory:
    d = net.directory()
    entries = [rings.get(o, net.keyrings[o]).public_office(
        country=i.country, name_vi=i.name_vi, name_zh=i.name_zh, role=i.role, endpoint="")
        for o, i in d.offices.items()]
    unsigned = build_directory(entries, serial=2, issued_at_ms=now_ms - DAY,
                               expires_at_ms=now_ms + 400 * DAY, revocations=revoke or [])
    signed = sign_directory(sign_directory(unsigned, net.root_signers[0]), net.root_signers[1])
    return Directory.verify(signed, net.roots, now_ms=now_ms)


def test_key_expired_after_signing_still_verifies(net, now_ms):
    """Validity is judged at the signed creation time: a message signed on the last day of
    its key's period is accepted while it lives, and stays verifiable when stored."""
    short = Keyring.generate(LAOCAI, now_ms=now_ms - DAY, valid_ms=2 * DAY)
    d = _directory_of(net, now_ms, {LAOCAI: short})
    payload = PAYLOADS[MessageType.ACKNOWLEDGEMENT]
    data = envelope.seal(payload, sender=short, recipients=[HEKOU], directory=d,
                         now_ms=now_ms, ttl_ms=30 * DAY)
    after_key = now_ms + 5 * DAY  # the key expired 4 days ago; the message lives 25 more
    env = envelope.verify(data, d, now_ms=after_key)
    assert envelope.open_envelope(env, net.keyrings[HEKOU]) == payload
    # Stored at reception, re-opened long after both the key and the message expired.
    stored = envelope.verify_stored(data, d, received_at_ms=after_key)
    assert envelope.open_envelope(stored, net.keyrings[HEKOU]) == payload
    assert _code(lambda: envelope.verify(data, d, now_ms=now_ms + 31 * DAY)) == "EXPIRED"
    # Created after the key's end: refused, at reception and when stored.
    stretched = Keyring(LAOCAI, tuple(PrivateKey(k.algorithm, k.secret, k.not_before_ms,
                                                 k.not_after_ms + 10 * DAY) for k in short.keys))
    late = envelope.seal(payload, sender=stretched, recipients=[HEKOU], directory=d,
                         now_ms=now_ms + 2 * DAY)
    assert _code(lambda: envelope.verify(late, d, now_ms=now_ms + 2 * DAY)) == "KEY_EXPIRED"
    assert _code(lambda: envelope.verify_stored(late, d, received_at_ms=now_ms + 2 * DAY)) \
        == "KEY_EXPIRED"
    # Created in the receiver's future beyond the skew window.
    ahead = envelope.seal(payload, sender=short, recipients=[HEKOU], directory=d,
                          now_ms=now_ms + 10 * 60 * 1000)
    assert _code(lambda: envelope.verify(ahead, d, now_ms=now_ms)) == "NOT_YET_VALID"


def test_revocation_refuses_at_reception_but_not_what_was_stored_before(net, now_ms):
    payload = PAYLOADS[MessageType.ACKNOWLEDGEMENT]
    kid = net.keyrings[LAOCAI].signing_key(now_ms).key_id
    revoked_at = now_ms + 3600_000
    d = _directory_of(net, now_ms, {}, revoke=[(kid, revoked_at, "device lost")])
    # Claimed creation an hour before the revocation: a stolen key can backdate, so a
    # revoked key is refused at reception whatever the envelope says.
    data = envelope.seal(payload, sender=net.keyrings[LAOCAI], recipients=[HEKOU],
                         directory=d, now_ms=now_ms)
    assert _code(lambda: envelope.verify(data, d, now_ms=now_ms)) == "KEY_REVOKED"
    assert _code(lambda: envelope.verify(data, d, now_ms=revoked_at + 1)) == "KEY_REVOKED"
    # Stored (by the receiver's own clock) before the revocation: still verifiable.
    env = envelope.verify_stored(data, d, received_at_ms=now_ms + 60_000)
    assert envelope.open_envelope(env, net.keyrings[HEKOU]) == payload
    assert _code(lambda: envelope.verify_stored(data, d, received_at_ms=revoked_at)) \
        == "KEY_REVOKED"


def test_lifetime_is_bounded(net, directory, now_ms, monkeypatch):
    payload = PAYLOADS[MessageType.ACKNOWLEDGEMENT]
    assert _code(lambda: _seal(net, directory, payload, now_ms, ttl_ms=91 * DAY)) == "MALFORMED"
    monkeypatch.setattr(envelope, "MAX_LIFETIME_MS", 10**15)
    long_lived = _seal(net, directory, payload, now_ms, ttl_ms=200 * DAY)
    monkeypatch.undo()
    assert _code(lambda: envelope.verify(long_lived, directory, now_ms=now_ms)) == "EXPIRED"


def test_ciphertext_shorter_than_its_tag_is_malformed(net, directory, now_ms):
    data = _seal(net, directory, PAYLOADS[MessageType.ACKNOWLEDGEMENT], now_ms)
    kid_len = data[6]
    pos = 7 + kid_len
    (hlen,) = struct.unpack_from(">I", data, pos)
    pos += 4 + hlen
    short = data[:pos] + struct.pack(">I", 15) + bytes(15) + data[-64:]
    assert _code(lambda: envelope.verify(short, directory, now_ms=now_ms)) == "MALFORMED"
