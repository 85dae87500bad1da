"""Compose forms generated from the protobuf descriptors and their labels.

Nothing here knows a payload type: ``build`` walks a message descriptor and yields a tree
of ``Node``s (nested messages become fieldsets, repeated fields lists with add/remove
buttons, enums selects labelled in the viewer's language with the other language as a
hint, ``ZonedTime`` a local date-time with a named zone, ``PartialDate`` year/month/day),
and ``parse`` reads the posted form back into the message, collecting an error per field
path instead of stopping at the first. A form re-rendered after an error shows every value
as typed. Input names are field paths (``person.name.full_name``, ``person.aliases.0.latin``;
``<path>._n`` holds how many items a repeated field shows); bytes fields (attachments,
signatures) are not typed in a form and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from gateway.protocol.glossary import term
from gateway.protocol.messages import PbMessage
from gateway.views.render import label_of

__all__ = ["MAX_ITEMS", "REQUIRED", "ZONES", "FormValues", "Node", "build", "parse",
           "values_of"]

MAX_ITEMS = 20
MAX_TEXT = 4000
#: the zones a time can be entered in (the two offices' own, and UTC)
ZONES = ("Asia/Ho_Chi_Minh", "Asia/Shanghai", "UTC")
#: field paths that must be filled, by body message name ("*": every type)
REQUIRED: dict[str, tuple[str, ...]] = {
    "*": ("context.case_reference",),
    "VictimIdentificationRequest": ("kind", "person.name.full_name"),
}
_UINT_MAX = {FieldDescriptor.TYPE_UINT32: 2**32 - 1, FieldDescriptor.TYPE_UINT64: 2**63 - 1,
             FieldDescriptor.TYPE_INT32: 2**31 - 1, FieldDescriptor.TYPE_INT64: 2**63 - 1,
             FieldDescriptor.TYPE_SINT32: 2**31 - 1, FieldDescriptor.TYPE_SINT64: 2**63 - 1}
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
FormValues = Mapping[str, list[str]]


@dataclass
class Node:
    """One element of a generated form, labelled in the viewer's language."""

    kind: str  # text | number | bool | enum | enum_multi | zoned_time | partial_date
    #          | group | list (repeated message or string: ``items``)
    path: str
    label: str
    hint: str = ""  # the label in the other language
    required: bool = False
    value: str = ""
    values: list[str] = field(default_factory=list)
    zone: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    error: str = ""


def _labels(desc: Any, lang: str) -> tuple[str, str]:
    vi, zh = label_of(desc)
    return (vi, zh) if lang == "vi" else (zh, vi)


def _required(body: Descriptor) -> frozenset[str]:
    return frozenset(REQUIRED["*"] + REQUIRED.get(body.name, ()))


def build(body: Descriptor, values: FormValues, errors: Mapping[str, str], lang: str,
          zone: str) -> list[Node]:
    """The form for a body message: values as typed (or pre-filled), errors beside fields."""
    return _build(body, "", values, errors, lang, zone, _required(body))


def _first(values: FormValues, key: str) -> str:
    got = values.get(key)
    return got[0] if got else ""


def _count(values: FormValues, path: str) -> int:
    n = _first(values, path + "._n")
    return min(int(n), MAX_ITEMS) if n.isascii() and n.isdigit() else 0


def _build(desc: Descriptor, prefix: str, values: FormValues, errors: Mapping[str, str],
           lang: str, zone: str, required: frozenset[str]) -> list[Node]:
    out = []
    for f in desc.fields:
        if f.type == FieldDescriptor.TYPE_BYTES:
            continue
        path = prefix + f.name
        label, hint = _labels(f, lang)
        node = Node("text", path, label, hint, path in required, error=errors.get(path, ""))
        msg = f.message_type
        if f.is_repeated and (msg is not None or f.type == FieldDescriptor.TYPE_STRING):
            node.kind = "list"
            for i in range(_count(values, path)):
                ipath = f"{path}.{i}"
                if msg is not None:
                    item = Node("group", ipath, f"{label} {i + 1}", f"{hint} {i + 1}",
                                error=errors.get(ipath, ""))
                    item.children = _leaf_or_group(msg, ipath, values, errors, lang, zone,
                                                   required)
                else:
                    item = Node("text", ipath, f"{label} {i + 1}", f"{hint} {i + 1}",
                                value=_first(values, ipath), error=errors.get(ipath, ""))
                node.items.append(item)
        elif f.type == FieldDescriptor.TYPE_ENUM:
            assert f.enum_type is not None
            node.kind = "enum_multi" if f.is_repeated else "enum"
            for ev in f.enum_type.values:
                a, b = _labels(ev, lang)
                text = "—" if ev.number == 0 else f"{a} ({b})"
                if ev.number or not f.is_repeated:
                    node.options.append((str(ev.number), text))
            node.values = list(values.get(path, []))
            node.value = _first(values, path)
        elif msg is not None:
            node.kind = "group"
            node.children = _leaf_or_group(msg, path + ".", values, errors, lang, zone,
                                           required)
            if msg.full_name == "blo.v1.ZonedTime":
                node.kind, node.children = "zoned_time", []
                node.value = _first(values, path + ".local")
                node.zone = _first(values, path + ".zone") or zone
                node.options = [(z, z) for z in ZONES]
            elif msg.full_name == "blo.v1.PartialDate":
                node.kind = "partial_date"
        elif f.type == FieldDescriptor.TYPE_BOOL:
            node.kind, node.value = "bool", _first(values, path)
        elif f.type in _UINT_MAX:
            node.kind, node.value = "number", _first(values, path)
        else:
            node.value = _first(values, path)
        out.append(node)
    return out


def _leaf_or_group(msg: Descriptor, path: str, values: FormValues, errors: Mapping[str, str],
                   lang: str, zone: str, required: frozenset[str]) -> list[Node]:
    prefix = path if path.endswith(".") else path + "."
    return _build(msg, prefix, values, errors, lang, zone, required)


# ---------------------------------------------------------------------- pre-filling

_OFFSET_ZONE = {420: "Asia/Ho_Chi_Minh", 480: "Asia/Shanghai", 0: "UTC"}


def values_of(message: PbMessage, zone: str) -> dict[str, list[str]]:
    """The form values that show ``message`` (what ``parse`` reads back into it): to pre-fill
    a form from a message, e.g. a handover record from the agreed plan. A time is shown in
    the zone of its own offset where that is one of ``ZONES``, else in ``zone``."""
    out: dict[str, list[str]] = {}
    _values_of(message, "", out, zone)
    return out


def _values_of(msg: Any, prefix: str, out: dict[str, list[str]], zone: str) -> None:
    for f, value in msg.ListFields():
        if f.type == FieldDescriptor.TYPE_BYTES:
            continue
        path = prefix + f.name
        if f.is_repeated and (f.message_type is not None
                              or f.type == FieldDescriptor.TYPE_STRING):
            items = list(value)[:MAX_ITEMS]
            out[path + "._n"] = [str(len(items))]
            for i, item in enumerate(items):
                if f.message_type is not None:
                    _message_values(item, f"{path}.{i}", out, zone)
                else:
                    out[f"{path}.{i}"] = [item]
        elif f.type == FieldDescriptor.TYPE_ENUM:
            out[path] = [str(v) for v in value] if f.is_repeated else [str(value)]
        elif f.message_type is not None:
            _message_values(value, path, out, zone)
        elif f.type == FieldDescriptor.TYPE_BOOL:
            out[path] = ["1"] if value else []
        else:
            out[path] = [str(value)]


def _message_values(msg: Any, path: str, out: dict[str, list[str]], zone: str) -> None:
    if msg.DESCRIPTOR.full_name == "blo.v1.ZonedTime":
        name = _OFFSET_ZONE.get(msg.utc_offset_minutes, zone if zone in ZONES else "UTC")
        t = datetime.fromtimestamp(msg.unix_millis / 1000, tz=ZoneInfo(name))
        out[path + ".local"] = [f"{t:%Y-%m-%dT%H:%M}"]
        out[path + ".zone"] = [name]
        return
    _values_of(msg, path + ".", out, zone)


# ---------------------------------------------------------------------- parsing

def parse(message: PbMessage, values: FormValues, lang: str) -> dict[str, str]:
    """Fill ``message`` (an empty body) from the form; returns {field path: error} in
    ``lang`` (empty: the message is complete)."""
    errors: dict[str, str] = {}
    _parse(message, "", values, errors, lang)
    desc: Any = message.DESCRIPTOR
    for path in sorted(_required(desc)):
        if not _has(message, path.split(".")):
            errors.setdefault(path, term("web.required").text(lang))
    return errors


def _has(msg: Any, parts: list[str]) -> bool:
    head, rest = parts[0], parts[1:]
    f = msg.DESCRIPTOR.fields_by_name[head]
    if f.message_type is not None and not f.is_repeated:
        return msg.HasField(head) and (not rest or _has(getattr(msg, head), rest))
    value = getattr(msg, head)
    return bool(value)


def _parse(msg: Any, prefix: str, values: FormValues, errors: dict[str, str],
           lang: str) -> None:
    for f in msg.DESCRIPTOR.fields:
        if f.type == FieldDescriptor.TYPE_BYTES:
            continue
        path = prefix + f.name
        sub = f.message_type
        if f.is_repeated and sub is not None:
            target = getattr(msg, f.name)
            for i in range(_count(values, path)):
                item = target.add()
                _parse_message(item, f"{path}.{i}", values, errors, lang)
                if item.ByteSize() == 0:
                    del target[-1]
        elif f.is_repeated and f.type == FieldDescriptor.TYPE_STRING:
            for i in range(_count(values, path)):
                text = _text(_first(values, f"{path}.{i}"), f"{path}.{i}", errors, lang)
                if text:
                    getattr(msg, f.name).append(text)
        elif f.type == FieldDescriptor.TYPE_ENUM:
            assert f.enum_type is not None
            chosen = values.get(path, []) if f.is_repeated else [_first(values, path)]
            numbers = []
            for raw in chosen:
                if raw in ("", "0"):
                    continue
                if not (raw.isascii() and raw.isdigit()
                        and int(raw) in f.enum_type.values_by_number):
                    errors[path] = term("web.bad_choice").text(lang)
                    break
                numbers.append(int(raw))
            if f.is_repeated:
                getattr(msg, f.name).extend(dict.fromkeys(numbers))
            elif numbers:
                setattr(msg, f.name, numbers[0])
        elif sub is not None:
            _parse_message(getattr(msg, f.name), path, values, errors, lang)
        elif f.type == FieldDescriptor.TYPE_BOOL:
            if _first(values, path) in ("1", "on", "true"):
                setattr(msg, f.name, True)
        elif f.type in _UINT_MAX:
            raw = _first(values, path).strip()
            if raw:
                if not (raw.isascii() and raw.isdigit() and int(raw) <= _UINT_MAX[f.type]):
                    errors[path] = term("web.bad_number").text(lang)
                else:
                    setattr(msg, f.name, int(raw))
        else:
            text = _text(_first(values, path), path, errors, lang)
            if text:
                setattr(msg, f.name, text)


def _text(raw: str, path: str, errors: dict[str, str], lang: str) -> str:
    text = raw.strip().replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        errors[path] = term("web.too_long").text(lang)
        return ""
    return text


def _parse_message(msg: Any, path: str, values: FormValues, errors: dict[str, str],
                   lang: str) -> None:
    name = msg.DESCRIPTOR.full_name
    if name == "blo.v1.ZonedTime":
        local, zone = _first(values, path + ".local").strip(), _first(values, path + ".zone")
        if not local:
            return
        if not _LOCAL.fullmatch(local) or zone not in ZONES:
            errors[path] = term("web.bad_date").text(lang)
            return
        try:
            t = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
        except ValueError:
            errors[path] = term("web.bad_date").text(lang)
            return
        off = t.utcoffset()
        msg.unix_millis = int(t.timestamp() * 1000)
        msg.utc_offset_minutes = int(off.total_seconds() // 60) if off else 0
        return
    _parse(msg, path + ".", values, errors, lang)
    if name == "blo.v1.PartialDate" and path + ".year" not in errors:
        y, m, d = msg.year, msg.month, msg.day
        if (m > 12 or d > 31 or (d and not m) or (m and not y)
                or (y and not 1900 <= y <= 2100)):
            errors[path] = term("web.bad_date").text(lang)
