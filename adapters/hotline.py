"""Hotline intake: each row of the hotline's call log becomes one ``HotlineReport``.

Columns (``adapters/README.md``; Vietnamese, Chinese or English names): the time the call
was received (with its zone), the person the call is about and the facts are required; the
call's id, channel, classification, priority, handling code, case reference, the reporter
(name, phone, relationship, anonymous), the subject's sex, age, date of birth and
ethnicity, the place, a Chinese translation of the facts and the offices to route to are
optional. A report goes to the ``routed_to`` cell's offices, else to ``--to``.

Stable id: the call's id when the log has one, else a digest of the report built from
the row (so spacing, case and the spelling of a label do not make a new report). Two rows
with the same id, or the same report, are duplicates: the later one is a bad row.
A row without a case reference gets ``HL-`` and ten hex digits of its key (the same on
every import), since every message belongs to a case. Defaults: channel "provincial
police hotline", priority routine, handling code H2 (no
onward transfer), classification left unspecified (the statistics count it as not yet
classified).
"""

from __future__ import annotations

import re
from functools import partial

from adapters.cells import (
    CellError,
    Column,
    Problem,
    Reading,
    RowCells,
    enum_value,
    office_ids,
    partial_date,
    phone,
    text,
    whole_number,
    yes_no,
    zoned_time,
)
from adapters.plan import Item, Line, Plan, case_reference_for, stable_key
from adapters.table import Table
from adapters.values import enum_of, enum_text, localized, person_name, time_text, zoned
from gateway.protocol.messages import Payload, pb

__all__ = ["COLUMNS", "plan_hotline"]

COLUMNS = (
    Column("call_id", "import.call_id"),
    Column("received_at", "received_at", required=True),
    Column("channel", "report_channel"),
    Column("classification", "report_classification"),
    Column("priority", "priority"),
    Column("handling_code", "handling_code"),
    Column("case_reference", "case_reference"),
    Column("reporter_name", "import.reporter_name"),
    Column("reporter_phone", "import.reporter_phone"),
    Column("reporter_relationship", "import.reporter_relationship"),
    Column("anonymous", "anonymous"),
    Column("subject_name", "import.subject_name", required=True),
    Column("sex", "sex"),
    Column("approximate_age", "approximate_age"),
    Column("date_of_birth", "date_of_birth"),
    Column("ethnicity", "ethnicity"),
    Column("location", "location"),
    Column("facts", "facts", required=True),
    Column("facts_zh", "import.facts_zh"),
    Column("routed_to", "routed_to"),
)

CASE_PREFIX = "HL"  # a report whose row names no case: HL- and its key's digest
DEFAULT_CHANNEL = 1  # REPORT_CHANNEL_PROVINCIAL_HOTLINE
DEFAULT_PRIORITY = 1  # PRIORITY_ROUTINE
DEFAULT_HANDLING = 3  # HANDLING_CODE_NO_ONWARD_TRANSFER (H2)
_CASE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")

_CHANNEL = enum_of(pb.HotlineReport, "channel")
_CLASS = enum_of(pb.HotlineReport, "classification")
_PRIORITY = enum_of(pb.MessageContext, "priority")
_HANDLING = enum_of(pb.MessageContext, "handling_code")
_RELATIONSHIP = enum_of(pb.Reporter, "relationship")
_SEX = enum_of(pb.Person, "sex")
_ETHNICITY = enum_of(pb.Person, "ethnicity")


def case_reference(cell: str) -> str:
    """A case reference such as ``LC-2026-0042``: it travels in the envelope header, in
    clear, so it is held to ASCII letters, digits and ``. _ / -`` (no names)."""
    if not _CASE_REF.fullmatch(cell.strip()):
        raise CellError("bad_value")
    return cell.strip()


def _report(row: RowCells, reading: Reading, default_to: tuple[str, ...]
            ) -> tuple[Payload, tuple[str, ...], list[Line]] | None:
    received = row.get("received_at", partial(zoned_time, reading=reading, not_after_now=True),
                       (0, 0), required=True)
    channel = row.get("channel", partial(enum_value, enum=_CHANNEL), DEFAULT_CHANNEL)
    classification = row.get("classification", partial(enum_value, enum=_CLASS), 0)
    priority = row.get("priority", partial(enum_value, enum=_PRIORITY), DEFAULT_PRIORITY)
    handling = row.get("handling_code", partial(enum_value, enum=_HANDLING), DEFAULT_HANDLING)
    case_ref = row.get("case_reference", case_reference, "")
    anonymous = row.get("anonymous", yes_no, False)
    reporter_name = row.get("reporter_name", partial(text, limit=200), "")
    reporter_phone = row.get("reporter_phone", phone, "")
    if anonymous and (reporter_name or reporter_phone):
        row.bad("anonymous", "anonymous_with_name")
    relationship = row.get("reporter_relationship", partial(enum_value, enum=_RELATIONSHIP), 0)
    subject = row.get("subject_name", partial(text, limit=200), "", required=True)
    sex = row.get("sex", partial(enum_value, enum=_SEX), 0)
    age = row.get("approximate_age", partial(whole_number, lo=0, hi=120), 0)
    born = row.get("date_of_birth", partial(partial_date, reading=reading), (0, 0, 0))
    ethnicity = row.get("ethnicity", partial(enum_value, enum=_ETHNICITY), 0)
    location = row.get("location", partial(text, limit=1000), "")
    facts = row.get("facts", text, "", required=True)
    facts_zh = row.get("facts_zh", text, "")
    to = tuple(row.get("routed_to", office_ids, list(default_to))) or default_to
    if not to:
        row.bad("routed_to", "no_recipient")
    if row.problems:
        return None
    reporter = pb.Reporter(anonymous=anonymous, phone=reporter_phone, relationship=relationship)
    if reporter_name:
        reporter.name.CopyFrom(person_name(reporter_name))
    person = pb.Person(name=person_name(subject), sex=sex, approximate_age=age,
                       ethnicity=ethnicity)
    if born != (0, 0, 0):
        person.date_of_birth.CopyFrom(pb.PartialDate(year=born[0], month=born[1], day=born[2]))
    report = pb.HotlineReport(
        context=pb.MessageContext(case_reference=case_ref, priority=priority,
                                  handling_code=handling),
        channel=channel, received_at=zoned(received), reporter=reporter, subject=person,
        facts=localized(facts, facts_zh), classification=classification, routed_to=list(to))
    if location:
        report.location.CopyFrom(pb.Place(description=localized(location)))
    lines = [Line("received_at", time_text(received)),
             Line("report_subject", subject),
             Line("report_classification", *enum_text(_CLASS, classification)),
             Line("priority", *enum_text(_PRIORITY, priority)),
             Line("handling_code", *enum_text(_HANDLING, handling)),
             Line("report_channel", *enum_text(_CHANNEL, channel))]
    return Payload(report), to, lines


def plan_hotline(table: Table, *, reading: Reading, to: tuple[str, ...] = ()) -> Plan:
    """One hotline report per good row of ``table``; every bad row in ``problems``."""
    plan = Plan("hotline", table, COLUMNS, problems=list(table.problems))
    by_id: dict[str, int] = {}
    by_content: dict[bytes, int] = {}
    for number, cells in table.rows:
        row = RowCells(number, cells)
        built = _report(row, reading, to)
        if built is None:
            plan.problems.extend(row.problems)
            continue
        payload, recipients, lines = built
        data = payload.to_bytes()
        call_id = row.raw("call_id")
        first = by_content.setdefault(data, number)
        if first != number:
            plan.problems.append(Problem(number, "", "duplicate_row", str(first)))
            continue
        if call_id:
            first = by_id.setdefault(call_id, number)
            if first != number:
                plan.problems.append(Problem(number, "call_id", "duplicate_id", str(first)))
                continue
        ident = b"id\0" + call_id.encode() if call_id else b"report\0" + data
        key = stable_key("hotline", ident)
        if call_id:
            lines.insert(0, Line("import.call_id", call_id))
        report = payload.body
        if not report.context.case_reference:  # type: ignore[attr-defined]
            report.context.case_reference = case_reference_for(  # type: ignore[attr-defined]
                CASE_PREFIX, key)
            payload = Payload(report)
        lines.insert(0, Line("case_reference",
                             report.context.case_reference))  # type: ignore[attr-defined]
        plan.items.append(Item((number,), key, recipients, payload, tuple(lines)))
    return plan
