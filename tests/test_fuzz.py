"""Bounded fuzzing in CI: every parser a peer or user reaches, and both live APIs (issue 9).

``tools/fuzz.py`` is the long run (see its --help); here it runs a few thousand inputs so
that a parser that starts crashing, or an API that answers 5xx, fails CI.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol import strict
from gateway.protocol.errors import Malformed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import fuzz


def test_fuzz_tool_finds_no_crash_and_no_5xx(tmp_path, capsys):
    code = fuzz.main(["--inputs", "6000", "--http", "600", "--seed", "20261202",
                      "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert int(total.split()[1]) == 6600
    assert int(total.split()[-1]) == 0


def test_the_fuzzer_reports_a_crash(tmp_path, monkeypatch, capsys):
    """The fuzzer itself can fail: a parser that raises a non-gateway error is a crash."""
    def broken(_: bytes) -> None:
        raise KeyError("boom")
    real = fuzz.parser_targets
    monkeypatch.setattr(fuzz, "parser_targets",
                        lambda s: {**real(s), "envelope": ([b"x"], broken)})
    assert fuzz.main(["--inputs", "50", "--http", "0", "--out", str(tmp_path)]) == 1
    assert list(tmp_path.glob("crash-envelope-*.txt"))
    capsys.readouterr()


@given(st.text(max_size=25))
def test_uint_accepts_only_ascii_decimal(text):
    try:
        value = strict.uint(text, "n", max_digits=20)
    except Malformed:
        assert not (text.isascii() and text.isdigit() and (text == "0" or text[0] != "0")
                    and len(text) <= 20)
    else:
        assert str(value) == text


@given(st.binary(max_size=64))
def test_b64_round_trips_and_refuses_other_spellings(raw):
    text = base64.b64encode(raw).decode()
    assert strict.b64(text, "x") == raw
    for bad in (text + "\n", " " + text, text.rstrip("=") if "=" in text else text + "="):
        with pytest.raises(Malformed):
            strict.b64(bad, "x")


@pytest.mark.parametrize("text", ["²", "١٢", "+1", " 1", "1_000", "01", "-0", "1e3", "０"])
def test_uint_refuses_loose_spellings(text):
    with pytest.raises(Malformed):
        strict.uint(text, "n")
