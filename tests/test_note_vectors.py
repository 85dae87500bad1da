"""Published signed-note and cosignature/v1 examples (tests/vectors/signed-note/), checked with
the project's note code so that the format cannot drift: the Go sumdb/note signing vector
byte for byte, the C2SP signed-note example, a real checkpoint cosigned by a public
witness, and our suite-2 (hybrid Ed25519 + ML-DSA-65) checkpoint vector."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import nacl.signing
import pytest

from gateway.audit.notes import (
    MLDSA65_COSIGNATURE,
    MLDSA65_NOTE,
    key_id,
    parse_checkpoint,
    sign_line,
    split_note,
    verify_cosignature_line,
    verify_cosignature_line_mldsa65,
    verify_line,
    verify_line_mldsa65,
)
from gateway.protocol.errors import BadSignature

HERE = Path(__file__).parent / "vectors" / "signed-note"


def _load(name: str) -> dict:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def _vkey(text: str) -> tuple[str, bytes, int, bytes]:
    """name, key ID, type byte, public key of a '<name>+<hex id>+<base64>' verifier key."""
    name, kid, material = text.split("+", 2)
    raw = base64.b64decode(material)
    return name, bytes.fromhex(kid), raw[0], raw[1:]


def _blob(line: str) -> tuple[str, bytes]:
    _, name, b64 = line.split(" ")
    return name, base64.b64decode(b64)


def test_go_sumdb_note_signing_is_byte_exact():
    v = _load("go-sumdb-note.json")
    _, _, name, kid, material = v["skey"].split("+", 4)
    seed = base64.b64decode(material)[1:]
    signer = nacl.signing.SigningKey(seed)
    assert key_id(name, 0x01, bytes(signer.verify_key)).hex() == kid
    assert v["text"] + "\n" + sign_line(name, signer, v["text"]) == v["signed"]
    body, sigs = split_note(v["signed"])
    assert body == v["text"]
    for vk, line in zip(v["vkeys"], v["lines"], strict=True):
        vname, vkid, alg, pk = _vkey(vk)
        assert alg == 0x01 and key_id(vname, 0x01, pk) == vkid
        lname, blob = _blob(line)
        assert lname == vname
        verify_line(v["text"], vname, pk, blob)
        with pytest.raises(BadSignature):
            verify_line(v["text"].replace("answer", "anwser"), vname, pk, blob)


def test_c2sp_signed_note_example_verifies():
    v = _load("c2sp-signed-note.json")
    name, kid, alg, pk = _vkey(v["vkey"])
    assert alg == 0x01 and key_id(name, 0x01, pk) == kid
    verify_line(v["text"], name, pk, _blob(v["line"])[1])


def test_real_public_cosignature_v1_verifies_over_the_checkpoint():
    v = _load("cosignature-v1.json")
    body, sigs = split_note(v["checkpoint"])
    cp = parse_checkpoint(body)
    assert (cp.origin, cp.size) == ("arche2025h1.staging.ct.transparency.dev", 1432088532)
    wname, wkid, alg, pk = _vkey(v["witness_vkey"])
    assert alg == 0x04 and key_id(wname, 0x04, pk) == wkid
    blob = dict(sigs)[wname]
    ts = verify_cosignature_line(body, wname, pk, blob)
    assert ts == struct.unpack(">Q", blob[4:12])[0]
    # Changing the size breaks it (the signed message is the whole body).
    with pytest.raises(BadSignature):
        verify_cosignature_line(body.replace("1432088532", "42"), wname, pk, blob)
    # The log's own Ed25519 signature (type 0x01) verifies as a note signature, and is not
    # taken for a cosignature; its RFC 6962 (type 0x05) line is not ours to verify.
    lname, lkid, lalg, lpk = _vkey(v["log_vkey"])
    assert lalg == 0x01
    ed = next(b for n, b in sigs if n == lname and b[:4] == lkid)
    verify_line(body, lname, lpk, ed)
    with pytest.raises(BadSignature):
        verify_cosignature_line(body, lname, lpk, ed)


def test_cosignature_timestamps_of_published_lines():
    v = _load("cosignature-v1.json")
    blob = base64.b64decode(v["timestamp_vector"]["base64"])
    assert struct.unpack(">Q", blob[4:12])[0] == v["timestamp_vector"]["time"]
    _, ex = _blob(v["c2sp_example_line"])
    ts = struct.unpack(">Q", ex[4:12])[0]
    assert v["c2sp_example_signed_message"].startswith(f"cosignature/v1\ntime {ts}\n")


def test_hybrid_checkpoint_vector_verifies_line_by_line():
    """Suite 2 (docs/audit-log.md): the log's Ed25519 and ML-DSA-65 lines and the witness's
    two cosignature lines, each found by its key ID (type 0xff ‖ identifier for ML-DSA-65)
    and verified with the public keys alone. Verify-only: ML-DSA-65 signing is hedged."""
    v = _load("blo-hybrid-checkpoint.json")
    assert MLDSA65_NOTE.hex() == v["mldsa65_note_type"]
    assert MLDSA65_COSIGNATURE.hex() == v["mldsa65_cosignature_type"]
    assert MLDSA65_NOTE[0] == MLDSA65_COSIGNATURE[0] == 0xFF
    body, sigs = split_note(v["note"])
    cp = parse_checkpoint(body)
    assert (cp.origin, cp.size) == (v["log_name"], 7)
    b64 = base64.b64decode
    log_ed, log_pq = b64(v["log_ed25519_public_key"]), b64(v["log_mldsa65_public_key"])
    w_ed, w_pq = b64(v["witness_ed25519_public_key"]), b64(v["witness_mldsa65_public_key"])
    assert len(log_pq) == len(w_pq) == 1952
    assert key_id(v["log_name"], 0x01, log_ed).hex() == v["log_ed25519_key_id"]
    assert key_id(v["log_name"], MLDSA65_NOTE, log_pq).hex() == v["log_mldsa65_key_id"]
    assert key_id(v["witness_name"], 0x04, w_ed).hex() == v["witness_ed25519_key_id"]
    assert (key_id(v["witness_name"], MLDSA65_COSIGNATURE, w_pq).hex()
            == v["witness_mldsa65_key_id"])
    by_id = {(n, b[:4].hex()): b for n, b in sigs}
    assert len(by_id) == len(sigs) == 4
    ed = by_id[(v["log_name"], v["log_ed25519_key_id"])]
    pq = by_id[(v["log_name"], v["log_mldsa65_key_id"])]
    wed = by_id[(v["witness_name"], v["witness_ed25519_key_id"])]
    wpq = by_id[(v["witness_name"], v["witness_mldsa65_key_id"])]
    assert (len(ed), len(pq), len(wed), len(wpq)) == (68, 3313, 76, 3321)
    verify_line(body, v["log_name"], log_ed, ed)
    verify_line_mldsa65(body, v["log_name"], log_pq, pq)
    ts = v["timestamp"]
    assert verify_cosignature_line(body, v["witness_name"], w_ed, wed) == ts
    assert verify_cosignature_line_mldsa65(body, v["witness_name"], w_pq, wpq) == ts
    other = body.replace("\n7\n", "\n8\n")
    with pytest.raises(BadSignature):
        verify_line_mldsa65(other, v["log_name"], log_pq, pq)
    with pytest.raises(BadSignature):
        verify_cosignature_line_mldsa65(other, v["witness_name"], w_pq, wpq)
    with pytest.raises(BadSignature):  # an ML-DSA-65 line is not taken for an Ed25519 one
        verify_line(body, v["log_name"], log_ed, pq)
