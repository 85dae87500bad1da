"""Columns and cells: what an import file's columns are called and how each cell is read.

A ``Column`` is named by a glossary term: its header is accepted as the term's Vietnamese,
Chinese or English label or as the column's key (``received_at``), in any case, with or
without Vietnamese diacritics, with ``_``, ``-`` or spaces. Enumerations are read the same
way from the schema's own value labels (``Nghi mua bán người``, ``疑似拐卖人口``,
``suspected trafficking`` or ``class.suspected_trafficking``), so a label corrected in the
glossary is accepted at once.

Every parser takes the cell's text and raises ``CellError`` with a stable reason code (the
glossary term ``import.err.<code>``); it never echoes the cell, which may be personal data.
Times must carry their zone (``+07:00``, ``Z`` or an IANA name) unless the user gave
``--zone``: a call log's 09:40 is never silently read as UTC.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache, lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from google.protobuf.descriptor import EnumDescriptor

from gateway.protocol.glossary import term
from gateway.protocol.localtime import check_zone_name

__all__ = ["MAX_CELL_CHARS", "CellError", "Column", "Problem", "Reading", "RowCells",
           "enum_value",
           "fold", "header_index", "office_ids", "partial_date", "phone", "plain", "text",
           "value_term", "whole_number", "yes_no", "zoned_time"]

MAX_CELL_CHARS = 4000
_SPACES = re.compile(r"[\s_\-]+")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                  r"\s*(.*)")
_VN = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(.*)")
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?")
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_PARTIAL_VN = re.compile(r"(?:(\d{1,2})/)?(\d{1,2})/(\d{4})")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_PHONE = re.compile(r"\+?[0-9 ().-]{3,32}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
T = TypeVar("T")


class CellError(Exception):
    """A cell that cannot be read: ``code`` names the reason (``import.err.<code>``)."""

    def __init__(self, code: str, ref: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.ref = ref


@dataclass(frozen=True)
class Problem:
    """One bad row: its number as the user sees it, the column's key ('' for the row as a
    whole), the reason code, and another row it refers to (a duplicate's first row)."""

    row: int
    column: str
    code: str
    ref: str = ""


@dataclass(frozen=True)
class Column:
    """One column of an import file, labelled by the glossary term ``term``."""

    key: str
    term: str
    required: bool = False

    def names(self) -> set[str]:
        """Every header text accepted for this column, folded (see ``fold``)."""
        t = term(self.term)
        out = set()
        for name in (self.key, t.vi, t.zh, t.en):
            out.add(fold(name))
            out.add(plain(name))
        return out


@dataclass(frozen=True)
class Reading:
    """What parsing a cell may need besides its text: the zone of times written without
    one (``--zone``; None: such a time is an error) and now (times in the future)."""

    zone: ZoneInfo | None
    now_ms: int


def fold(text: str) -> str:
    """NFC, case-folded, runs of spaces, ``_`` and ``-`` as one space, trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def plain(text: str) -> str:
    """``fold`` without Vietnamese diacritics (``Thời điểm`` -> ``thoi diem``)."""
    t = fold(text).replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))


def header_index(columns: tuple[Column, ...]) -> dict[str, str]:
    """Folded header text -> column key; a name two columns would share is a bug here."""
    index: dict[str, str] = {}
    for col in columns:
        for name in col.names():
            other = index.setdefault(name, col.key)
            if other != col.key:
                raise AssertionError(f"columns {other} and {col.key} share the name {name!r}")
    return index


def text(cell: str, *, limit: int = MAX_CELL_CHARS) -> str:
    """Free text: trimmed, control characters (but tab and line breaks) refused."""
    value = unicodedata.normalize("NFC", cell.strip())
    if len(value) > limit:
        raise CellError("too_long")
    if _CONTROL.search(value):
        raise CellError("bad_value")
    return value


def whole_number(cell: str, *, lo: int, hi: int) -> int:
    value = cell.strip()
    if value.endswith(".0"):  # a spreadsheet's number cell
        value = value[:-2]
    if not _DIGITS.fullmatch(value):
        raise CellError("bad_number")
    n = int(value)
    if not lo <= n <= hi:
        raise CellError("out_of_range")
    return n


@cache
def _yes_no() -> dict[str, bool]:
    yes, no = term("ui.yes"), term("ui.no")
    out = {}
    for words, flag in (((yes.vi, yes.zh, yes.en, "y", "true", "1", "x", "đúng"), True),
                        ((no.vi, no.zh, no.en, "n", "false", "0", "sai"), False)):
        for w in words:
            out[fold(w)] = flag
            out[plain(w)] = flag
    return out


def yes_no(cell: str) -> bool:
    """``Có``/``Không``, ``是``/``否``, yes/no, true/false, 1/0, x (empty: no)."""
    if not cell.strip():
        return False
    try:
        return _yes_no()[plain(cell)]
    except KeyError:
        raise CellError("unknown_value") from None


def _value_term(desc: object) -> str:
    # The schema's (blo.v1.value_label) option, read through protobuf's public API so that
    # the adapters need no generated module: the option's message has a ``term``.
    for field, lab in desc.GetOptions().ListFields():  # type: ignore[attr-defined]
        if field.name == "value_label":
            return str(lab.term)
    return ""


@cache
def _choices(enum: EnumDescriptor) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in enum.values:
        key = _value_term(v)
        if v.number == 0 or not key:
            continue
        t = term(key)
        for name in (key, key.rsplit(".", 1)[-1], t.vi, t.zh, t.en):
            out.setdefault(fold(name), v.number)
            out.setdefault(plain(name), v.number)
    return out


@lru_cache(maxsize=4096)
def _lookup(cell: str, enum: EnumDescriptor) -> int:
    choices = _choices(enum)
    return choices.get(plain(cell), choices.get(fold(cell), -1))


def enum_value(cell: str, enum: EnumDescriptor) -> int:
    """The number of the enum value whose label (vi, zh, en) or term the cell names."""
    number = _lookup(cell, enum)  # a log repeats its few values: looked up once each
    if number < 0:
        raise CellError("unknown_value")
    return number


@cache
def value_term(enum: EnumDescriptor, number: int) -> str:
    """The glossary term of an enum value (for previews)."""
    return _value_term(enum.values_by_number[number])


def _zone_of(rest: str, reading: Reading) -> tzinfo:
    rest = rest.strip()
    if not rest:
        if reading.zone is None:
            raise CellError("no_time_zone")
        return reading.zone
    if rest in ("Z", "z", "UTC", "GMT"):
        return UTC
    m = _OFFSET.fullmatch(rest)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        if minutes > 14 * 60 or int(m.group(3) or 0) >= 60:
            raise CellError("bad_time_zone")
        return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    if check_zone_name(rest) is None:
        return ZoneInfo(rest)
    raise CellError("bad_time_zone")


def zoned_time(cell: str, reading: Reading, *, not_after_now: bool = False) -> tuple[int, int]:
    """``(unix_millis, utc_offset_minutes)`` of ``2026-03-02 09:40 +07:00`` (ISO 8601, ``T``
    or a space, seconds optional) or ``02/03/2026 09:40 +07:00`` (day first, as Vietnamese
    offices write it). The zone: an offset, ``Z``, or an IANA name."""
    value = cell.strip()
    m = _ISO.fullmatch(value)
    if m:
        y, mo, d, h, mi, s, rest = m.groups()
    else:
        m = _VN.fullmatch(value)
        if m is None:
            raise CellError("bad_date")
        d, mo, y, h, mi, s, rest = m.groups()
    zone = _zone_of(rest, reading)
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=zone)
    except ValueError:
        raise CellError("impossible_date") from None
    if not 1970 <= local.year <= 2100:
        raise CellError("out_of_range")
    ms = int(local.timestamp() * 1000)
    if not_after_now and ms > reading.now_ms + 3600_000:
        raise CellError("in_the_future")
    off = local.utcoffset()
    return ms, int(off.total_seconds() // 60) if off is not None else 0


def partial_date(cell: str, reading: Reading) -> tuple[int, int, int]:
    """``(year, month, day)`` of ``2006``, ``2006-05``, ``2006-05-14``, ``05/2006`` or
    ``14/05/2006``; an unknown month or day is 0. Not after today."""
    value = cell.strip()
    if value.endswith(" 00:00:00"):  # a spreadsheet's date cell
        value = value[:-9]
    m = _PARTIAL.fullmatch(value)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    else:
        m = _PARTIAL_VN.fullmatch(value)
        if m is None:
            raise CellError("bad_date")
        d, mo, y = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
    try:
        date(y, mo or 1, d or 1)
    except ValueError:
        raise CellError("impossible_date") from None
    today = datetime.fromtimestamp(reading.now_ms / 1000, tz=UTC).date()
    if y < 1900 or (y, mo, d) > (today.year, today.month, today.day):
        raise CellError("out_of_range")
    return y, mo, d


def office_ids(cell: str) -> list[str]:
    """Office ids separated by ``;``, ``,`` or spaces (``cn.yunnan.hekou.blo``)."""
    ids = [p for p in re.split(r"[;,\s]+", cell.strip()) if p]
    if not all(_OFFICE.fullmatch(i) for i in ids) or len(ids) > 16:
        raise CellError("bad_value")
    return list(dict.fromkeys(ids))


def phone(cell: str) -> str:
    value = cell.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not _PHONE.fullmatch(value):
        raise CellError("bad_value")
    return value


class RowCells:
    """One row's cells, read column by column: each bad or missing cell becomes a
    ``Problem`` of the row and the reading goes on, so that a row's every fault is told."""

    def __init__(self, number: int, cells: dict[str, str]) -> None:
        self.number, self.cells = number, cells
        self.problems: list[Problem] = []

    def raw(self, key: str) -> str:
        return self.cells.get(key, "").strip()

    def bad(self, key: str, code: str, ref: str = "") -> None:
        self.problems.append(Problem(self.number, key, code, ref))

    def get(self, key: str, parse: Callable[[str], T], default: T, *,
            required: bool = False) -> T:
        raw = self.raw(key)
        if not raw:
            if required:
                self.bad(key, "missing_value")
            return default
        try:
            return parse(raw)
        except CellError as e:
            self.bad(key, e.code, e.ref)
            return default
