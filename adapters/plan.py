"""An import plan: the messages a file would send, the rows that are bad, and how both read.

Each ``Item`` is one message: the rows it comes from, its recipients, its payload, and its
``key`` — the ``Idempotency-Key`` it is sent under, derived from the row's stable id (the
call log's id, a roster's planned handover, or a digest of the normalised row). The
gateway answers a second request under the same key with the first message
(``gateway.node.idempotency``), so a file imported twice sends once.

The preview is bilingual (every label from the glossary) whatever ``--lang`` says; problems
are told in the user's language, each with its row, the column's label and the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.cells import Column, Problem
from adapters.table import Table
from adapters.text import label, say
from gateway.protocol.messages import Payload

__all__ = ["Item", "Line", "Plan", "case_reference_for", "stable_key"]


@dataclass(frozen=True)
class Line:
    """One line of an item's preview: a glossary term's label and a value in vi and zh."""

    label: str
    vi: str
    zh: str = ""
    depth: int = 1


@dataclass(frozen=True)
class Item:
    """One message to send."""

    rows: tuple[int, ...]
    key: str
    to: tuple[str, ...]
    payload: Payload
    lines: tuple[Line, ...]


@dataclass
class Plan:
    """What a file would send (``items``) and what is wrong with it (``problems``)."""

    kind: str
    table: Table
    columns: tuple[Column, ...]
    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}

    @property
    def row_count(self) -> int:
        return len(self.table.rows) + len({p.row for p in self.table.problems})

    def column_label(self, key: str, lang: str) -> str:
        col = next((c for c in self.columns if c.key == key), None)
        return f"{say(col.term, lang)} ({key})" if col else ""

    def problem_text(self, p: Problem, lang: str) -> str:
        where = say("import.row", lang, n=p.row)
        if p.column:
            where += ", " + self.column_label(p.column, lang)
        return f"{where}: {say('import.err.' + p.code, lang, ref=p.ref)}"

    def summary(self, lang: str) -> str:
        return say("import.summary", lang, file=self.table.path.name, rows=self.row_count,
                   bad=len(self.bad_rows), items=len(self.items))

    def preview(self) -> Iterator[str]:
        """What would be sent, bilingual, one block per message."""
        for item in self.items:
            rows = ", ".join(str(n) for n in item.rows)
            kind = say(f"msg.{item.payload.message_type.slug}", "both")
            yield f"[{say('import.row', 'both', n=rows)}] {kind} → {', '.join(item.to)}"
            for line in item.lines:
                vi, zh = label(line.label)
                value = line.vi if not line.zh or line.zh == line.vi else f"{line.vi} / {line.zh}"
                yield f"{'    ' * line.depth}{vi} / {zh}: {value}"
            yield f"    {say('import.key', 'both')}: {item.key}"

    def problem_lines(self, lang: str) -> Iterator[str]:
        for p in sorted(self.problems, key=lambda p: (p.row, p.column)):
            yield self.problem_text(p, lang)

    def to_json(self, lang: str, *, payloads: bool = True) -> dict[str, Any]:
        """The plan as JSON: the items (with their payloads if ``payloads``), the problems
        with their codes and reasons in ``lang``."""
        return {
            "file": self.table.path.name, "kind": self.kind, "rows": self.row_count,
            "ignored_columns": self.table.ignored,
            "items": [{"rows": list(i.rows), "key": i.key, "to": list(i.to),
                       **({"payload": i.payload.to_dict()} if payloads else {})}
                      for i in self.items],
            "problems": [{"row": p.row, "column": p.column, "code": p.code.upper(),
                          "ref": p.ref, "reason": self.problem_text(p, lang)}
                         for p in sorted(self.problems, key=lambda p: (p.row, p.column))],
        }


def stable_key(kind: str, ident: bytes) -> str:
    """The Idempotency-Key of a stable id: ``blo-import-<kind>-`` and 40 hex digits of a
    domain-separated SHA-256 (the id itself, which may be personal data, never leaves)."""
    digest = hashlib.sha256(b"blo-import/" + kind.encode() + b"/v1\0" + ident).hexdigest()
    return f"blo-import-{kind}-{digest[:40]}"


def case_reference_for(prefix: str, key: str) -> str:
    """The case reference of a message whose rows name none: ``prefix`` and ten hex digits
    of its key (``HL-1A2B3C4D5E``), the same on every import of the file. It travels in
    the envelope header in clear, so it is made of the key's digest, never of the row."""
    return f"{prefix}-{key.rsplit('-', 1)[-1][:10].upper()}"
