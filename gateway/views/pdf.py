"""Bilingual PDF documents: Vietnamese and Chinese side by side, laid out from the schema labels.

Fonts come from Debian's packages: DejaVu Sans (``fonts-dejavu-core``) for Latin script with
Vietnamese diacritics, and WenQuanYi Micro Hei (``fonts-wqy-microhei``) for Hanzi, used as a
fallback glyph by glyph. Both are embedded (subset) in the PDF, so it reads the same anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

from gateway.protocol.errors import ConfigError
from gateway.views.render import Row

__all__ = ["FONT_PATHS", "bilingual_pdf"]

FONT_PATHS = {
    "latin": ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    "latin-bold": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    "cjk": ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"],
}


def _font(kind: str) -> str:
    for p in FONT_PATHS[kind]:
        if Path(p).exists():
            return p
    raise ConfigError("PDF fonts are missing: install the Debian packages fonts-dejavu-core "
                      "and fonts-wqy-microhei")


def bilingual_pdf(title: tuple[str, str], sections: Sequence[tuple[tuple[str, str], list[Row]]],
                  *, footer: Sequence[tuple[str, str]] = (),
                  signature_lines: Sequence[tuple[str, str]] = ()) -> bytes:
    """A PDF with a two-column table per section (vi left, zh right), then signature lines."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("latin", "", _font("latin"))
    pdf.add_font("latin", "B", _font("latin-bold"))
    pdf.add_font("cjk", "", _font("cjk"))
    pdf.add_font("cjk", "B", _font("cjk"))
    pdf.set_fallback_fonts(["cjk"])
    pdf.add_page()
    pdf.set_font("latin", "B", 14)
    pdf.multi_cell(0, 8, f"{title[0]}\n{title[1]}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for heading, rows in sections:
        pdf.set_font("latin", "B", 10)
        pdf.multi_cell(0, 6, f"{heading[0]} / {heading[1]}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("latin", "", 9)
        with pdf.table(col_widths=(1, 1), first_row_as_headings=False, line_height=5,
                       text_align="LEFT",
                       padding=1) as table:
            for r in rows:
                indent = "    " * r.depth
                left = f"{indent}{r.label_vi}" + (f": {r.value_vi}" if r.value_vi else "")
                right = f"{indent}{r.label_zh}" + (f"：{r.value_zh}" if r.value_zh else "")
                row = table.row()
                row.cell(left)
                row.cell(right)
        pdf.ln(3)
    pdf.set_font("latin", "", 9)
    for vi, zh in footer:
        pdf.multi_cell(0, 5, f"{vi} / {zh}", new_x="LMARGIN", new_y="NEXT")
    if signature_lines:
        pdf.ln(6)
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(signature_lines)
        y = pdf.get_y()
        for i, (vi, zh) in enumerate(signature_lines):
            pdf.set_xy(pdf.l_margin + i * width, y)
            pdf.multi_cell(width - 4, 5, f"{vi}\n{zh}\n\n\n\n_________________________",
                           align="C")
    return bytes(pdf.output())
