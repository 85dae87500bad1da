"""Keys, rotation, revocation and the 2-of-2 co-signed directory."""

from __future__ import annotations

import stat

import pytest
from harness import error_code

from gateway.cli.provision import Network, provision
from gateway.protocol import envelope
from gateway.protocol.identity import (
    Directory,
    Keyring,
    RootSigner,
    build_directory,
    key_id_for,
    sign_directory,
)
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.schemas.blo.v1 import directory_pb2

DAY = 24 * 3600 * 1000


def _entries(net: Network, rings: dict[str, Keyring] | None = None):
    d = net.directory()
    rings = rings or net.keyrings
    return [rings[o].public_office(country=i.country, name_vi=i.name_vi, name_zh=i.name_zh,
                                   role=i.role, endpoint=i.endpoint)
            for o, i in d.offices.items()]


_code = error_code


def test_directory_needs_both_countries(net, now_ms):
    unsigned = build_directory(_entries(net), serial=2, issued_at_ms=now_ms - 1,
                               expires_at_ms=now_ms + DAY)
    vn, cn = net.root_signers
    for signed in (unsigned, sign_directory(unsigned, vn), sign_directory(unsigned, cn)):
        assert _code(lambda s=signed: Directory.verify(s, net.roots, now_ms=now_ms)) \
            == "BAD_DIRECTORY"
    both = sign_directory(sign_directory(unsigned, cn), vn)
    assert Directory.verify(both, net.roots, now_ms=now_ms).serial == 2


def test_one_side_cannot_add_an_office_alone(net, now_ms):
    """Changing the directory bytes after both signed breaks the signatures."""
    signed = net.directory_bytes
    i = signed.index(b"cn.yunnan.hekou.blo")
    forged = signed[:i] + b"cn.yunnan.hekou.bl0" + signed[i + 19:]
    # Every directory fault has one code (docs/wire-format.md §3), a root signature too.
    assert _code(lambda: Directory.verify(forged, net.roots, now_ms=now_ms)) == "BAD_DIRECTORY"
    # A third root (not pinned) cannot stand in for either country.
    rogue = RootSigner.generate("CN")
    unsigned = build_directory(_entries(net), serial=3, issued_at_ms=now_ms - 1,
                               expires_at_ms=now_ms + DAY)
    half = sign_directory(sign_directory(unsigned, net.root_signers[0]), rogue)
    assert _code(lambda: Directory.verify(half, net.roots, now_ms=now_ms)) == "BAD_DIRECTORY"
    assert _code(lambda: Directory.verify(b"\xff" * 10, net.roots, now_ms=now_ms)) \
        == "BAD_DIRECTORY"


def test_older_serial_and_expired_directory_are_refused(net, now_ms):
    assert _code(lambda: Directory.verify(net.directory_bytes, net.roots, now_ms=now_ms,
                                          min_serial=2)) == "BAD_DIRECTORY"
    later = now_ms + 2 * 365 * DAY
    assert _code(lambda: Directory.verify(net.directory_bytes, net.roots, now_ms=later)) \
        == "BAD_DIRECTORY"


def test_key_ids_are_derived_and_checked(net, now_ms):
    ring = net.keyrings[LAOCAI]
    k = ring.signing_key(now_ms)
    assert k.key_id == key_id_for("ed25519", k.public_key)
    assert k.key_id.startswith("ed25519:") and len(k.key_id) == len("ed25519:") + 32
    entry = _entries(net)[0]
    entry.keys[0].key_id = "ed25519:" + "0" * 32
    entries = [entry, *_entries(net)[1:]]
    # The builder refuses it at once ...
    assert _code(lambda: build_directory(entries, serial=2, issued_at_ms=now_ms - 1,
                                         expires_at_ms=now_ms + DAY)) == "BAD_DIRECTORY"
    # ... and a verifier refuses one that another tool built and both roots signed.
    d = directory_pb2.Directory(serial=2, issued_at_ms=now_ms - 1, expires_at_ms=now_ms + DAY,
                                offices=entries)
    unsigned = directory_pb2.SignedDirectory(
        directory=d.SerializeToString(deterministic=True)).SerializeToString(deterministic=True)
    signed = sign_directory(sign_directory(unsigned, net.root_signers[0]), net.root_signers[1])
    assert _code(lambda: Directory.verify(signed, net.roots, now_ms=now_ms)) == "BAD_DIRECTORY"


def test_rotation_with_overlap(now_ms):
    net = provision(now_ms)
    old = net.keyrings[LAOCAI]
    rotated = old.rotate(now_ms=now_ms, valid_ms=365 * DAY, overlap_ms=7 * DAY)
    rings = {**net.keyrings, LAOCAI: rotated}
    unsigned = build_directory(_entries(net, rings), serial=2, issued_at_ms=now_ms - 1,
                               expires_at_ms=now_ms + 400 * DAY)
    d2 = Directory.verify(sign_directory(sign_directory(unsigned, net.root_signers[0]),
                                         net.root_signers[1]), net.roots, now_ms=now_ms)
    d1 = net.directory()
    msg = case_payloads()[1]  # Hekou -> Lào Cai
    before = envelope.seal(msg.payload, sender=net.keyrings[HEKOU], recipients=[LAOCAI],
                           directory=d1, now_ms=now_ms)
    # Sealed to the old key before rotation: still opens with the rotated keyring.
    env = envelope.verify(before, d2, now_ms=now_ms)
    assert envelope.open_envelope(env, rotated) == msg.payload
    # New messages go to the new encryption key; the old one no longer opens them.
    after = envelope.seal(msg.payload, sender=net.keyrings[HEKOU], recipients=[LAOCAI],
                          directory=d2, now_ms=now_ms + 1)
    env2 = envelope.verify(after, d2, now_ms=now_ms + 1)
    assert env2.header.recipients[0].key_id != env.header.recipients[0].key_id
    assert _code(lambda: envelope.open_envelope(env2, old)) == "NOT_A_RECIPIENT"
    # Lào Cai signs with the new key. A message signed with the old key during the overlap
    # verifies, also after the old key expired (validity is judged at the signed creation
    # time); one the old key signs after its end in the directory does not, even though
    # the old keyring still believes it valid.
    old_signed = envelope.seal(msg.payload, sender=old, recipients=[HEKOU], directory=d2,
                               now_ms=now_ms, ttl_ms=30 * DAY)
    assert rotated.signing_key(now_ms + 1).key_id != old.signing_key(now_ms).key_id
    envelope.verify(old_signed, d2, now_ms=now_ms + 6 * DAY)
    envelope.verify(old_signed, d2, now_ms=now_ms + 8 * DAY)
    late = envelope.seal(msg.payload, sender=old, recipients=[HEKOU], directory=d2,
                         now_ms=now_ms + 8 * DAY)
    assert _code(lambda: envelope.verify(late, d2, now_ms=now_ms + 8 * DAY)) == "KEY_EXPIRED"


def test_keyring_files_are_private(tmp_path, now_ms):
    ring = Keyring.generate("vn.laocai.blo", now_ms=now_ms, valid_ms=DAY)
    path = tmp_path / "k.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.load(path) == ring
    with pytest.raises(FileExistsError):
        ring.save(path)  # never overwritten silently
    path.chmod(0o644)
    assert _code(lambda: Keyring.load(path)) == "BAD_CONFIG"


@pytest.mark.parametrize("bad", ["laocai", "VN.LAOCAI.BLO", "us.x.y", "vn..blo", "vn.lào.blo"])
def test_office_ids_are_checked(bad, now_ms):
    assert _code(lambda: Keyring.generate(bad, now_ms=now_ms, valid_ms=DAY)) == "BAD_CONFIG"


def test_keys_come_from_the_csprng(now_ms):
    a = Keyring.generate("vn.laocai.blo", now_ms=now_ms, valid_ms=DAY)
    b = Keyring.generate("vn.laocai.blo", now_ms=now_ms, valid_ms=DAY)
    assert {k.secret for k in a.keys}.isdisjoint({k.secret for k in b.keys})
