"""Payloads from officers' JSON: strings with an unpaired surrogate are refused as protobuf's
parser refuses them (the check is ours, faster, with the same answer); text in every script
of the scenario, and characters outside the BMP, are kept exactly."""

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
