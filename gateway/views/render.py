"""Bilingual views of payloads, driven by the schema labels.

Every label comes from the ``(blo.v1.*_label)`` options in the generated
descriptors (which come from the glossary), so a new field renders in both
languages with no code change. Names keep their own script; times render as
ISO 8601 with the zone they were recorded in; envelope header times (UTC ms) render
in the zone of each office party to the message, each zone named (``gateway.protocol.localtime``).
``lang`` is ``vi``, ``zh`` or ``both`` (two columns side by side, Vietnamese left,
Chinese right).
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.descriptor import Descriptor, EnumValueDescriptor, FieldDescriptor

from gateway.protocol.glossary import term
from gateway.protocol.localtime import DEFAULT_ZONES, iso_time, local_time, zoned_times
from gateway.protocol.messages import Payload, PbMessage
from gateway.schemas.blo.v1 import envelope_pb2, options_pb2

__all__ = ["LANGS", "Row", "format_rows", "header_rows", "iso_time", "label_of",
           "message_type_label", "render", "render_header", "rows_for"]

LANGS = ("vi", "zh", "both")
COLUMN = 58
_INLINE = {"blo.v1.LocalizedText", "blo.v1.ZonedTime", "blo.v1.PartialDate", "blo.v1.PersonName"}


@dataclass(frozen=True)
class Row:
    """One line of a rendering: a label and a value in each language."""

    depth: int
    label_vi: str
    label_zh: str
    value_vi: str = ""
    value_zh: str = ""


@functools.cache
def label_of(desc: Descriptor | FieldDescriptor | EnumValueDescriptor) -> tuple[str, str]:
    """The (vi, zh) label of a message, field or enum value descriptor (descriptors are
    fixed for the process, so each is read once)."""
    opts = desc.GetOptions()
    if isinstance(desc, FieldDescriptor):
        ext = options_pb2.field_label
    elif isinstance(desc, EnumValueDescriptor):
        ext = options_pb2.value_label
    else:
        ext = options_pb2.message_label
    lab: Any = opts.Extensions[ext]  # type: ignore[index]  # stubs miss custom options
    return lab.vi, lab.zh


def _inline(msg: PbMessage) -> tuple[str, str]:
    name = msg.DESCRIPTOR.full_name
    if name == "blo.v1.LocalizedText":
        vi, zh = msg.vi, msg.zh  # type: ignore[attr-defined]
        return (vi or f"({term('lang.zh').vi}) {zh}", zh or f"({term('lang.vi').zh}) {vi}")
    if name == "blo.v1.ZonedTime":
        s = iso_time(msg.unix_millis, msg.utc_offset_minutes)  # type: ignore[attr-defined]
        return s, s
    if name == "blo.v1.PartialDate":
        y, m, d = msg.year, msg.month, msg.day  # type: ignore[attr-defined]
        s = "-".join(p for p in (f"{y:04d}" if y else "????", f"{m:02d}" if m else "",
                                 f"{d:02d}" if d and m else "") if p)
        return s, s
    # PersonName: own script first, then the transliterations.
    extra = "; ".join(x for x in (msg.hanzi, msg.latin) if x)  # type: ignore[attr-defined]
    s = msg.full_name + (f" ({extra})" if extra else "")  # type: ignore[attr-defined]
    return s, s


def _scalar(field: FieldDescriptor, value: Any) -> tuple[str, str]:
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        ev = field.enum_type.values_by_number.get(value)
        if ev is None:
            return str(value), str(value)
        return label_of(ev)
    if field.type == FieldDescriptor.TYPE_BOOL:
        t = term("ui.yes" if value else "ui.no")
        return t.vi, t.zh
    if field.type == FieldDescriptor.TYPE_BYTES:
        s = f"<{len(value)} B, sha256 {hashlib.sha256(value).hexdigest()[:16]}…>"
        return s, s
    return str(value), str(value)


def rows_for(msg: PbMessage, depth: int = 0) -> Iterator[Row]:
    """Rows for every set field of ``msg``, in schema order."""
    for field, value in sorted(msg.ListFields(), key=lambda fv: fv[0].number):
        lvi, lzh = label_of(field)
        items: Sequence[Any] = value if _is_repeated(field) else [value]
        for i, item in enumerate(items, start=1):
            n = f" {i}" if len(items) > 1 else ""
            if field.type != FieldDescriptor.TYPE_MESSAGE:
                vvi, vzh = _scalar(field, item)
                yield Row(depth, lvi + n, lzh + n, vvi, vzh)
            elif item.DESCRIPTOR.full_name in _INLINE:
                vvi, vzh = _inline(item)
                yield Row(depth, lvi + n, lzh + n, vvi, vzh)
            else:
                yield Row(depth, lvi + n, lzh + n)
                yield from rows_for(item, depth + 1)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _wrap(s: str, width: int, indent: int) -> list[str]:
    """Split at display width, preferring spaces; continuation lines are indented.

    Linear in the length of ``s`` (a long free-text field from a peer must not cost
    quadratic time): only a window of one line is looked at per step."""
    widths = [2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s]
    suffix = [0] * (len(s) + 1)
    for i in range(len(s) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + widths[i]
    lines: list[str] = []
    prefix, pos, pad = "", 0, " " * (indent + 4)
    while _width(prefix) + suffix[pos] > width:
        cur = prefix + s[pos:pos + width + 2]
        cut, w = 0, 0
        for i, c in enumerate(cur):
            w += 2 if unicodedata.east_asian_width(c) in "WF" else 1
            if w > width:
                cut = i
                break
        space = cur.rfind(" ", indent + 1, cut)
        if space > width // 2:
            cut = space
        lines.append(cur[:cut].rstrip())
        pos += max(0, cut - len(prefix))
        while pos < len(s) and s[pos].isspace():
            pos += 1
        prefix = pad
    return [*lines, prefix + s[pos:]]


def _one(row: Row, lang: str) -> str:
    label, value = (row.label_vi, row.value_vi) if lang == "vi" else (row.label_zh, row.value_zh)
    sep = ": " if lang == "vi" else "："
    return "  " * row.depth + label + (sep + value if value else "")


def format_rows(rows: Sequence[Row], lang: str, title: tuple[str, str] | None = None) -> str:
    """Lay rows out in one language, or both side by side."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    all_rows = ([Row(0, title[0], title[1])] if title else []) + list(rows)
    if lang != "both":
        return "\n".join(_one(r, lang) for r in all_rows) + "\n"
    out = []
    for r in all_rows:
        left = _wrap(_one(r, "vi"), COLUMN, 2 * r.depth)
        right = _wrap(_one(r, "zh"), COLUMN, 2 * r.depth)
        for i in range(max(len(left), len(right))):
            lt = left[i] if i < len(left) else ""
            rt = right[i] if i < len(right) else ""
            out.append((lt + " " * (COLUMN - _width(lt)) + " │ " + rt).rstrip())
    return "\n".join(out) + "\n"


def render(payload: Payload, lang: str = "both") -> str:
    """A payload as text, labelled from the schema, in ``vi``, ``zh`` or ``both``."""
    desc: Any = payload.body.DESCRIPTOR
    title = label_of(desc)
    return format_rows(list(rows_for(payload.body)), lang, title=title)


def message_type_label(slug: str) -> tuple[str, str]:
    """(vi, zh) of a message type given as ``hotline_report`` etc."""
    value = envelope_pb2.MessageType.DESCRIPTOR.values_by_name.get(
        "MESSAGE_TYPE_" + slug.upper())
    return label_of(value) if value is not None else (slug, slug)


def _zoned(unix_millis: int, parties: Sequence[str],
           zones: Mapping[str, ZoneInfo] | None) -> tuple[str, str]:
    """Header times carry no zone: each party office's local time, the sender's first, each
    zone named. Without the parties' zones (no directory at hand) the Vietnamese column
    shows Vietnam's time and the Chinese column China's."""
    known = [zones[p] for p in parties if p in zones] if zones else []
    if not known:
        return (local_time(unix_millis, ZoneInfo(DEFAULT_ZONES["VN"])),
                local_time(unix_millis, ZoneInfo(DEFAULT_ZONES["CN"])))
    s = zoned_times(unix_millis, known)
    return s, s


def render_header(header: Any, lang: str = "both", office_names: dict[str, tuple[str, str]]
                  | None = None, zones: Mapping[str, ZoneInfo] | None = None) -> str:
    """The envelope metadata (an ``envelope.Header``) in the same layout."""
    t = term("envelope_header")
    return format_rows(header_rows(header, office_names, zones), lang, title=(t.vi, t.zh))


def header_rows(header: Any, office_names: dict[str, tuple[str, str]] | None = None,
                zones: Mapping[str, ZoneInfo] | None = None) -> list[Row]:
    """Rows for the envelope metadata (an ``envelope.Header``); ``zones`` by office id."""
    names = office_names or {}
    parties = [header.sender, *(r for r in header.recipient_offices if r != header.sender)]

    def office(oid: str) -> tuple[str, str]:
        vi, zh = names.get(oid, (oid, oid))
        return (f"{vi} ({oid})", f"{zh}（{oid}）") if oid in names else (oid, oid)

    def lab(t: str) -> tuple[str, str]:
        x = term(t)
        return x.vi, x.zh

    mt = envelope_pb2.MessageType.DESCRIPTOR.values_by_number[int(header.message_type)]
    rows = [Row(0, *lab("message_id"), header.message_id_hex, header.message_id_hex),
            Row(0, *lab("message_type"), *label_of(mt)),
            Row(0, *lab("sender"), *office(header.sender))]
    for rid in header.recipient_offices:
        if rid != header.sender:  # the sender's own copy of a record is not a recipient
            rows.append(Row(0, *lab("recipients"), *office(rid)))
    rows.append(Row(0, *lab("created_at"), *_zoned(header.created_at_ms, parties, zones)))
    for t, value in (("case_reference", header.case_reference),
                     ("in_reply_to", header.in_reply_to)):
        if value:
            rows.append(Row(0, *lab(t), value, value))
    if header.deadline_ms:
        rows.append(Row(0, *lab("deadline"), *_zoned(header.deadline_ms, parties, zones)))
    if int(header.priority):  # an unspecified priority (0) is not shown
        rows.append(Row(0, *lab("priority"),
                        *lab(f"priority.{header.priority.name.lower()}")))
    hc = {1: "h0", 2: "h1", 3: "h2", 4: "h3"}.get(int(header.handling_code))
    if hc:
        rows.append(Row(0, *lab("handling_code"), *lab(f"handling.{hc}")))
    return rows
