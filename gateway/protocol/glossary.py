"""The project glossary: one file, ``glossary.tsv``, holds every term in vi and zh.

Schema labels are written from it into ``schemas/`` by ``tools/regen.py``; terms
that are not schema elements (UI words such as delivery states) are read from it
at run time. A term key is stable; its texts are what a native speaker corrects.

The file is read and written with the ``csv`` module: tab-separated, a cell quoted
when it holds a tab or a double quote (``"`` doubled inside), as a spreadsheet exports
it; lines starting with ``#`` are comments. ``dump_glossary`` writes the same dialect,
so a file read and written back is unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["Term", "dump_glossary", "load_glossary", "preamble_of", "save_glossary", "term"]

_COLUMNS = ("term", "vi", "zh", "en")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_KEY = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")


class _Dialect(csv.Dialect):
    """Tab-separated, quoted only where needed (a cell with a tab, quote or line break), as
    spreadsheets export it; a quote inside a quoted cell is doubled."""

    delimiter = "\t"
    quotechar = '"'
    doublequote = True
    quoting = csv.QUOTE_MINIMAL
    lineterminator = "\n"
    skipinitialspace = False
    strict = True


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    key: str
    vi: str
    zh: str
    en: str
    reviewed: bool

    def text(self, lang: str) -> str:
        """The label in ``vi`` or ``zh``; ``both`` gives "vi / zh"."""
        if lang == "vi":
            return self.vi
        if lang == "zh":
            return self.zh
        return f"{self.vi} / {self.zh}"


def _records(text: str, line: list[int]) -> Iterator[str]:
    """The lines csv reads, without comment lines; ``line[0]`` tracks the source line."""
    for n, raw in enumerate(text.splitlines(keepends=True), start=1):
        line[0] = n
        if raw.startswith("#"):
            continue
        yield raw


def _parse(text: str, source: str) -> dict[str, Term]:
    terms: dict[str, Term] = {}
    header_seen = False
    line = [0]
    try:
        for cols in csv.reader(_records(text, line), _Dialect):
            where = f"{source}:{line[0]}"
            if not any(c.strip() for c in cols):
                continue
            if not header_seen:
                if tuple(cols[:4]) != _COLUMNS:
                    raise ValueError(f"{where}: header must start with {_COLUMNS}")
                header_seen = True
                continue
            if len(cols) not in (4, 5) or not all(c.strip() for c in cols[:4]):
                raise ValueError(f"{where}: need term, vi, zh, en (tab-separated)")
            if any(_CONTROL.search(c) for c in cols):
                raise ValueError(f"{where}: a cell holds a line break or control character "
                                 "(an unclosed quote?); only tabs are allowed")
            key = cols[0].strip()
            if not _KEY.fullmatch(key):
                raise ValueError(f"{where}: term {key!r}: lower-case letters, digits, _ and .")
            if key in terms:
                raise ValueError(f"{where}: term {key!r} appears twice")
            reviewed = len(cols) == 4 or cols[4].strip() != "?"
            terms[key] = Term(key, cols[1].strip(), cols[2].strip(), cols[3].strip(), reviewed)
    except csv.Error as e:
        raise ValueError(f"{source}:{line[0]}: {e} (an unclosed quote?)") from e
    if not header_seen:
        raise ValueError(f"{source}: no header line {_COLUMNS}")
    return terms


def preamble_of(text: str) -> str:
    """The comment lines at the top of a glossary file (kept when it is written back)."""
    out = []
    for raw in text.splitlines(keepends=True):
        if not raw.startswith("#"):
            break
        out.append(raw)
    return "".join(out)


def dump_glossary(terms: Mapping[str, Term], preamble: str = "") -> str:
    """The file text for ``terms``, in order: header, then one row per term; the review
    column only where a term is not reviewed ("?")."""
    out = io.StringIO()
    out.write(preamble)
    w = csv.writer(out, _Dialect)
    w.writerow([*_COLUMNS, "review"])
    for t in terms.values():
        w.writerow([t.key, t.vi, t.zh, t.en] + ([] if t.reviewed else ["?"]))
    return out.getvalue()


def save_glossary(path: Path, terms: Mapping[str, Term], preamble: str = "") -> None:
    path.write_text(dump_glossary(terms, preamble), encoding="utf-8")


def load_glossary(path: Path | None = None) -> dict[str, Term]:
    """Parse a glossary file (by default the packaged one)."""
    if path is None:
        return dict(_packaged())
    return _parse(path.read_text(encoding="utf-8"), str(path))


@cache
def _packaged() -> dict[str, Term]:
    text = resources.files("gateway.protocol").joinpath("glossary.tsv").read_text(encoding="utf-8")
    return _parse(text, "gateway/protocol/glossary.tsv")


def term(key: str) -> Term:
    """Look up a term in the packaged glossary; KeyError names the missing key."""
    return _packaged()[key]
