"""The importer's words: every string a user reads comes from the one glossary.

A term's text may hold ``{name}`` slots (``import.row``: "Dòng {n}" / "第 {n} 行"), filled
here. ``lang`` is ``vi``, ``zh`` or ``both`` ("vi / zh"); previews are always bilingual,
messages (errors, totals) follow ``--lang``.
"""

from __future__ import annotations

from gateway.protocol.glossary import term

__all__ = ["LANGS", "label", "say"]

LANGS = ("vi", "zh", "both")


def _fill(text: str, params: dict[str, object]) -> str:
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def say(key: str, lang: str, **params: object) -> str:
    """The glossary term ``key`` in ``lang`` with its ``{slots}`` filled."""
    t = term(key)
    if lang == "vi":
        return _fill(t.vi, params)
    if lang == "zh":
        return _fill(t.zh, params)
    vi, zh = _fill(t.vi, params), _fill(t.zh, params)
    return vi if vi == zh else f"{vi} / {zh}"


def label(key: str) -> tuple[str, str]:
    """(vi, zh) of a term (for bilingual previews)."""
    t = term(key)
    return t.vi, t.zh
