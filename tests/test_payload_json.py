"""Payloads from officers' JSON: strings with an unpaired surrogate are refused as protobuf's
parser refuses them (the check is ours, faster, with the same answer); text in every script
of the scenario, and characters outside the BMP, are kept exactly. ``parse`` builds the message
directly where every value is of its field's type, the same message as ParseDict builds."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from gateway.protocol.errors import Malformed
from gateway.protocol.messages import Payload, pb


def notice(text: str) -> dict[str, Any]:
    d = Payload(pb.CaseNotice(context=pb.MessageContext(case_reference="LC-2026-0042",
                                                        priority=1, handling_code=1),
                              offence=pb.LocalizedText(vi="x", zh="y"))).to_dict()
    d["body"]["offence"]["vi"] = text
    return d


@pytest.mark.parametrize("text", ["a\ud800b", "\udc00", "x" * 3000 + "\udbff", "\ud800\ud800"])
def test_unpaired_surrogates_are_refused(text):
    with pytest.raises(Malformed, match=r"[Ss]urrogate"):
        Payload.from_dict(notice(text))


@pytest.mark.parametrize("text", ["Nguyễn Thị Mai, Lào Cai", "河口县公安局", "😀 𠀋", "plain"])
def test_text_in_every_script_is_kept(text):
    assert Payload.from_dict(notice(text)).to_dict()["body"]["offence"]["vi"] == text


def test_the_fast_check_is_in_place():
    # If a protobuf release renames its pattern, parsing stays correct (and slower): say so.
    assert type(json_format._UNPAIRED_SURROGATE_PATTERN).__name__ == "_SurrogateCheck"


def _both_ways(data: dict[str, Any]) -> tuple[Any, Any]:
    """The body of ``data`` built by ``parse`` (its direct path, where it takes it) and by
    json_format.ParseDict alone; Malformed where either refuses."""
    from gateway.views import payload_json

    fast = payload_json.parse(data, "vi").body
    slow = type(fast)()
    json_format.ParseDict(payload_json._check(slow.DESCRIPTOR, data.get("body") or {}, (),
                                              "vi"), slow)
    return fast, slow


def _scenario() -> list[dict[str, Any]]:
    from gateway.protocol.scenario import case_payloads

    return [s.payload.to_dict() for s in case_payloads()]


@pytest.mark.parametrize("data", _scenario(), ids=lambda d: d["type"])
def test_the_direct_path_builds_what_parse_dict_builds(data):
    """Every message type of the scenario (times, enums by name, lists, nested objects,
    bytes in base64 where there are any): the same message, field presence included."""
    from gateway.views import payload_json

    fast, slow = _both_ways(data)
    assert fast == slow
    assert fast.SerializeToString(deterministic=True) == slow.SerializeToString(
        deterministic=True)
    assert [f.name for f, _ in fast.ListFields()] == [f.name for f, _ in slow.ListFields()]
    body = payload_json._check(fast.DESCRIPTOR, data["body"], (), "vi")
    direct = payload_json._direct(fast.DESCRIPTOR, body)
    assert (direct is None) == _has_bytes(fast)  # base64 is ParseDict's to read
    assert direct is None or direct == slow


def _has_bytes(msg: Any) -> bool:
    from google.protobuf.descriptor import FieldDescriptor

    for f, v in msg.ListFields():
        if f.type == FieldDescriptor.TYPE_BYTES:
            return True
        if f.message_type is not None and any(
                _has_bytes(x) for x in (v if f.is_repeated else [v])):
            return True
    return False


@pytest.mark.parametrize(("change", "expect"), [
    (lambda b: b.update(victim_count="3"), 3),          # a number as text: ParseDict reads it
    (lambda b: b.update(victim_count=4), 4),
    (lambda b: b.update(offence={}), 0),                 # an empty object is still present
    (lambda b: b["context"].update(priority=3), 0),      # an enum by number
    (lambda b: b.update(modus_operandi=["MODUS_OPERANDI_JOB_LURE", 2]), 0),
    (lambda b: b.update(victim_count=None), 0),          # null: as ParseDict has it
])
def test_values_the_direct_path_leaves_to_parse_dict_read_the_same(change, expect):
    data = notice("x")
    change(data["body"])
    fast, slow = _both_ways(data)
    assert fast == slow and fast.victim_count == expect
    assert [f.name for f, _ in fast.ListFields()] == [f.name for f, _ in slow.ListFields()]


@pytest.mark.parametrize("value", [True, -1, 2**32, 1.5, "many", [3]])
def test_a_value_of_the_wrong_kind_is_refused_naming_the_field(value):
    data = notice("x")
    data["body"]["victim_count"] = value
    from gateway.views import payload_json

    with pytest.raises(Malformed) as e:
        payload_json.parse(data, "vi")
    assert "victim_count" in str(e.value) or "nạn nhân" in str(e.value).lower()


@pytest.mark.parametrize("text", ["a\ud800b", "\udc00"])
def test_an_unpaired_surrogate_is_refused_on_the_direct_path_too(text):
    from gateway.views import payload_json

    with pytest.raises(Malformed):
        payload_json.parse(notice(text), "vi")
