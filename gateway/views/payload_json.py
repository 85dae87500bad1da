"""Payload JSON in the users' own terms: an example file of a payload type with every field
present (``template``), each field's path with its vi and zh label and its allowed values
(``explain``), and reading a payload JSON (``parse``) whose errors name the field by its
label in the reader's language (``lang``: vi, zh or both) instead of protobuf's English
internals (``Message type "blo.v1.CaseNotice" has no field named "summary"``).

The walk is over the descriptors and their labels, like the compose form
(``gateway.views.forms``, whose ``REQUIRED`` paths are the required fields here too), so a
new field appears in the template, the explanation and the errors with no code here.

JSON is protobuf's JSON mapping (field names as in the schema, enums by name or number),
with one addition: a ``ZonedTime`` may be written as an ISO 8601 time with its offset
(``"2026-03-04T10:40:00+08:00"``); such a time without its offset is refused, naming the
field (protobuf's own ``{"unix_millis", "utc_offset_minutes"}`` is taken as it is: there an
absent offset is UTC). A reply (``context.in_reply_to`` given) may leave out the case
reference, which the case it answers already has. Every error is ``Malformed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from gateway.protocol.errors import Malformed
from gateway.protocol.glossary import term
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.views.forms import REQUIRED
from gateway.views.render import label_of

__all__ = ["EXAMPLE_TIME", "FieldInfo", "explain", "explain_text", "parse", "parse_json",
           "template"]

#: the example time of a template (its offset is what the reader must keep)
EXAMPLE_TIME = "2026-03-04T10:40:00+07:00"
_ZONED = "blo.v1.ZonedTime"
_KINDS = {FieldDescriptor.TYPE_STRING: "text", FieldDescriptor.TYPE_BOOL: "true/false",
          FieldDescriptor.TYPE_BYTES: "base64", FieldDescriptor.TYPE_ENUM: "enum"}


@dataclass
class FieldInfo:
    """One leaf of a payload body: its JSON path (``[]`` after a list), its labels
    (the path's labels joined by " › ") and what it takes."""

    path: str
    vi: str
    zh: str
    kind: str  # text | number | true/false | base64 | enum | time
    repeated: bool = False
    required: bool = False
    values: list[tuple[str, str, str]] = field(default_factory=list)  # (name, vi, zh)


def _body(mtype: MessageType) -> Descriptor:
    desc: Any = pb.Payload.DESCRIPTOR.fields_by_name[mtype.slug].message_type
    return desc  # type: ignore[no-any-return]


def _required(body: Descriptor) -> frozenset[str]:
    return frozenset(REQUIRED["*"] + REQUIRED.get(body.name, ()))


def _walk(desc: Descriptor, prefix: str, vi: str, zh: str,
          required: frozenset[str], plain: str) -> Iterator[FieldInfo]:
    for f in desc.fields:
        fvi, fzh = label_of(f)
        path = prefix + f.name + ("[]" if f.is_repeated else "")
        pvi, pzh = (f"{vi} › {fvi}", f"{zh} › {fzh}") if vi else (fvi, fzh)
        ppath = plain + f.name
        msg = f.message_type
        if msg is not None and msg.full_name != _ZONED:
            yield from _walk(msg, path + ".", pvi, pzh, required, ppath + ".")
            continue
        kind = ("time" if msg is not None else
                _KINDS.get(f.type, "number"))
        info = FieldInfo(path, pvi, pzh, kind, f.is_repeated, ppath in required)
        if f.enum_type is not None:
            info.values = [(v.name, *label_of(v)) for v in f.enum_type.values if v.number]
        yield info


def explain(mtype: MessageType) -> list[FieldInfo]:
    """Every leaf field of ``mtype``'s body, in schema order."""
    body = _body(mtype)
    return list(_walk(body, "", "", "", _required(body), ""))


def explain_text(mtype: MessageType, lang: str) -> str:
    """``explain`` as text: one field a line (path, labels in ``lang`` first, what it takes),
    allowed enum values indented below it."""
    first = "zh" if lang == "zh" else "vi"
    vi, zh = label_of(_body(mtype))
    lines = [f"{mtype.slug}: {vi if first == 'vi' else zh} / {zh if first == 'vi' else vi}"]
    t = term
    for f in explain(mtype):
        a, b = (f.vi, f.zh) if first == "vi" else (f.zh, f.vi)
        kind = t(f"json.kind.{f.kind.replace('/', '_')}").text(first)
        flags = [kind] + ([t("json.list").text(first)] if f.repeated else []) + (
            [t("web.required").text(first)] if f.required else [])
        lines.append(f"{f.path}\t{a} / {b}\t[{', '.join(flags)}]")
        for name, v_vi, v_zh in f.values:
            x, y = (v_vi, v_zh) if first == "vi" else (v_zh, v_vi)
            lines.append(f"    {name}\t{x} / {y}")
    return "\n".join(lines) + "\n"


def _example(desc: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in desc.fields:
        msg = f.message_type
        if msg is not None:
            value: Any = EXAMPLE_TIME if msg.full_name == _ZONED else _example(msg)
        elif f.enum_type is not None:
            value = f.enum_type.values[0].name
        elif f.type == FieldDescriptor.TYPE_BOOL:
            value = False
        elif f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            value = ""
        else:
            value = 0
        out[f.name] = [value] if f.is_repeated else value
    return out


def template(mtype: MessageType) -> dict[str, Any]:
    """An example payload of ``mtype`` with every field present (a list with one item;
    enums at their "unspecified" value; times as ``EXAMPLE_TIME``)."""
    return {"type": mtype.slug, "body": _example(_body(mtype))}


# ---------------------------------------------------------------------- reading

Labels = tuple[tuple[str, str], ...]  # (vi, zh) of each step of a field's path


def _say(key: str, lang: str, where: Labels = (), **values: str) -> str:
    """The glossary's text ``key`` in ``lang`` (both: vi, then zh), ``{field}`` the path's
    labels in that language."""
    def one(lg: str) -> str:
        text = term(key).text(lg).replace("{field}", _label(where, lg))
        for k, v in values.items():
            text = text.replace("{" + k + "}", v)
        return text
    return " / ".join(one(lg) for lg in (("vi", "zh") if lang == "both" else (lang,)))


def _label(labels: Labels, lang: str) -> str:
    return " › ".join(vi if lang == "vi" else zh for vi, zh in labels) or "payload"


def _zoned(value: Any, where: tuple[tuple[str, str], ...], lang: str) -> Any:
    """A ZonedTime written as ISO 8601 with offset → protobuf's object; no zone: refused."""
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            raise Malformed(_say("json.bad_time", lang, where=where,
                                 example=EXAMPLE_TIME)) from None
        off = t.utcoffset()
        if off is None:
            raise Malformed(_say("json.no_zone", lang, where=where,
                                 example=EXAMPLE_TIME))
        return {"unix_millis": int(t.timestamp() * 1000),
                "utc_offset_minutes": int(off.total_seconds() // 60)}
    return value


def _check(desc: Descriptor, data: Any, where: tuple[tuple[str, str], ...],
           lang: str) -> Any:
    """``data`` with its times normalised; unknown fields and bad enum values refused."""
    if desc.full_name == _ZONED:
        data = _zoned(data, where, lang)
    if not isinstance(data, dict):
        if data is None:
            return data
        raise Malformed(_say("json.not_object", lang, where=where))
    out: dict[str, Any] = {}
    for key, given in data.items():
        f = desc.fields_by_name.get(key) or next(
            (x for x in desc.fields if x.json_name == key), None)
        if f is None:
            names = ", ".join(f"{x.name} ({label_of(x)[0 if lang != 'zh' else 1]})"
                              for x in desc.fields)
            raise Malformed(_say("json.unknown_field", lang, where=where,
                                 name=str(key), names=names))
        here = (*where, label_of(f))
        msg = f.message_type
        value = given
        items = value if f.is_repeated and isinstance(value, list) else None
        if f.is_repeated and items is None and value is not None:
            raise Malformed(_say("json.not_list", lang, where=here))
        if msg is not None:
            value = ([_check(msg, v, here, lang) for v in items] if items is not None
                     else _check(msg, value, here, lang))
        elif f.enum_type is not None:
            enum = f.enum_type
            for v in items if items is not None else [value]:
                if v is not None and not ((isinstance(v, str) and v in enum.values_by_name)
                                          or (isinstance(v, int) and not isinstance(v, bool)
                                              and v in enum.values_by_number)):
                    allowed = ", ".join(f"{x.name} ({label_of(x)[0 if lang != 'zh' else 1]})"
                                        for x in enum.values if x.number)
                    raise Malformed(_say("json.bad_choice", lang, where=here,
                                         value=str(v)[:40], names=allowed))
        out[key] = value
    return out


def _has(msg: Any, parts: list[str]) -> bool:
    head, rest = parts[0], parts[1:]
    f = msg.DESCRIPTOR.fields_by_name[head]
    if f.message_type is not None and not f.is_repeated:
        return bool(msg.HasField(head)) and (not rest or _has(getattr(msg, head), rest))
    return bool(getattr(msg, head))


def _labels_of(desc: Descriptor, path: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in path.split("."):
        f = desc.fields_by_name[part]
        out.append(label_of(f))
        if f.message_type is not None:
            desc = f.message_type
    return tuple(out)


def parse_json(text: str | bytes, lang: str = "both") -> Payload:
    """``parse`` of a JSON text (``Malformed`` if it is not JSON)."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise Malformed(f"not JSON: {e}") from e
    return parse(data, lang)


def parse(data: Any, lang: str = "both") -> Payload:
    """Read a payload object (``{"type": ..., "body": {...}}``); ``Malformed`` naming the
    field by its label in ``lang`` (vi, zh or both) for a wrong field name, a missing
    required field, a time without a zone, a wrong enum value or a value of another kind."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise Malformed(_say("json.no_type", lang))
    extra = sorted(set(data) - {"type", "body"})
    if extra:
        raise Malformed(_say("json.unknown_field", lang, (), name=str(extra[0])[:40],
                             names="type, body"))
    mtype = MessageType.from_slug(data["type"])
    desc = _body(mtype)
    top = (label_of(desc),)
    body = _check(desc, data.get("body") or {}, top, lang)
    message = _direct(desc, body)
    if message is None:
        message = getattr(pb, desc.name)()
        _parse_dict(body, message, mtype, top, lang)
    context = getattr(message, "context", None)
    reply = context is not None and bool(context.in_reply_to)
    for path in sorted(_required(desc) - ({"context.case_reference"} if reply else set())):
        if not _has(message, path.split(".")):
            raise Malformed(_say("json.required", lang, (*top, *_labels_of(desc, path))))
    return Payload(message)


# The fast path of ``parse``: a checked body whose every value is already of its field's
# Python type (text, true/false, a whole number or its decimal digits, an enum name or
# number, objects and lists of them) is the keyword arguments of the message's
# constructor, which builds the same message as json_format.ParseDict in less than half the
# time. Anything else (bytes in base64, a float, a null, a JSON field name) and any value
# the constructor refuses (out of range) goes to ParseDict, which decides and says why.
_NOT_DIRECT = object()
_DIGITS = re.compile(r"-?[0-9]{1,20}")
_INT_TYPES = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64,
                        FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64,
                        FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
                        FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64,
                        FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64})


def _direct(desc: Descriptor, body: dict[str, Any]) -> Any:
    kwargs = _kwargs(desc, body)
    if kwargs is None:
        return None
    try:
        return getattr(pb, desc.name)(**kwargs)
    except (ValueError, TypeError):
        return None


def _kwargs(desc: Descriptor, data: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key, value in data.items():
        f = desc.fields_by_name.get(key)
        if f is None or value is None:
            return None
        if f.is_repeated:
            if type(value) is not list:
                return None
            items = [_value(f, v) for v in value]
            if any(v is _NOT_DIRECT for v in items):
                return None
            out[key] = items
        else:
            one = _value(f, value)
            if one is _NOT_DIRECT:
                return None
            out[key] = one
    return out


def _value(f: FieldDescriptor, v: Any) -> Any:
    if f.message_type is not None:
        sub = _kwargs(f.message_type, v) if type(v) is dict else None
        return _NOT_DIRECT if sub is None else sub
    t = f.type
    if t == FieldDescriptor.TYPE_STRING:
        return v if type(v) is str else _NOT_DIRECT
    if t == FieldDescriptor.TYPE_BOOL:
        return v if type(v) is bool else _NOT_DIRECT
    if t in _INT_TYPES:  # 64-bit integers are text in protobuf's JSON
        return v if type(v) is int else (
            int(v) if type(v) is str and _DIGITS.fullmatch(v) else _NOT_DIRECT)
    if t == FieldDescriptor.TYPE_ENUM:
        return v if type(v) in (str, int) else _NOT_DIRECT  # a known value (``_check``)
    return _NOT_DIRECT  # bytes (base64), float and double: ParseDict's reading


def _parse_dict(body: dict[str, Any], message: Any, mtype: MessageType,
                top: tuple[tuple[str, str], ...], lang: str) -> None:
    try:
        json_format.ParseDict(body, message)
    except json_format.ParseError as e:
        name = str(e).split(" field: ", 1)[0].removeprefix("Failed to parse ")[:80]
        found = next((f for f in explain(mtype)
                      if f.path.replace("[]", "").rsplit(".", 1)[-1] == name), None)
        where = top if found is None else (top[0], (found.vi, found.zh))
        raise Malformed(_say("json.bad_value", lang, where, name=name)) from e
