"""A QR code as inline SVG (segno: pure Python, maintained), for the second factor's
``otpauth://`` URI shown once to a new or reset user. The SVG has no script and no style
attribute, so the pages' Content-Security-Policy holds; the text is always shown beside it.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

__all__ = ["qr_svg"]


def qr_svg(text: str, *, scale: int = 4) -> Markup:
    """``text`` as a QR code (error correction M), an ``<svg>`` element to embed."""
    svg = segno.make(text, error="m").svg_inline(scale=scale, title="QR", dark="#000",
                                                  light="#fff")
    return Markup(svg)  # noqa: S704 - made here from segno's output, no user markup
