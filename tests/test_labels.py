"""Every schema element carries both labels, and every label comes from the glossary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from google.protobuf.descriptor import FileDescriptor

from gateway.glossary import load_glossary
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
    glossary = load_glossary(ROOT / "gateway" / "glossary.tsv")
    wrong = []
    for kind, name, opts, ext in _elements():
        lab = opts.Extensions[ext]
        t = glossary.get(lab.term)
        if t is None or (t.vi, t.zh) != (lab.vi, lab.zh):
            wrong.append(f"{kind} {name}: term {lab.term!r}")
    assert not wrong, "\n".join(wrong)


def test_chinese_labels_are_chinese_and_vietnamese_labels_are_not():
    han = re.compile(r"[\u4e00-\u9fff]")
    glossary = load_glossary(ROOT / "gateway" / "glossary.tsv")
    for t in glossary.values():
        if t.key.startswith(("alg.", "handling.")):
            continue  # algorithm names and H0-H3 codes are shared
        assert not han.search(t.vi), t.key
        assert han.search(t.zh) or t.zh.isascii(), t.key


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
    text = (ROOT / "gateway" / "glossary.tsv").read_text(encoding="utf-8")
    g.write_text(text.replace("Hỏa tốc", "Thượng khẩn"), encoding="utf-8")
    monkeypatch.setattr(regen, "GLOSSARY", g)
    assert regen.main(["--check"]) == 1


def test_handlers_never_import_generated_modules():
    allowed = {"messages.py", "identity.py", "envelope.py", "receipt.py", "render.py"}
    offenders = []
    for p in (ROOT / "gateway").rglob("*.py"):
        if "schemas" in p.parts or p.name in allowed:
            continue
        if "_pb2" in p.read_text(encoding="utf-8"):
            offenders.append(str(p.relative_to(ROOT)))
    assert not offenders, offenders
