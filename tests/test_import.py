"""blo-import (adapters/) with real files, good and bad: the hotline's call log (CSV, JSON)
and the Border Guard's roster (CSV, XLSX). The checks run the command in this process
(``adapters.cli.main``) on files written here; the sending part runs the real command as a
process against real gateway processes (tests/test_import_send.py)."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

import openpyxl
import pytest
from harness import load_script

from adapters import cli, hotline, roster
from adapters.cells import Column, header_index, plain
from gateway.protocol.glossary import term
from gateway.protocol.messages import Payload
from gateway.protocol.scenario import HEKOU

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "adapters" / "examples"
bench = load_script(ROOT / "bench" / "bench_import.py", "blo_bench_import")


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def dry(capsys, kind: str, path: Path, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run(capsys, kind, path, "--to", HEKOU, "--dry-run", "--json", *extra)
    return code, json.loads(out) if out.strip() else {}, err


def rows_of(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def edited(rows: list[list[str]], row: int, column: str, value: str) -> list[list[str]]:
    """A copy of ``rows`` with the cell of data row ``row`` (file row ``row + 1``) under
    header ``column`` replaced."""
    out = [list(r) for r in rows]
    out[row][out[0].index(column)] = value
    return out


# ----------------------------------------------------------------------------- good files

def test_the_example_call_logs_preview_bilingually_and_send_nothing(capsys):
    code, out, err = run(capsys, "hotline", EXAMPLES / "hotline.csv", "--to", HEKOU,
                         "--dry-run")
    assert code == 0, err
    # Both languages, labels from the glossary, and every row's subject.
    for key in ("msg.hotline_report", "received_at", "report_subject", "import.dry_run"):
        assert term(key).vi in out and term(key).zh in out, key
    for name in ("Giàng Thị Mai", "Lý Văn Sử", "Lò Thị Xuân"):
        assert name in out
    assert "Nghi mua bán người / 疑似拐卖人口" in out and "2026-03-05T20:15+07:00" in out
    assert "0 dòng có lỗi" in out and "3 条消息" in out
    code, plan, _ = dry(capsys, "hotline", EXAMPLES / "hotline.json")
    assert code == 0 and plan["problems"] == [] and len(plan["items"]) == 2
    body = plan["items"][0]["payload"]["body"]
    assert body["subject"]["name"] == {"full_name": "Vàng Thị Súa", "script": "Latn",
                                       "latin": "Vang Thi Sua"}
    assert body["reporter"]["relationship"] == "RELATIONSHIP_FATHER"
    assert body["context"] == {"case_reference": "LC-2026-0044",
                               "priority": "PRIORITY_URGENT",
                               "handling_code": "HANDLING_CODE_NO_ONWARD_TRANSFER"}
    assert body["received_at"] == {"unix_millis": str(int(datetime.datetime(
        2026, 3, 6, 1, 12, tzinfo=datetime.UTC).timestamp() * 1000)),
        "utc_offset_minutes": 420}
    second = plan["items"][1]["payload"]["body"]
    assert second["reporter"] == {"anonymous": True}
    assert second["facts"]["zh"] == "一批人夜间经小路被带出境。"
    Payload.from_dict(plan["items"][0]["payload"])  # the gateway's own strict reading


def test_every_row_maps_its_columns_to_the_payload(capsys):
    # Row 3 has no routed_to cell: it goes to --to, and without --to it is a bad row.
    code, _, err = run(capsys, "hotline", EXAMPLES / "hotline.csv", "--dry-run", "--lang", "vi")
    assert code == 1 and err.startswith("error BAD_IMPORT_ROWS: 1 dòng có lỗi")
    code, plan, _ = dry(capsys, "hotline", EXAMPLES / "hotline.csv")
    assert code == 0 and plan["items"][1]["to"] == [HEKOU]
    first = plan["items"][0]
    assert first["rows"] == [2] and first["to"] == [HEKOU]
    body = first["payload"]["body"]
    assert body["channel"] == "REPORT_CHANNEL_PROVINCIAL_HOTLINE"
    assert body["classification"] == "REPORT_CLASSIFICATION_SUSPECTED_TRAFFICKING"
    assert body["subject"]["ethnicity"] == "ETHNICITY_HMONG"
    assert body["subject"]["approximate_age"] == 19
    assert body["reporter"]["phone"] == "+84 900 000 001"
    assert body["facts"]["original"] == "LANGUAGE_VI" and body["facts"]["zh"].startswith("其女儿")
    assert body["location"]["description"]["vi"].startswith("thôn Sín Chải")
    assert body["routed_to"] == [HEKOU]
    third = plan["items"][2]["payload"]["body"]  # 05/03/2026: day first
    assert third["subject"]["date_of_birth"] == {"year": 2004, "month": 11, "day": 2}
    assert "classification" not in third  # left unspecified: not yet classified
    # No case reference in the row: one made of the key's digest (every message has a case).
    key_hex = plan["items"][2]["key"].rsplit("-", 1)[1]
    assert third["context"]["case_reference"] == f"HL-{key_hex[:10].upper()}"


def test_a_bom_english_chinese_and_unaccented_headers_read_the_same(capsys, tmp_path):
    rows = rows_of(EXAMPLES / "hotline.csv")
    _, base, _ = dry(capsys, "hotline", EXAMPLES / "hotline.csv")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "hotline.csv").read_bytes())
    by_key = [c.key for c in hotline.COLUMNS]
    english = [rows[0] and by_key[[term(c.term).vi for c in hotline.COLUMNS].index(h)]
               for h in rows[0]]
    chinese = [term(hotline.COLUMNS[by_key.index(k)].term).zh for k in english]
    unaccented = [plain(h).upper() for h in rows[0]]
    semicolons = tmp_path / "semi.csv"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(rows)
    semicolons.write_text(buf.getvalue(), encoding="utf-8")
    for path in (bom, write_csv(tmp_path / "en.csv", [english, *rows[1:]]),
                 write_csv(tmp_path / "zh.csv", [chinese, *rows[1:]]),
                 write_csv(tmp_path / "plain.csv", [unaccented, *rows[1:]]), semicolons):
        _, plan, _ = dry(capsys, "hotline", path)
        assert [i["payload"] for i in plan["items"]] == [i["payload"] for i in base["items"]]
        assert [i["key"] for i in plan["items"]] == [i["key"] for i in base["items"]]


def test_column_names_and_enum_labels_come_from_the_glossary_and_schema():
    from gateway.views.render import label_of

    for columns in (hotline.COLUMNS, roster.COLUMNS):
        header_index(columns)  # no two columns share a name, with or without diacritics
    # The values a cell may name are the schema's own labels (views reads them the same way).
    from adapters.cells import enum_value
    from adapters.values import enum_of
    from gateway.protocol.messages import pb

    enum = enum_of(pb.HotlineReport, "classification")
    for v in enum.values[1:]:
        vi, zh = label_of(v)
        assert enum_value(vi, enum) == enum_value(zh, enum) == v.number
    with pytest.raises(AssertionError, match="share"):
        header_index((Column("a", "sex"), Column("b", "sex")))


def test_the_roster_groups_by_handover_and_links_minors_to_their_adult(capsys):
    code, plan, err = dry(capsys, "roster", EXAMPLES / "roster.csv")
    assert code == 0, err
    assert [i["rows"] for i in plan["items"]] == [[2, 3, 4], [5]]
    notice = plan["items"][0]["payload"]["body"]
    assert notice["step"] == "REPATRIATION_STEP_PROPOSAL"
    assert notice["border_gate"]["zh"] == "老街国际口岸 / 河口口岸"
    persons = notice["persons"]
    assert [p["person"]["name"]["full_name"] for p in persons] == [
        "Giàng Thị Mai", "Sùng Thị Ly", "Sùng A Dính"]
    mother, child = persons[1], persons[2]
    assert child["is_minor"] and not mother.get("is_minor")
    assert child["person"]["relatives"] == [{"name": mother["person"]["name"],
                                             "relationship": "RELATIONSHIP_MOTHER"}]
    assert mother["person"]["relatives"] == [{"name": child["person"]["name"],
                                              "relationship": "RELATIONSHIP_CHILD"}]
    assert child["health"] == "HEALTH_STATUS_NEEDS_CARE"
    assert child["person"]["documents"][0]["type"] == "ID_DOCUMENT_TYPE_BIRTH_CERTIFICATE"
    assert plan["items"][0]["key"] != plan["items"][1]["key"]
    code, out, _ = run(capsys, "roster", EXAMPLES / "roster.csv", "--to", HEKOU, "--dry-run")
    assert "Sùng A Dính (Sùng Thị Ly: Mẹ) / Sùng A Dính (Sùng Thị Ly: 母亲)" in out


def test_the_example_xlsx_is_the_csv(capsys):
    _, from_csv, _ = dry(capsys, "roster", EXAMPLES / "roster.csv")
    code, from_xlsx, err = dry(capsys, "roster", EXAMPLES / "roster.xlsx")
    assert code == 0, err
    assert from_xlsx["items"] == from_csv["items"]


def test_a_roster_without_a_recipient_is_refused(capsys):
    code, _, err = run(capsys, "roster", EXAMPLES / "roster.csv", "--dry-run", "--lang", "zh")
    assert code == 2 and err.startswith("error BAD_CONFIG") and "--to" in err


# ------------------------------------------------------------------------------ bad files

def test_wrong_encoding_names_the_file_byte_and_line(capsys, tmp_path):
    text = (EXAMPLES / "hotline.csv").read_text(encoding="utf-8")
    cp = tmp_path / "windows-1258.csv"
    cp.write_bytes(text.encode("cp1258", errors="replace"))
    code, out, err = run(capsys, "hotline", cp, "--dry-run", "--lang", "vi")
    assert code == 2 and out == ""
    assert err.startswith("error BAD_IMPORT_FILE: windows-1258.csv: không phải UTF-8 ở byte ")
    raw = cp.read_bytes()
    offset = int(err.split("byte ")[1].split()[0])
    assert raw[offset] >= 0x80
    line = raw[:offset].count(b"\n") + 1
    assert f"(dòng {line})" in err
    # A bad byte further down: its line is named (here the third line), in Chinese.
    mixed = tmp_path / "mixed.csv"
    lines = text.encode("utf-8").split(b"\n")
    lines[2] = lines[2].replace("Lý".encode(), b"L\xfd")
    mixed.write_bytes(b"\n".join(lines))
    code, _, err = run(capsys, "hotline", mixed, "--dry-run", "--lang", "zh")
    assert code == 2 and "mixed.csv" in err and "（第 3 行）不是 UTF-8" in err
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(text.encode("utf-16"))
    code, _, err = run(capsys, "hotline", utf16, "--dry-run")
    assert code == 2 and "error BAD_IMPORT_FILE" in err and "byte 0" in err


def test_a_missing_column_is_named_in_the_users_language(capsys, tmp_path):
    rows = rows_of(EXAMPLES / "hotline.csv")
    drop = rows[0].index("Nội dung tin báo")
    path = write_csv(tmp_path / "no-facts.csv", [r[:drop] + r[drop + 1:] for r in rows])
    code, _, err = run(capsys, "hotline", path, "--dry-run", "--lang", "vi")
    assert code == 2 and err.startswith("error BAD_IMPORT_FILE: no-facts.csv: thiếu cột bắt")
    assert "Nội dung tin báo (facts)" in err
    code, _, err = run(capsys, "hotline", path, "--dry-run", "--lang", "zh")
    assert "缺少必填列：举报内容 (facts)" in err
    twice = write_csv(tmp_path / "twice.csv", [rows[0] + ["facts"], *([*r, "x"] for r in
                                                                      rows[1:])])
    code, _, err = run(capsys, "hotline", twice, "--dry-run", "--lang", "vi")
    assert code == 2 and "xuất hiện hai lần" in err


def test_bad_dates_are_reported_by_row_column_and_reason(capsys, tmp_path):
    rows = rows_of(EXAMPLES / "hotline.csv")
    col = "Thời điểm tiếp nhận"
    rows = edited(rows, 1, col, "2026-03-02 09:40")           # no zone
    rows = edited(rows, 2, col, "2026-02-30 10:00 +07:00")    # no such day
    rows = edited(rows, 3, col, "31/04/2026 25:10 +07:00")    # nor such an hour
    path = write_csv(tmp_path / "dates.csv", rows)
    code, plan, err = dry(capsys, "hotline", path, "--lang", "vi")
    assert code == 1 and "error BAD_IMPORT_ROWS" in err and plan["items"] == []
    got = {(p["row"], p["column"], p["code"]) for p in plan["problems"]}
    assert got >= {(2, "received_at", "NO_TIME_ZONE"), (3, "received_at", "IMPOSSIBLE_DATE"),
                   (4, "received_at", "IMPOSSIBLE_DATE")}
    reason = next(p["reason"] for p in plan["problems"] if p["row"] == 2)
    assert reason.startswith("Dòng 2, Thời điểm tiếp nhận (received_at): thời điểm không ghi")
    code, out, _ = run(capsys, "hotline", path, "--to", HEKOU, "--dry-run", "--lang", "zh")
    assert "第 3 行, 接收时间 (received_at): 日期或时间不存在" in out
    assert "2026-02-30" not in out  # a cell is never echoed
    # --zone: a time written without one is read in that zone (and only such a time).
    _, plan, _ = dry(capsys, "hotline", path, "--zone", "Asia/Ho_Chi_Minh")
    assert [p["row"] for p in plan["problems"]] == [3, 4]
    t = plan["items"][0]["payload"]["body"]["received_at"]
    assert t["utc_offset_minutes"] == 420
    for bad, code_ in (("next year", "BAD_DATE"), ("2030-01-01 10:00 +07:00", "IN_THE_FUTURE"),
                       ("2026-03-02 09:40 +15:00", "BAD_TIME_ZONE"),
                       ("2026-03-02 09:40 Mars/Olympus", "BAD_TIME_ZONE")):
        path = write_csv(tmp_path / "d.csv", edited(rows_of(EXAMPLES / "hotline.csv"), 1, col,
                                                    bad))
        _, plan, _ = dry(capsys, "hotline", path)
        assert (2, "received_at", code_) in {(p["row"], p["column"], p["code"])
                                             for p in plan["problems"]}, bad


def test_duplicate_rows_are_reported_and_other_cells_too(capsys, tmp_path):
    rows = rows_of(EXAMPLES / "hotline.csv")
    again = edited(rows, 2, "Mã cuộc gọi", "DT-2026-000101")   # another call, same id
    no_ids = [r[1:] for r in rows]                              # no id column: by content
    path = write_csv(tmp_path / "dup.csv", [*again, rows[1]])
    code, plan, _ = dry(capsys, "hotline", path, "--lang", "vi")
    got = {(p["row"], p["column"], p["code"], p["ref"]) for p in plan["problems"]}
    assert (3, "call_id", "DUPLICATE_ID", "2") in got
    assert (5, "", "DUPLICATE_ROW", "2") in got
    path = write_csv(tmp_path / "dup2.csv", [*no_ids, no_ids[1]])
    _, plan, _ = dry(capsys, "hotline", path)
    assert {(p["row"], p["code"], p["ref"]) for p in plan["problems"]} >= {
        (5, "DUPLICATE_ROW", "2")}
    assert plan["items"][0]["key"] != plan["items"][1]["key"]
    # Several faults of one row are each told; and an extra cell, an unknown value.
    rows2 = edited(edited(rows, 1, "Giới tính", "robot"), 1, "Tuổi ước tính", "19 tuổi")
    rows2 = edited(rows2, 1, "Ẩn danh", "có")  # anonymous, yet a name and phone
    rows2[2].append("thừa")
    _, plan, _ = dry(capsys, "hotline", write_csv(tmp_path / "many.csv", rows2))
    got = {(p["row"], p["column"], p["code"]) for p in plan["problems"]}
    assert got >= {(2, "sex", "UNKNOWN_VALUE"), (2, "approximate_age", "BAD_NUMBER"),
                   (2, "anonymous", "ANONYMOUS_WITH_NAME"), (3, "", "EXTRA_CELLS")}


def test_bad_json_files(capsys, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"call_id": "x",\n  "facts": }\n]', encoding="utf-8")
    code, _, err = run(capsys, "hotline", broken, "--dry-run", "--lang", "vi")
    assert code == 2 and "broken.json: không phải JSON hợp lệ (dòng 3, cột 12)" in err
    for doc in ('{"call_id": "x"}', "[[1, 2]]", '[{"facts": {"vi": "x"}}]' * 1,
                "[" * 40 + "]" * 40):
        p = tmp_path / "shape.json"
        p.write_text(doc, encoding="utf-8")
        code, out, err = run(capsys, "hotline", p, "--dry-run", "--to", HEKOU)
        assert code in (1, 2) and ("BAD_IMPORT_FILE" in err or "BAD_IMPORT_ROWS" in err), doc


def test_unknown_format_too_large_and_too_many_rows(capsys, tmp_path, monkeypatch):
    odd = tmp_path / "calls.ods"
    odd.write_bytes(b"PK")
    code, _, err = run(capsys, "hotline", odd, "--dry-run")
    assert code == 2 and "BAD_IMPORT_FILE" in err and ".xlsx" in err
    from adapters import table

    monkeypatch.setattr(table, "MAX_FILE_BYTES", 1000)
    code, _, err = run(capsys, "hotline", EXAMPLES / "hotline.csv", "--dry-run", "--lang", "vi")
    assert code == 2 and "tệp quá lớn" in err
    monkeypatch.setattr(table, "MAX_FILE_BYTES", 10**8)
    monkeypatch.setattr(table, "MAX_ROWS", 2)
    code, _, err = run(capsys, "hotline", EXAMPLES / "hotline.csv", "--dry-run", "--lang", "vi")
    assert code == 2 and "quá nhiều dòng (tối đa 2)" in err
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip")
    code, _, err = run(capsys, "roster", fake, "--to", HEKOU, "--dry-run", "--lang", "vi")
    assert code == 2 and "fake.xlsx: không phải tệp XLSX" in err


def _roster_rows() -> list[list[str]]:
    return rows_of(EXAMPLES / "roster.csv")


def test_a_minor_without_an_adult_holds_back_only_that_handover(capsys, tmp_path):
    rows = edited(_roster_rows(), 3, "Đi cùng người lớn (mã dòng)", "BP-99")
    code, plan, err = dry(capsys, "roster", write_csv(tmp_path / "r.csv", rows), "--lang", "vi")
    assert code == 1 and "BAD_IMPORT_ROWS" in err
    got = {(p["row"], p["column"], p["code"], p["ref"]) for p in plan["problems"]}
    assert (4, "accompanies", "MINOR_WITHOUT_ADULT", "") in got
    # Rows 2 and 3 are good but travel in the same handover: held back, not sent without her.
    assert (2, "", "GROUP_HAS_BAD_ROW", "4") in got and (3, "", "GROUP_HAS_BAD_ROW", "4") in got
    assert [i["rows"] for i in plan["items"]] == [[5]]


def test_roster_faults_of_minors_and_of_one_handover(capsys, tmp_path):
    base = _roster_rows()
    cases = [
        (edited(base, 3, "Đi cùng người lớn (mã dòng)", "BP-04"), (4, "accompanies",
                                                                    "ADULT_ELSEWHERE")),
        (edited(base, 2, "Đi cùng người lớn (mã dòng)", "BP-03"), (3, "accompanies",
                                                                    "ADULT_IS_MINOR")),
        (edited(base, 3, "Ngày sinh", "1990-01-15"), (4, "is_minor", "MINOR_AGE_DIFFERS")),
        (edited(base, 2, "Vị trí bàn giao", "Cổng phụ"), (3, "handover_point", "GROUP_DIFFERS")),
        (edited(base, 2, "Mã dòng", "BP-01"), (3, "row_id", "DUPLICATE_ID")),
        (edited(base, 1, "Số giấy tờ", "X1"), None),
        (edited(base, 2, "Loại giấy tờ", ""), (3, "document_type", "MISSING_VALUE")),
        (edited(base, 4, "Thời gian đề xuất", "2026-03-09 09:00"), (5, "handover_at",
                                                                    "NO_TIME_ZONE")),
    ]
    for rows, want in cases:
        _, plan, _ = dry(capsys, "roster", write_csv(tmp_path / "r.csv", rows))
        got = {(p["row"], p["column"], p["code"]) for p in plan["problems"]}
        if want is None:
            continue
        assert want in got, (want, got)
    # A row whose handover is readable but is bad otherwise holds its handover back.
    rows = edited(base, 1, "Giới tính", "?")
    _, plan, _ = dry(capsys, "roster", write_csv(tmp_path / "r.csv", rows))
    assert [i["rows"] for i in plan["items"]] == [[5]]


def test_xlsx_dates_and_times_without_zone(capsys, tmp_path):
    rows = _roster_rows()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(rows[0])
    handover = rows[0].index("Thời gian đề xuất")
    for r in rows[1:]:
        cells: list[object] = list(r)
        cells[handover] = datetime.datetime.fromisoformat(r[handover][:16])  # a date cell
        sheet.append(cells)
    path = tmp_path / "roster.xlsx"
    book.save(path)
    code, plan, _ = dry(capsys, "roster", path)
    assert code == 1 and {p["code"] for p in plan["problems"]} == {"NO_TIME_ZONE"}
    code, plan, _ = dry(capsys, "roster", path, "--zone", "Asia/Ho_Chi_Minh")
    assert code == 0
    _, from_csv, _ = dry(capsys, "roster", EXAMPLES / "roster.csv")
    assert plan["items"] == from_csv["items"]


def test_a_generated_call_log_reads_every_row(capsys, tmp_path):
    """The bench's generator (bench/bench_import.py makes the 50,000-row file): 300 rows."""
    path = bench.make_hotline_csv(tmp_path / "calls.csv", 300)
    code, plan, err = dry(capsys, "hotline", path)
    assert code == 0, err
    assert len(plan["items"]) == 300 and len({i["key"] for i in plan["items"]}) == 300


def test_the_readme_documents_every_column_and_the_listed_values_are_accepted():
    from adapters.cells import enum_value
    from adapters.values import enum_of
    from gateway.protocol.messages import pb

    readme = (ROOT / "adapters" / "README.md").read_text(encoding="utf-8")
    for columns in (hotline.COLUMNS, roster.COLUMNS):
        for c in columns:
            t = term(c.term)
            assert f"| `{c.key}` | {t.vi} | {t.zh} | {'yes' if c.required else ''} |" in readme
    for field, values in (((pb.Person, "ethnicity"), ["Kinh", "H'Mông", "Hà Nhì", "Han"]),
                          ((pb.IdDocument, "type"), ["Căn cước công dân", "vn_citizen_id",
                                                     "passport", "border pass"]),
                          ((pb.MessageContext, "handling_code"), ["h0", "H3"]),
                          ((pb.Relative, "relationship"), ["mother", "guardian", "Mẹ"])):
        for v in values:
            assert enum_value(v, enum_of(*field)) > 0, v
