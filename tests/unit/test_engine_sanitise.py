"""Text from someone else's machine, made safe for a terminal."""

from __future__ import annotations

import pytest

from stemcell.engine.sanitise import sanitise, sanitise_line


@pytest.mark.parametrize("raw, shown", [
    ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),  # OSC 52 clipboard write, BEL-terminated
    ("a\x1b]0;title\x1b\\b", "ab"),  # window title, ST-terminated
    ("a\x1b[2J\x1b[Hb", "ab"),  # clear screen, cursor home
    ("a\x1b[8mhidden\x1b[0mb", "ahiddenb"),  # conceal: the text stays, visible
    ("a\x9b31mb", "ab"),  # 8-bit CSI
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
    ("a\x1b(0b", "ab"),  # charset switch
    ("tab\tnew\nline", "tab\tnew\nline"),  # kept
    ("bell\x07 del\x7f nul\x00", "bell\ufffd del\ufffd nul\ufffd"),
    ("abc\u202eevil\u202c", "abc\ufffdevil\ufffd"),  # bidi override
    ("lone \x1b", "lone \ufffd"),
    ("plain text, ünïcödé ✓", "plain text, ünïcödé ✓"),
])
def test_sanitise(raw: str, shown: str) -> None:
    assert sanitise(raw) == shown


def test_a_progress_line_keeps_its_last_frame() -> None:
    assert sanitise_line("10%\r50%\r100%\r") == "100%"
