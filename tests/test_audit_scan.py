"""The verifier's fast leaf reader agrees with the reference decoder and the tree code.

``leaves.CANONICAL_LEAF`` must accept only what ``decode_leaf`` accepts, with the same field
values; ``merkle.grow_levels``/``levels_root`` must give the roots ``CompactRange`` gives;
and ``scan.scan_leaves`` on every core must give what one core gives, problems included; its
fast path over a block (one ``findall``) gives up on every block with a problem, and otherwise
gives what the line-by-line reader gives.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.audit import scan
from gateway.audit.leaves import (
    CANONICAL_LEAF,
    EVENT_TYPES,
    FIELD_ORDER,
    FIELDS,
    decode_leaf,
    encode_leaf,
)
from gateway.audit.merkle import CompactRange, grow_levels, leaf_hash, levels_root
from gateway.audit.scan import Scan
from gateway.protocol.errors import AuditEntryEdited, AuditSequenceBroken, GatewayError

OFFICE = "vn.laocai.blo"
HEX = st.text("0123456789abcdef", min_size=32, max_size=64)
ID = st.from_regex(r"\A[a-z0-9][a-z0-9._/:-]{0,20}\Z")
FIELD_VALUES = {
    "t": st.integers(0, 10**18 - 1), "seq": st.integers(0, 10**9), "v": st.just(1),
    "office": ID, "peer": ID, "key_id": ID, "message_id": HEX, "envelope_sha256": HEX,
    "receipt_sha256": HEX, "code": st.from_regex(r"\A[A-Z][A-Z0-9_]{0,10}\Z"),
    "peers": st.lists(ID, max_size=3), "state_to": st.from_regex(r"\A[a-z][a-z0-9_.]{0,10}\Z"),
}


def _fast(line: bytes) -> dict[str, object] | None:
    m = CANONICAL_LEAF.fullmatch(line.decode("latin-1"))
    if m is None:
        return None
    out: dict[str, object] = {}
    for k, v in zip(FIELD_ORDER, m.groups(), strict=True):
        if v is None:
            continue
        rule = FIELDS[k]
        out[k] = (int(v) if rule is int else [x for x in v[2:-2].split('","') if x]
                  if rule is list else v)
    return out


leaf_events = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(EVENT_TYPES))},
    optional=FIELD_VALUES)


@settings(max_examples=300, deadline=None)
@given(leaf_events)
def test_every_valid_leaf_takes_the_fast_path_with_the_same_fields(event: dict[str, object]
                                                                   ) -> None:
    line = encode_leaf(event)
    assert _fast(line) == decode_leaf(line) == event


@settings(max_examples=500, deadline=None)
@given(leaf_events, st.integers(0, 10**6), st.binary(min_size=1, max_size=3),
       st.sampled_from(["flip", "insert", "delete"]))
def test_the_fast_path_never_accepts_what_the_decoder_refuses(
        event: dict[str, object], at: int, junk: bytes, how: str) -> None:
    line = bytearray(encode_leaf(event))
    i = at % len(line)
    if how == "flip":
        line[i] ^= junk[0] or 1
    elif how == "insert":
        line[i:i] = junk
    else:
        del line[i:i + len(junk)]
    fast = _fast(bytes(line))
    try:
        slow: dict[str, object] | None = decode_leaf(bytes(line))
    except GatewayError:
        slow = None
    if fast is not None:
        assert fast == slow
    # the scan's block pattern (bytes, a line and its newline) matches the same, same fields
    block = scan._LEAVES_EVENTS(bytes(line) + b"\n")
    whole = len(block) == 1 and block[0][0] == bytes(line)  # (junk may hold a newline)
    assert whole == (fast is not None)
    if whole:
        m = CANONICAL_LEAF.fullmatch(bytes(line).decode("latin-1"))
        assert m is not None
        names = ("envelope_sha256", "message_id", "office", "peer", "peers", "receipt_sha256",
                 "seq", "t", "type")
        assert block[0] == (bytes(line), *((m[FIELD_ORDER.index(k) + 1] or "").encode()
                                           for k in names))


@pytest.mark.parametrize("bad", [
    b'{"office":"vn.laocai.blo\\n","type":"gateway.started"}',  # an id ending in a newline
    b'{"type":"gateway.started","t":1}',  # keys out of order
    b'{"t":1,"t":1,"type":"gateway.started"}',  # a key twice
    b'{"t":-1,"type":"gateway.started"}',
    b'{"t":true,"type":"gateway.started"}',
    b'{"type":"gateway.started","name":"x"}',
    b'{"type":"no.such.event"}',
])
def test_lines_both_readers_refuse(bad: bytes) -> None:
    assert _fast(bad) is None
    with pytest.raises(GatewayError):
        decode_leaf(bad)


def test_tree_levels_give_the_compact_range_roots() -> None:
    rng = random.Random(7)
    hashes = [leaf_hash(rng.randbytes(20)) for _ in range(700)]
    levels = grow_levels([b"".join(hashes)])
    edge = CompactRange()
    assert levels_root(levels, 0) == edge.root()
    for size, h in enumerate(hashes, 1):
        edge.append(h)
        assert levels_root(levels, size) == edge.root()
    with pytest.raises(GatewayError):
        levels_root(levels, 701)
    chunks = [grow_levels([b"".join(hashes[s:s + 128])]) for s in range(0, 700, 128)]
    joined = [b"".join(c[k] for c in chunks if len(c) > k) for k in range(8)]
    assert grow_levels(joined) == levels


def _lines(n: int) -> list[bytes]:
    return [encode_leaf({"v": 1, "seq": i, "office": OFFICE, "t": 1000 + i,
                         "type": "message.created" if i % 3 else "message.opened",
                         "message_id": f"{i:032x}", "envelope_sha256": f"{i:064x}",
                         "peers": ["cn.yunnan.hekou.blo"]}) for i in range(n)]


@pytest.mark.parametrize("damage", ["none", "edited", "reordered", "slow_form"])
def test_every_core_gives_what_one_core_gives(monkeypatch: pytest.MonkeyPatch,
                                              damage: str) -> None:
    lines = _lines(5000)
    if damage == "edited":
        lines[3001] = lines[3001].replace(b'"t":', b'"t" :')
    elif damage == "reordered":
        lines[4100], lines[4101] = lines[4101], lines[4100]
    elif damage == "slow_form":  # a valid leaf the fast pattern leaves to the decoder
        lines[2500] = encode_leaf({"v": 1, "seq": 2500, "office": OFFICE,
                                   "t": 10**19, "type": "gateway.started"})
    blob = b"".join(x + b"\n" for x in lines)
    one = scan.scan_leaves(blob, OFFICE)
    monkeypatch.setattr(scan, "_PARALLEL_FROM", 0)
    many = scan.scan_leaves(blob, OFFICE)
    assert many == one
    assert one.levels[0] == b"".join(leaf_hash(b"blo-audit/v1\n" + x) for x in lines)
    expected = {"none": None, "slow_form": None, "edited": AuditEntryEdited,
                "reordered": AuditSequenceBroken}[damage]
    assert (one.problem[0] if one.problem else None) is expected
    created = [e for e in one.events() if e[scan.TYPE] == "message.created"]
    assert len(created) == sum(1 for i in range(5000) if i % 3) - (damage in ("slow_form",
                                                                          "edited"))
    assert created[0] == ("message.created", "", ("cn.yunnan.hekou.blo",), f"{1:032x}",
                          f"{1:064x}", "")


@settings(max_examples=300, deadline=None)
@given(leaf_events, st.sampled_from([0, 2**63, 2**64, 10**30]))
def test_encode_leaf_writes_the_json_modules_canonical_bytes(event: dict[str, object],
                                                             big: int) -> None:
    """``encode_leaf`` writes with orjson for speed: its bytes must be exactly the canonical
    form of the json module (sorted keys, no white space, ASCII escapes), whatever the valid
    event, integers past 64 bits included (those take the json module)."""
    import json

    for ev in (event, {**event, "seq": big}):
        assert encode_leaf(ev) == json.dumps(ev, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=True).encode("ascii")


@pytest.mark.parametrize("damage", ["none", "edited", "gap", "other_office", "no_time",
                                    "no_seq", "leading_zero", "empty_line", "slow_form"])
def test_the_block_path_reads_what_the_line_path_reads(damage: str) -> None:
    """``_read_block`` (one pattern over a block) either gives up or gives exactly what
    ``_read_lines`` (one line at a time, the reference) gives; it gives up on every block
    with a problem, and on none of an intact log."""
    lines = _lines(300)
    lines[7] = encode_leaf({**decode_leaf(lines[7]), "peers": []})
    lines[8] = encode_leaf({**decode_leaf(lines[8]), "peers": ["a.b", "c", "d.e"]})
    lines[10] = encode_leaf({**decode_leaf(lines[10]), "type": "envelope.received",
                             "peer": "cn.yunnan.hekou.blo", "receipt_sha256": "ab" * 32})
    event = {"v": 1, "seq": 120, "office": OFFICE, "t": 5, "type": "message.opened"}
    if damage == "edited":
        lines[120] = lines[120].replace(b'"t":', b'"t" :')
    elif damage == "gap":
        lines[120] = encode_leaf({**event, "seq": 121})
    elif damage == "other_office":
        lines[120] = encode_leaf({**event, "office": "cn.yunnan.hekou.blo"})
    elif damage == "no_time":
        lines[120] = encode_leaf({k: v for k, v in event.items() if k != "t"})
    elif damage == "no_seq":
        lines[120] = encode_leaf({k: v for k, v in event.items() if k != "seq"})
    elif damage == "leading_zero":
        lines[120] = lines[120].replace(b'"seq":120', b'"seq":0120')
    elif damage == "empty_line":
        lines[120] = b""
    elif damage == "slow_form":
        lines[120] = encode_leaf({**event, "t": 10**19})
    part = b"".join(x + b"\n" for x in lines)
    for events in (True, False):
        slow = scan._read_lines(lines, OFFICE, 1000, events)
        assert slow[0] is not None  # numbered from 1000: every block is out of sequence
        assert scan._read_block(part, 0, len(part), OFFICE, 1000, events) is None
        slow = scan._read_lines(lines, OFFICE, 0, events)
        fast = scan._read_block(part, 0, len(part), OFFICE, 0, events)
        if damage == "none":
            assert fast == (tuple(lines), slow)
            assert slow[0] is None
            if events:
                assert slow[3] is not None
                assert slow[3].split("\n")[4:7] == [  # lines 7, 8 and 10
                    f"message.created\t\t\t{7:032x}\t{7:064x}\t",
                    f"message.created\t\ta.b,c,d.e\t{8:032x}\t{8:064x}\t",
                    f"envelope.received\tcn.yunnan.hekou.blo\tcn.yunnan.hekou.blo\t{10:032x}"
                    f"\t{10:064x}\t{'ab' * 32}"]
        else:
            assert fast is None
            assert (slow[0] is None) == (damage in ("no_time", "slow_form"))


@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n"])
def test_scan_reads_the_lines_split_reads(monkeypatch: pytest.MonkeyPatch, tail: bytes) -> None:
    """Whatever the end of the file (no newline after the last leaf, one, an empty line) and
    however the lines are cut into chunks, every line is a leaf, as ``bytes.split`` cuts."""
    lines = _lines(3000)
    blob = b"\n".join(lines) + tail
    want = blob.split(b"\n")
    if want[-1] == b"":
        want.pop()
    one = scan.scan_leaves(blob, OFFICE)
    assert one.levels[0] == b"".join(leaf_hash(b"blo-audit/v1\n" + x) for x in want)
    assert one.size == len(want) == len(one.times)
    assert (one.problem is None) == (tail != b"\n\n")
    monkeypatch.setattr(scan, "_PARALLEL_FROM", 0)
    assert scan.scan_leaves(blob, OFFICE) == one
    without = scan.scan_leaves(blob, OFFICE, events=False)
    assert without.rows is None
    assert without == Scan(one.levels, one.problem, one.counts, one.times, None)
    with pytest.raises(ValueError, match="without their events"):
        without.events()
    empty = scan.scan_leaves(b"", OFFICE)
    assert (empty.size, empty.problem, empty.events()) == (0, None, [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=200), st.booleans(),
       st.sampled_from([1, 2, 8, 64]))
@example([700_000, 5, 0, 1_500_000, 3, 2_100_000, 7], False, 2)  # past the 1 MiB count blocks
@example([0] * 5000, True, 2048)  # more newlines than bytes in a 4 KiB count block
def test_chunks_start_where_lines_start(lengths: list[int], newline_at_end: bool,
                                        chunk: int) -> None:
    blob = b"\n".join(b"x" * k for k in lengths) + (b"\n" if newline_at_end else b"")
    lines = blob.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(0, len(lines), chunk)]
    ranges = list(scan._chunks(blob, chunk))
    assert [start for start, _ in ranges] == (starts or [0])
    assert [end for _, end in ranges] == [*starts[1:], len(blob)]
