"""Office time: each office counts and shows time in its own zone; stored times stay UTC.

Every stored and signed time is Unix milliseconds (UTC). What a person reads — a
reporting period, a deadline, an inbox time, a PDF — is rendered in an office's IANA
time zone (``zoneinfo``), and the zone is always named next to the time, so that a
figure read on the other side of the border is never ambiguous.

An office's zone, in order: ``time_zone`` in its ``gateway.toml`` (only for the
gateway's own office), the ``time_zone`` of its entry in the co-signed directory, the
default of its country (``DEFAULT_ZONES``: Vietnam ``Asia/Ho_Chi_Minh`` UTC+7, China
``Asia/Shanghai`` UTC+8), else UTC.

Reporting periods (seed plan 000 §VI) are ``YYYY-MM-DD`` (a day), ``YYYY-Qn`` (a
quarter), ``YYYY-Hn`` (a half-year) and ``YYYY`` (a year); each starts at local
midnight of its first day and ends, exclusive, at local midnight after its last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.protocol.errors import ConfigError, Malformed

__all__ = ["DEFAULT_ZONES", "UTC_ZONE", "Period", "ZoneHolder", "check_zone_name", "iso_time",
           "local_time", "office_zone", "parse_day", "parse_period", "party_zones",
           "utc_offset_minutes", "zone_named", "zoned_times"]

#: the zone of an office whose configuration and directory entry name none
DEFAULT_ZONES = {"VN": "Asia/Ho_Chi_Minh", "CN": "Asia/Shanghai"}
UTC_ZONE = ZoneInfo("UTC")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
_PERIOD = re.compile(r"(\d{4})(?:-(Q[1-4]|H[12]))?")


class ZoneHolder(Protocol):
    """What ``office_zone`` needs of a directory office entry."""

    @property
    def country(self) -> str: ...

    @property
    def time_zone(self) -> str: ...


def check_zone_name(name: str) -> str | None:
    """None if ``name`` is an IANA time zone known here, else what is wrong with it."""
    if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name) or len(name) > 64:
        return (f"time zone {name!r} is not an IANA time zone name (e.g. Asia/Ho_Chi_Minh, "
                "Asia/Shanghai)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return (f"time zone {name!r} is unknown here (IANA names such as Asia/Ho_Chi_Minh "
                "or Asia/Shanghai; Debian's tzdata package provides them)")
    return None


def zone_named(name: str) -> ZoneInfo:
    """The zone ``name``; ConfigError if it is not a known IANA name."""
    problem = check_zone_name(name)
    if problem:
        raise ConfigError(problem)
    return ZoneInfo(name)


def office_zone(office: ZoneHolder | None, configured: str = "") -> ZoneInfo:
    """An office's zone: the configured one, its directory entry's, its country's, or UTC."""
    if configured:
        return zone_named(configured)
    if office is not None and office.time_zone:
        return zone_named(office.time_zone)
    if office is not None and office.country in DEFAULT_ZONES:
        return ZoneInfo(DEFAULT_ZONES[office.country])
    return UTC_ZONE


def party_zones(offices: Mapping[str, ZoneHolder], own: str = "",
                own_zone: ZoneInfo | None = None) -> dict[str, ZoneInfo]:
    """Every directory office's zone by office id (``own`` gets ``own_zone`` if given)."""
    zones = {oid: office_zone(o) for oid, o in offices.items()}
    if own and own_zone is not None:
        zones[own] = own_zone
    return zones


def local_time(unix_millis: int, zone: ZoneInfo) -> str:
    """``2026-03-31 23:30 +07:00 Asia/Ho_Chi_Minh``: ISO date and time, offset, zone name."""
    t = datetime.fromtimestamp(unix_millis / 1000, tz=UTC).astimezone(zone)
    off = t.strftime("%z")
    return f"{t:%Y-%m-%d %H:%M} {off[:3]}:{off[3:]} {zone.key}"


def zoned_times(unix_millis: int, zones: Iterable[ZoneInfo]) -> str:
    """The same instant in each distinct zone, in the given order, joined by " · "."""
    seen: list[str] = []
    for z in zones:
        text = local_time(unix_millis, z)
        if text not in seen:
            seen.append(text)
    return " · ".join(seen)


def utc_offset_minutes(unix_millis: int, zone: ZoneInfo) -> int:
    """The zone's UTC offset at that instant, in minutes (for ``ZonedTime``)."""
    off = datetime.fromtimestamp(unix_millis / 1000, tz=UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


def _midnight(d: date, zone: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)


def parse_day(text: str, zone: ZoneInfo) -> int:
    """Local midnight at the start of ISO date ``text`` in ``zone``, as Unix ms."""
    try:
        d = date.fromisoformat(text)
    except (TypeError, ValueError) as e:
        raise Malformed(f"{text!r} is not a date YYYY-MM-DD") from e
    return _midnight(d, zone)


class Period:
    """A reporting period in one zone: ``[start_ms, end_ms)`` and its name."""

    def __init__(self, name: str, first: date, after: date, zone: ZoneInfo) -> None:
        self.name, self.zone = name, zone
        self.start_ms, self.end_ms = _midnight(first, zone), _midnight(after, zone)

    def describe(self) -> str:
        return (f"{self.name}: {local_time(self.start_ms, self.zone)} .. "
                f"{local_time(self.end_ms, self.zone)}")


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """``YYYY-MM-DD``, ``YYYY-Qn``, ``YYYY-Hn`` or ``YYYY`` as a Period in ``zone``."""
    m = _PERIOD.fullmatch(text or "")
    if m is None:
        try:
            d = date.fromisoformat(text)
        except (TypeError, ValueError):
            raise Malformed(f"period {text!r}: give YYYY-MM-DD, YYYY-Q1..Q4, YYYY-H1|H2 "
                            "or YYYY") from None
        return Period(text, d, date.fromordinal(d.toordinal() + 1), zone)
    year, part = int(m.group(1)), m.group(2)
    if year < 1970:
        raise Malformed(f"period {text!r}: year before 1970")
    if part is None:
        return Period(text, date(year, 1, 1), date(year + 1, 1, 1), zone)
    months = 3 if part[0] == "Q" else 6
    first = (int(part[1]) - 1) * months + 1
    after = first + months
    end = date(year + 1, 1, 1) if after > 12 else date(year, after, 1)
    return Period(text, date(year, first, 1), end, zone)


def iso_time(unix_millis: int, utc_offset_minutes: int = 0) -> str:
    tz = timezone(timedelta(minutes=utc_offset_minutes))
    return datetime.fromtimestamp(unix_millis / 1000, tz=UTC).astimezone(tz).isoformat(
        timespec="minutes")
