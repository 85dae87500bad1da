"""The project glossary: one file, ``glossary.tsv``, holds every term in vi and zh.

Schema labels are written from it into ``schemas/`` by ``tools/regen.py``; terms
that are not schema elements (UI words such as delivery states) are read from it
at run time. A term key is stable; its texts are what a native speaker corrects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["Term", "load_glossary", "term"]

_COLUMNS = ("term", "vi", "zh", "en")


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


def _parse(text: str, source: str) -> dict[str, Term]:
    terms: dict[str, Term] = {}
    header_seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        if not header_seen:
            if tuple(cols[:4]) != _COLUMNS:
                raise ValueError(f"{source}:{lineno}: header must start with {_COLUMNS}")
            header_seen = True
            continue
        if len(cols) not in (4, 5) or not all(c.strip() for c in cols[:4]):
            raise ValueError(f"{source}:{lineno}: need term, vi, zh, en (tab-separated)")
        key = cols[0].strip()
        if key in terms:
            raise ValueError(f"{source}:{lineno}: term {key!r} appears twice")
        reviewed = len(cols) == 4 or cols[4].strip() != "?"
        terms[key] = Term(key, cols[1].strip(), cols[2].strip(), cols[3].strip(), reviewed)
    return terms


def load_glossary(path: Path | None = None) -> dict[str, Term]:
    """Parse a glossary file (by default the packaged one)."""
    if path is None:
        return dict(_packaged())
    return _parse(path.read_text(encoding="utf-8"), str(path))


@cache
def _packaged() -> dict[str, Term]:
    text = resources.files("gateway").joinpath("glossary.tsv").read_text(encoding="utf-8")
    return _parse(text, "gateway/glossary.tsv")


def term(key: str) -> Term:
    """Look up a term in the packaged glossary; KeyError names the missing key."""
    return _packaged()[key]
