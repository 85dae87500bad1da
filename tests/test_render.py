"""Bilingual rendering from the schema labels."""

from __future__ import annotations

import re

import pytest

from gateway.protocol.scenario import case_payloads
from gateway.views.render import render

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("step", case_payloads(), ids=lambda s: s.payload.message_type.slug)
def test_every_type_renders_in_each_language(step):
    vi = render(step.payload, "vi")
    zh = render(step.payload, "zh")
    both = render(step.payload, "both")
    # Labels are in the reader's language; values keep their own script.
    assert not HAN.search(vi.splitlines()[0])
    assert HAN.search(zh.splitlines()[0])
    assert len(both.splitlines()) >= len(vi.splitlines())
    assert "LC-2026-0042" in vi and "LC-2026-0042" in zh


def test_names_keep_their_script_and_times_their_zone():
    request = case_payloads()[2].payload
    zh = render(request, "zh")
    assert "Giàng Thị Mai (王氏梅; Giang Thi Mai)" in zh
    assert "2026-03-04T10:40+08:00" in zh


def test_localized_text_shows_each_side():
    report = case_payloads()[0].payload
    assert "ba tuần" in render(report, "vi")
    assert "三周" in render(report, "zh")


def test_wrapping_a_long_free_text_is_linear_and_keeps_every_word():
    """A peer's 60,000-word account must render (it took minutes when wrapping was
    quadratic); every line fits its column and no word is lost."""
    from gateway.views.render import _width, _wrap

    text = " ".join(f"từ{i}" if i % 3 else f"字{i}" for i in range(60_000))
    lines = _wrap(text, 50, 2)
    assert all(_width(line) <= 50 for line in lines[:-1])
    assert " ".join(line.strip() for line in lines).split() == text.split()
