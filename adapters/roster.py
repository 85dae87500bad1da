"""The Border Guard roster: people to repatriate become repatriation notices (proposals),
one per planned handover.

A row is one person. Rows are grouped by their planned handover: the date of the handover
time (in the zone it was written in) and the border gate. One group is one notice, so the
handover's own columns (time, gate, handover point, units, case reference, priority,
handling code) must agree within a group: a row that differs is bad, naming the first
row of the group. An accompanying minor names the row id of the adult they travel with
(``accompanies``): that row must be in the file, in the same handover, and not itself a
minor; the minor is listed right after the adult, marked a minor, and each names the
other among their relatives (the adult's relationship to the minor, if given). A minor
travelling alone has no ``accompanies`` and is marked a minor by age or the ``is_minor``
column.

Idempotence: the stable id of a notice is its handover (date and border gate), so a
roster imported twice sends each notice once; a changed roster for a handover already
proposed is refused by the gateway (the key's first request differs) and reported, not
sent as a second proposal. A handover whose rows name no case reference gets ``RP-`` and
ten hex digits of its key. A group with any bad row is not sent at all, even with
``--send-good-rows`` (a notice without one of its people would be wrong); its good rows
are reported as held back. A row whose handover cannot be read holds back only itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

from adapters.cells import (
    CellError,
    Column,
    Problem,
    Reading,
    RowCells,
    enum_value,
    partial_date,
    plain,
    text,
    whole_number,
    yes_no,
    zoned_time,
)
from adapters.hotline import case_reference
from adapters.plan import Item, Line, Plan, case_reference_for, stable_key
from adapters.table import Table
from adapters.values import enum_of, enum_text, localized, person_name, time_text, zoned
from gateway.protocol.messages import Payload, PbMessage, pb

__all__ = ["COLUMNS", "plan_roster"]

COLUMNS = (
    Column("row_id", "import.row_id", required=True),
    Column("full_name", "full_name", required=True),
    Column("name_hanzi", "name_hanzi"),
    Column("name_latin", "name_latin"),
    Column("sex", "sex"),
    Column("date_of_birth", "date_of_birth"),
    Column("approximate_age", "approximate_age"),
    Column("ethnicity", "ethnicity"),
    Column("claimed_nationality", "claimed_nationality"),
    Column("document_type", "id_document_type"),
    Column("document_number", "document_number"),
    Column("health_status", "health_status"),
    Column("request_ref", "request_ref"),
    Column("is_minor", "is_minor"),
    Column("accompanies", "import.accompanies"),
    Column("adult_relationship", "import.adult_relationship"),
    Column("handover_at", "proposed_time", required=True),
    Column("border_gate", "border_gate", required=True),
    Column("border_gate_zh", "import.border_gate_zh"),
    Column("handover_point", "handover_point"),
    Column("handover_point_zh", "import.handover_point_zh"),
    Column("handing_over_unit", "handing_over_unit"),
    Column("receiving_unit", "receiving_unit"),
    Column("case_reference", "case_reference"),
    Column("priority", "priority"),
    Column("handling_code", "handling_code"),
)
#: The columns of the handover itself: one value per group.
GROUP_COLUMNS = ("handover_at", "border_gate", "border_gate_zh", "handover_point",
                 "handover_point_zh", "handing_over_unit", "receiving_unit", "case_reference",
                 "priority", "handling_code")

CASE_PREFIX = "RP"  # a handover whose rows name no case: RP- and its key's digest
STEP_PROPOSAL = 1
DEFAULT_PRIORITY = 1
DEFAULT_HANDLING = 3  # H2: no onward transfer
RELATIONSHIP_CHILD, RELATIONSHIP_OTHER = 5, 7
PARENTS = (1, 2)  # mother, father
_ROW_ID = re.compile(r"[^\x00-\x1f]{1,64}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")

_PRIORITY = enum_of(pb.MessageContext, "priority")
_HANDLING = enum_of(pb.MessageContext, "handling_code")
_SEX = enum_of(pb.Person, "sex")
_ETHNICITY = enum_of(pb.Person, "ethnicity")
_DOC = enum_of(pb.IdDocument, "type")
_HEALTH = enum_of(pb.RepatriatedPerson, "health")
_RELATIONSHIP = enum_of(pb.Relative, "relationship")


@dataclass
class _Row:
    number: int
    row_id: str
    name: str
    person: Any  # a pb.Person (the generated classes are typed as bare Message)
    minor: bool | None  # None: not said and not known from the age
    accompanies: str
    relationship: int
    health: int
    request_ref: str
    handover: tuple[int, int]
    group: tuple[str, str]
    shared: dict[str, Any]


def _row_id(cell: str) -> str:
    if not _ROW_ID.fullmatch(cell.strip()):
        raise CellError("bad_value")
    return cell.strip()


def _hex32(cell: str) -> str:
    if not _HEX32.fullmatch(cell.strip()):
        raise CellError("bad_value")
    return cell.strip().lower()


def _country(cell: str) -> str:
    if not _COUNTRY.fullmatch(cell.strip()):
        raise CellError("bad_value")
    return cell.strip().upper()


def _age_at(born: tuple[int, int, int], when: tuple[int, int]) -> int | None:
    """Full years at the handover, when the full date of birth is known."""
    y, m, d = born
    if not (y and m and d):
        return None
    local = datetime.fromtimestamp(when[0] / 1000, tz=UTC).astimezone(
        timezone(timedelta(minutes=when[1])))
    return local.year - y - ((local.month, local.day) < (m, d))


def _read(row: RowCells, reading: Reading) -> tuple[_Row | None, tuple[str, str] | None]:
    """The row, or None if it is bad; and its handover (date, gate) if that could be read."""
    row_id = row.get("row_id", _row_id, "", required=True)
    full = row.get("full_name", partial(text, limit=200), "", required=True)
    hanzi = row.get("name_hanzi", partial(text, limit=200), "")
    latin = row.get("name_latin", partial(text, limit=200), "")
    sex = row.get("sex", partial(enum_value, enum=_SEX), 0)
    born = row.get("date_of_birth", partial(partial_date, reading=reading), (0, 0, 0))
    age = row.get("approximate_age", partial(whole_number, lo=0, hi=120), 0)
    ethnicity = row.get("ethnicity", partial(enum_value, enum=_ETHNICITY), 0)
    nationality = row.get("claimed_nationality", _country, "")
    doc_type = row.get("document_type", partial(enum_value, enum=_DOC), 0)
    doc_number = row.get("document_number", partial(text, limit=64), "")
    if doc_number and not doc_type and not row.raw("document_type"):
        row.bad("document_type", "missing_value")
    health = row.get("health_status", partial(enum_value, enum=_HEALTH), 0)
    request_ref = row.get("request_ref", _hex32, "")
    said_minor = row.get("is_minor", yes_no, False) if row.raw("is_minor") else None
    accompanies = row.get("accompanies", _row_id, "")
    relationship = row.get("adult_relationship", partial(enum_value, enum=_RELATIONSHIP), 0)
    handover = row.get("handover_at", partial(zoned_time, reading=reading), (0, 0),
                       required=True)
    gate = row.get("border_gate", partial(text, limit=200), "", required=True)
    shared: dict[str, Any] = {
        "handover_at": handover, "border_gate": gate,
        "border_gate_zh": row.get("border_gate_zh", partial(text, limit=200), ""),
        "handover_point": row.get("handover_point", partial(text, limit=200), ""),
        "handover_point_zh": row.get("handover_point_zh", partial(text, limit=200), ""),
        "handing_over_unit": row.get("handing_over_unit", partial(text, limit=200), ""),
        "receiving_unit": row.get("receiving_unit", partial(text, limit=200), ""),
        "case_reference": row.get("case_reference", case_reference, ""),
        "priority": row.get("priority", partial(enum_value, enum=_PRIORITY), DEFAULT_PRIORITY),
        "handling_code": row.get("handling_code", partial(enum_value, enum=_HANDLING),
                                 DEFAULT_HANDLING),
    }
    if not any(p.column in ("handover_at", "border_gate") for p in row.problems):
        local = datetime.fromtimestamp(handover[0] / 1000, tz=UTC).astimezone(
            timezone(timedelta(minutes=handover[1])))
        group = (local.date().isoformat(), plain(gate))
    else:
        group = None
    if row.problems:
        return None, group
    assert group is not None
    years = _age_at(born, handover)
    if years is None and age:
        years = age
    minor = said_minor if said_minor is not None else (years < 18 if years is not None
                                                       else None)
    if said_minor is not None and years is not None and said_minor != (years < 18):
        row.bad("is_minor", "minor_age_differs")
        return None, group
    person = pb.Person(name=person_name(full, hanzi, latin), sex=sex, approximate_age=age,
                       ethnicity=ethnicity, claimed_nationality=nationality)
    if born != (0, 0, 0):
        person.date_of_birth.CopyFrom(pb.PartialDate(year=born[0], month=born[1], day=born[2]))
    if doc_number:
        person.documents.append(pb.IdDocument(type=doc_type, number=doc_number,
                                              issuing_country=nationality))
    return _Row(row.number, row_id, full, person, minor, accompanies, relationship, health,
                request_ref, handover, group, shared), group


def _link(rows: dict[str, _Row], by_number: dict[int, _Row], bad: set[int],
          problems: list[Problem]) -> None:
    """Check each accompanying minor against its adult; a minor's fault is its own row's."""
    for r in by_number.values():
        if not r.accompanies:
            continue
        adult = rows.get(r.accompanies)
        code = ("minor_without_adult" if adult is None
                else "adult_row_bad" if adult.number in bad
                else "adult_is_minor" if adult.accompanies or adult.minor
                else "adult_elsewhere" if adult.group != r.group
                else "not_a_minor" if r.minor is False else "")
        if code:
            problems.append(Problem(r.number, "accompanies", code,
                                    str(adult.number) if adult else ""))
            bad.add(r.number)
        else:
            r.minor = True


def _notice(group: list[_Row], minors: dict[str, list[_Row]]) -> tuple[PbMessage, list[Line]]:
    first = group[0].shared
    notice = pb.RepatriationNotice(
        context=pb.MessageContext(case_reference=first["case_reference"],
                                  priority=first["priority"],
                                  handling_code=first["handling_code"]),
        step=STEP_PROPOSAL, proposed_time=zoned(first["handover_at"]),
        border_gate=localized(first["border_gate"], first["border_gate_zh"]))
    if first["handover_point"] or first["handover_point_zh"]:
        notice.handover_point.CopyFrom(localized(first["handover_point"],
                                                 first["handover_point_zh"]))
    for unit in ("handing_over_unit", "receiving_unit"):
        if first[unit]:
            getattr(notice, unit).CopyFrom(pb.Unit(name=localized(first[unit])))
    lines = [Line("proposed_time", time_text(first["handover_at"])),
             Line("border_gate", first["border_gate"], first["border_gate_zh"]),
             Line("persons", str(len(group)))]
    adults = [r for r in group if not r.accompanies]
    for adult in adults:
        ordered = [adult, *minors.get(adult.row_id, [])]
        for r in ordered[1:]:
            rel = r.relationship
            r.person.relatives.append(pb.Relative(name=adult.person.name, relationship=rel))
            adult.person.relatives.append(pb.Relative(
                name=r.person.name,
                relationship=RELATIONSHIP_CHILD if rel in PARENTS else
                RELATIONSHIP_OTHER if rel else 0))
        for r in ordered:
            notice.persons.append(pb.RepatriatedPerson(
                request_ref=r.request_ref, person=r.person, is_minor=bool(r.minor),
                health=r.health))
            if r is adult:
                lines.append(Line("full_name", r.name, depth=2))
            else:
                vi, zh = enum_text(_RELATIONSHIP, r.relationship)
                lines.append(Line("accompanying_minor", f"{r.name} ({adult.name}: {vi})",
                                  f"{r.name} ({adult.name}: {zh})", depth=3))
    return notice, lines


def plan_roster(table: Table, *, reading: Reading, to: tuple[str, ...]) -> Plan:
    """One repatriation notice per planned handover of ``table`` for ``to`` (the receiving
    side's offices); bad rows in ``problems``."""
    plan = Plan("roster", table, COLUMNS, problems=list(table.problems))
    bad = {p.row for p in table.problems}
    by_id: dict[str, _Row] = {}
    by_number: dict[int, _Row] = {}
    seen: dict[bytes, int] = {}
    bad_in_group: dict[tuple[str, str], list[int]] = {}
    for number, cells in table.rows:
        row = RowCells(number, cells)
        r, where = _read(row, reading)
        if r is None:
            plan.problems.extend(row.problems)
            bad.add(number)
            if where is not None:
                bad_in_group.setdefault(where, []).append(number)
            continue
        content = r.person.SerializeToString(deterministic=True) + repr(
            (r.group, r.accompanies, r.health, r.request_ref)).encode()
        first = seen.setdefault(content, number)
        if first != number:
            plan.problems.append(Problem(number, "", "duplicate_row", str(first)))
            bad.add(number)
            continue
        if r.row_id in by_id:
            plan.problems.append(Problem(number, "row_id", "duplicate_id",
                                         str(by_id[r.row_id].number)))
            bad.add(number)
            continue
        by_id[r.row_id] = by_number[number] = r
    groups: dict[tuple[str, str], list[_Row]] = {}
    for r in by_number.values():
        group = groups.setdefault(r.group, [])
        if group:
            for col in GROUP_COLUMNS:
                if r.shared[col] != group[0].shared[col]:
                    plan.problems.append(Problem(r.number, col, "group_differs",
                                                 str(group[0].number)))
                    bad.add(r.number)
                    break
        group.append(r)
    _link(by_id, by_number, bad, plan.problems)
    for key, group in groups.items():
        held = sorted([r.number for r in group if r.number in bad]
                      + bad_in_group.get(key, []))
        good = [r for r in group if r.number not in bad]
        if held:
            refs = ", ".join(str(n) for n in held)
            plan.problems.extend(Problem(r.number, "", "group_has_bad_row", refs)
                                 for r in good)
            continue
        minors: dict[str, list[_Row]] = {}
        for r in good:
            if r.accompanies:
                minors.setdefault(r.accompanies, []).append(r)
        notice, lines = _notice(good, minors)
        item_key = stable_key("roster", "\0".join(key).encode())
        if not notice.context.case_reference:  # type: ignore[attr-defined]
            notice.context.case_reference = case_reference_for(  # type: ignore[attr-defined]
                CASE_PREFIX, item_key)
        lines.insert(0, Line("case_reference",
                             notice.context.case_reference))  # type: ignore[attr-defined]
        plan.items.append(Item(tuple(r.number for r in good), item_key, to, Payload(notice),
                               tuple(lines)))
    return plan
