"""``blo-gateway template`` and payload errors named by the fields' labels, through the real
command line and the real officer API: the template has every field of the type, reads back
once filled in, ``--explain`` lists every path with its vi and zh labels and allowed values;
a wrong field name, a missing required field and a time without a zone are each told by the
field's label in the chosen language, never by protobuf's English internals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import BACKENDS, Pair
from test_cli import run

from gateway.protocol.messages import MessageType, pb
from gateway.protocol.scenario import HEKOU, LAOCAI


def _fields(desc: Any, prefix: str = "") -> set[str]:
    out = set()
    for f in desc.fields:
        path = prefix + f.name
        out.add(path)
        if f.message_type is not None and f.message_type.full_name != "blo.v1.ZonedTime":
            out |= _fields(f.message_type, path + ".")
    return out


def _paths(data: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for k, v in data.items():
        out.add(prefix + k)
        item = v[0] if isinstance(v, list) and v else v
        if isinstance(item, dict):
            out |= _paths(item, prefix + k + ".")
    return out


@pytest.mark.parametrize("mtype", list(MessageType), ids=lambda m: m.slug)
def test_template_has_every_field_and_reads_back_when_filled(tmp_path: Path,
                                                             mtype: MessageType) -> None:
    out = run("template", mtype.slug, cwd=tmp_path).stdout
    data = json.loads(out)
    desc = pb.Payload.DESCRIPTOR.fields_by_name[mtype.slug].message_type
    assert data["type"] == mtype.slug and _paths(data["body"]) == _fields(desc)
    # filled in where the type requires it, the file is a payload the CLI reads
    body = data["body"]
    body["context"]["case_reference"] = "LC-2026-0042"
    if mtype == MessageType.IDENTIFICATION_REQUEST:
        body["kind"] = "IDENTIFICATION_KIND_IDENTIFY_VICTIM"
        body["person"]["name"]["full_name"] = "Giàng Thị Mai"
    (tmp_path / "p.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert run("render", "p.json", "--lang", "vi", cwd=tmp_path).returncode == 0


def test_explain_lists_each_path_with_both_labels_and_the_allowed_values(tmp_path: Path) -> None:
    out = run("template", "identification_request", "--explain", "--lang", "zh",
              cwd=tmp_path).stdout
    lines = out.splitlines()
    assert lines[0].startswith("identification_request: 受害人身份核查请求")
    row = next(x for x in lines if x.startswith("person.name.full_name\t"))
    assert "姓名" in row and " / " in row and "必填" in row
    i = lines.index(next(x for x in lines if x.startswith("context.priority\t")))
    assert lines[i + 1:i + 4] == ["    PRIORITY_ROUTINE\t一般 / Thường",
                                  "    PRIORITY_HIGH\t急 / Khẩn",
                                  "    PRIORITY_URGENT\t特急 / Hỏa tốc"]
    assert any(x.startswith("person.aliases[].full_name\t") for x in lines)
    vi = run("template", "identification_request", "--explain", cwd=tmp_path).stdout
    assert "Số hiệu vụ việc / 消息要素 › 案件编号\t[văn bản, Bắt buộc phải điền]" in vi
    r = run("template", "summary_note", cwd=tmp_path, ok=False)
    assert r.returncode == 2


BAD = {  # what is wrong → the words that must name it, in vi and in zh
    "wrong_name": ({"type": "case_notice", "body": {
        "context": {"case_reference": "LC-1"}, "summary": "x"}},
        "Thông báo vụ việc: không có trường “summary”", "案件通报：没有字段“summary”"),
    "missing": ({"type": "identification_request", "body": {
        "context": {"case_reference": "LC-1"}, "kind": "IDENTIFICATION_KIND_IDENTIFY_VICTIM"}},
        "› Họ và tên: bắt buộc phải điền", "› 姓名：必填"),
    "no_zone": ({"type": "case_notice", "body": {
        "context": {"case_reference": "LC-1", "deadline": "2026-03-04T10:40"}}},
        "Thông báo vụ việc › Thông tin chung của thông điệp › Thời hạn trả lời: thời điểm "
        "thiếu múi giờ", "案件通报 › 消息要素 › 答复期限：时间缺少时区"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_payload_errors_name_the_field_by_its_label_in_the_cli(tmp_path: Path,
                                                               case: str) -> None:
    data, vi, zh = BAD[case]
    (tmp_path / "p.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    for lang, words in (("vi", vi), ("zh", zh)):
        r = run("send", "p.json", "--to", HEKOU, "--lang", lang, "--api", "http://127.0.0.1:9",
                "--token-file", "none", cwd=tmp_path, ok=False)
        assert r.returncode == 2 and r.stderr.startswith("error MALFORMED"), r.stderr
        assert words in r.stderr, r.stderr
        assert "blo.v1" not in r.stderr and "Message type" not in r.stderr
    r = run("render", "p.json", "--lang", "zh", cwd=tmp_path, ok=False)
    assert zh in r.stderr


@pytest.mark.parametrize("backend", BACKENDS)
async def test_payload_errors_name_the_field_by_its_label_in_the_api(backend: str,
                                                                    tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        async with aiohttp.ClientSession() as http:
            o = pair.officer(http, LAOCAI)
            for case, (data, vi, zh) in sorted(BAD.items()):
                for query, words in (("?lang=vi", [vi]), ("?lang=zh", [zh]), ("", [vi, zh])):
                    got = await o.call("POST", "/api/v1/messages" + query,
                                       {"to": [HEKOU], "payload": data}, expect=400)
                    assert got["code"] == "MALFORMED", got
                    assert all(w in got["message"] for w in words), (case, got)
                    assert "blo.v1" not in got["message"]
            # a good payload with a zoned ISO time is taken, the time kept with its offset
            good = {"type": "case_notice", "body": {"context": {
                "case_reference": "LC-2026-0050", "deadline": "2026-03-04T10:40:00+08:00"}}}
            got = await o.call("POST", "/api/v1/messages?lang=zh",
                               {"to": [HEKOU], "payload": good}, expect=201)
            assert got["type"] == "case_notice"
    finally:
        await pair.close()
