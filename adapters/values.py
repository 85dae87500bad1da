"""Schema values both adapters build from cells: names, bilingual text, times, enums.

Only through ``gateway.protocol.messages.pb`` (the one seam over the generated code).
A name's script is read from the name itself (Han characters: ``Hans``, else ``Latn``);
a Latin name also gets its form without tone marks (``Giàng Thị Mai`` -> ``Giang Thi
Mai``), as Chinese officers search for it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from google.protobuf.descriptor import EnumDescriptor

from adapters.cells import value_term
from adapters.text import label
from gateway.protocol.localtime import iso_time
from gateway.protocol.messages import PbMessage, pb

__all__ = ["enum_of", "enum_text", "localized", "person_name", "time_text", "zoned"]

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LANGUAGE_VI, LANGUAGE_ZH = 1, 2


def enum_of(message: Any, field: str) -> EnumDescriptor:
    """The enum type of ``message``'s field ``field`` (``pb.HotlineReport``, ``"channel"``)."""
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    assert enum is not None, field
    return enum  # type: ignore[no-any-return]


def enum_text(enum: EnumDescriptor, number: int) -> tuple[str, str]:
    """(vi, zh) label of an enum value; ``unspecified`` for 0."""
    return label(value_term(enum, number) or "unspecified")


def person_name(full: str, hanzi: str = "", latin: str = "") -> PbMessage:
    script = "Hans" if _HAN.search(full) else "Latn"
    if not latin and script == "Latn":
        decomposed = unicodedata.normalize("NFD", full.replace("đ", "d").replace("Đ", "D"))
        latin = "".join(c for c in decomposed if not unicodedata.combining(c))
    name: PbMessage = pb.PersonName(full_name=full, script=script, hanzi=hanzi, latin=latin)
    return name


def localized(vi: str, zh: str = "") -> PbMessage:
    """Text written in Vietnamese (``original`` vi), with its Chinese translation if any;
    text written only in Chinese is marked so."""
    if not vi and zh:
        out: PbMessage = pb.LocalizedText(zh=zh, original=LANGUAGE_ZH)
        return out
    both: PbMessage = pb.LocalizedText(vi=vi, zh=zh, original=LANGUAGE_VI)
    return both


def zoned(t: tuple[int, int]) -> PbMessage:
    out: PbMessage = pb.ZonedTime(unix_millis=t[0], utc_offset_minutes=t[1])
    return out


def time_text(t: tuple[int, int]) -> str:
    return iso_time(t[0], t[1])
