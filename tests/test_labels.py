"""Every schema element carries both labels, and every label comes from the glossary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FileDescriptor

from gateway.protocol.glossary import load_glossary
from gateway.schemas.blo.v1 import (
    common_pb2,
    directory_pb2,
    envelope_pb2,
    options_pb2,
    payloads_pb2,
)

ROOT = Path(__file__).resolve().parent.parent
FILES: list[FileDescriptor] = [m.DESCRIPTOR for m in
                               (options_pb2, common_pb2, payloads_pb2, envelope_pb2, directory_pb2)]


def _elements():
    """(kind, full name, options, extension) for every labelled element of blo.v1."""
    def walk_enum(e):
        yield "enum", e.full_name, e.GetOptions(), options_pb2.enum_label
        for v in e.values:
            yield "enum value", f"{e.full_name}.{v.name}", v.GetOptions(), options_pb2.value_label

    def walk_msg(m):
        yield "message", m.full_name, m.GetOptions(), options_pb2.message_label
        for f in m.fields:
            yield "field", f.full_name, f.GetOptions(), options_pb2.field_label
        for o in m.oneofs:
            yield "oneof", o.full_name, o.GetOptions(), options_pb2.oneof_label
        for e in m.enum_types:
            yield from walk_enum(e)
        for n in m.nested_types:
            yield from walk_msg(n)

    for fd in FILES:
        for m in fd.message_types_by_name.values():
            yield from walk_msg(m)
        for e in fd.enum_types_by_name.values():
            yield from walk_enum(e)


def test_every_message_field_and_enum_value_has_vi_and_zh_labels():
    elements = list(_elements())
    assert len(elements) > 300  # the walk really reached the schemas
    missing = [f"{kind} {name}" for kind, name, opts, ext in elements
               if not (opts.Extensions[ext].vi.strip() and opts.Extensions[ext].zh.strip())]
    assert not missing, "lacking a vi or zh label:\n" + "\n".join(missing)


def test_labels_equal_their_glossary_terms():
    glossary = load_glossary(ROOT / "gateway" / "protocol" / "glossary.tsv")
    wrong = []
    for kind, name, opts, ext in _elements():
        lab = opts.Extensions[ext]
        t = glossary.get(lab.term)
        if t is None or (t.vi, t.zh) != (lab.vi, lab.zh):
            wrong.append(f"{kind} {name}: term {lab.term!r}")
    assert not wrong, "\n".join(wrong)


def test_chinese_labels_are_chinese_and_vietnamese_labels_are_not():
    han = re.compile(r"[\u4e00-\u9fff]")
    glossary = load_glossary(ROOT / "gateway" / "protocol" / "glossary.tsv")
    for t in glossary.values():
        if t.key.startswith(("alg.", "handling.")):
            continue  # algorithm names and H0-H3 codes are shared
        assert not han.search(t.vi), t.key
        assert han.search(t.zh) or t.zh.isascii(), t.key


def test_glossary_rejects_a_control_character_and_an_unclosed_quote(tmp_path):
    p = tmp_path / "g.tsv"
    for row, says in (("x\ta\x07b\tb\tc", "control character"),
                      ('x\t"a\tb\tc\ny\ta\tb\tc', "unclosed quote")):
        p.write_text(f"term\tvi\tzh\ten\n{row}\n", encoding="utf-8")
        with pytest.raises(ValueError, match=says):
            load_glossary(p)


def test_glossary_rejects_a_duplicate_term(tmp_path):
    p = tmp_path / "g.tsv"
    p.write_text("term\tvi\tzh\ten\nx\ta\tb\tc\nx\ta\tb\tc\n", encoding="utf-8")
    try:
        load_glossary(p)
    except ValueError as e:
        assert "twice" in str(e)
    else:
        raise AssertionError("duplicate accepted")


def test_generated_code_and_labels_match_the_schemas_and_glossary():
    """Fails when someone edits a .proto or the glossary without running tools/regen.py."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "regen.py"), "--check"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_regen_check_detects_drift(tmp_path, monkeypatch):
    """The drift check itself can fail: a changed glossary label is reported."""
    sys.path.insert(0, str(ROOT / "tools"))
    import regen  # type: ignore[import-not-found]

    g = tmp_path / "glossary.tsv"
    text = (ROOT / "gateway" / "protocol" / "glossary.tsv").read_text(encoding="utf-8")
    g.write_text(text.replace("Hỏa tốc", "Thượng khẩn"), encoding="utf-8")
    monkeypatch.setattr(regen, "GLOSSARY", g)
    assert regen.main(["--check"]) == 1


def test_handlers_never_import_generated_modules():
    allowed = {"messages.py", "identity.py", "rootset.py", "envelope.py", "receipt.py",
               "render.py"}
    offenders = []
    for p in (ROOT / "gateway").rglob("*.py"):
        if "schemas" in p.parts or p.name in allowed:
            continue
        if "_pb2" in p.read_text(encoding="utf-8"):
            offenders.append(str(p.relative_to(ROOT)))
    assert not offenders, offenders


def _regen():
    sys.path.insert(0, str(ROOT / "tools"))
    import regen  # type: ignore[import-not-found]

    return regen


TRICKY = {  # term -> (vi, zh): quotes, tabs, backslashes, a doubled quote
    "priority.urgent": ('Hỏa tốc "khẩn"\tcấp \\ 1', '特急“紧急” "引号"\t制表 \\反斜杠\\'),
    "office_name": ('Tên "cơ quan" \\"', '单位名称\\t（字面）""'),
    "key_id": ("Mã\\n khóa", "密钥\\标识\t\t标识"),
}


def test_labels_with_quotes_tabs_and_backslashes_round_trip_through_regen(tmp_path):
    """Through the glossary file (csv) and regen into a temporary copy of the schemas: every
    label in the compiled descriptors equals the glossary, byte for byte."""
    import dataclasses
    import shutil

    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    from gateway.protocol.glossary import dump_glossary, preamble_of

    regen = _regen()
    text = (ROOT / "gateway" / "protocol" / "glossary.tsv").read_text(encoding="utf-8")
    terms = load_glossary(ROOT / "gateway" / "protocol" / "glossary.tsv")
    for key, (vi, zh) in TRICKY.items():
        terms[key] = dataclasses.replace(terms[key], vi=vi, zh=zh)
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text(dump_glossary(terms, preamble_of(text)), encoding="utf-8")
    assert load_glossary(glossary) == terms  # the csv file itself round-trips
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    out = tmp_path / "out"
    args = ["--glossary", str(glossary), "--schemas", str(schemas), "--out", str(out)]
    assert regen.main(args) == 0
    assert regen.main([*args, "--check"]) == 0  # and a second run finds nothing to change
    assert (out / "blo" / "v1" / "common_pb2.py").exists()

    from importlib import resources

    import grpc_tools

    include = str(resources.files(grpc_tools) / "_proto")
    protos = sorted(str(p.relative_to(schemas)) for p in (schemas / "blo" / "v1").glob("*.proto"))
    fds_path = tmp_path / "set.pb"
    assert protoc.main(["protoc", f"-I{schemas}", f"-I{include}",
                        f"--descriptor_set_out={fds_path}", *protos]) == 0
    fds = descriptor_pb2.FileDescriptorSet.FromString(fds_path.read_bytes())
    seen: dict[str, tuple[str, str]] = {}

    def note(opts, ext):
        lab = opts.Extensions[ext]
        if lab.term:
            seen.setdefault(lab.term, (lab.vi, lab.zh))
            assert (lab.vi, lab.zh) == (terms[lab.term].vi, terms[lab.term].zh), lab.term

    def walk(m):
        note(m.options, options_pb2.message_label)
        for f in m.field:
            note(f.options, options_pb2.field_label)
        for e in m.enum_type:
            walk_enum(e)
        for n in m.nested_type:
            walk(n)

    def walk_enum(e):
        note(e.options, options_pb2.enum_label)
        for v in e.value:
            note(v.options, options_pb2.value_label)

    for f in fds.file:
        for m in f.message_type:
            walk(m)
        for e in f.enum_type:
            walk_enum(e)
    for key, pair in TRICKY.items():
        assert seen[key] == pair, key


def test_glossary_saved_by_a_spreadsheet_with_every_cell_quoted(tmp_path):
    """A spreadsheet export quotes cells; the csv reader takes it, and regen writes the
    canonical form back (``--check`` reports the difference first)."""
    import csv
    import io
    import shutil

    regen = _regen()
    src = ROOT / "gateway" / "protocol" / "glossary.tsv"
    text = src.read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    g = tmp_path / "glossary.tsv"
    g.write_text(buf.getvalue().replace('"Hỏa tốc"', '"Hỏa ""tốc"""'), encoding="utf-8")
    assert load_glossary(g)["priority.urgent"].vi == 'Hỏa "tốc"'
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    args = ["--glossary", str(g), "--schemas", str(schemas), "--out", str(tmp_path / "out")]
    assert regen.main([*args, "--check"]) == 1
    assert regen.main(args) == 0
    assert g.read_text(encoding="utf-8").splitlines()[0] == "term\tvi\tzh\ten\treview"
    assert 'priority.urgent\t"Hỏa ""tốc"""\t特急\turgent' in g.read_text(encoding="utf-8")
    assert 'vi: "Hỏa \\"tốc\\"" zh: "特急"' in (schemas / "blo" / "v1" / "common.proto").read_text(
        encoding="utf-8")


def test_the_glossary_file_is_in_canonical_csv_form():
    from gateway.protocol.glossary import dump_glossary, preamble_of

    text = (ROOT / "gateway" / "protocol" / "glossary.tsv").read_text(encoding="utf-8")
    assert dump_glossary(load_glossary(ROOT / "gateway" / "protocol" / "glossary.tsv"),
                         preamble_of(text)) == text
