"""Make text from someone else's machine safe to show or write down.

A student's server (or a recording someone hands us) controls every byte it
sends. Terminal control sequences in that text would act on the TA's terminal:
OSC 52 writes the clipboard, OSC 0/2 retitles the window, CSI 2J clears the
screen, CSI ... m can hide text, 8-bit C1 codes do the same on some terminals,
and Unicode bidi overrides reorder what is shown ("Trojan Source"). This module
is the one place that strips them; the SSH client, the checker's reports, the
recorder, the printer and the view model all call it.

Kept: newline and tab. Removed: whole escape sequences (CSI, OSC, DCS, SOS, PM,
APC, and two-byte ESC sequences), every other C0 control, DEL, C1 controls
(U+0080-U+009F) and bidi embedding/override/isolate characters. A lone control
character becomes U+FFFD so that a reader can see something was there.
"""

from __future__ import annotations

import re

_ESC_SEQUENCES = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]                 # CSI ... final byte (colours, clear screen)
    | \x1b[\]PX^_] .*? (?:\x07|\x1b\\|\x9c|\Z)   # OSC / DCS / SOS / PM / APC ... terminator
    | \x9b [0-?]* [ -/]* [@-~]                   # 8-bit CSI
    | [\x9d\x90\x98\x9e\x9f] .*? (?:\x07|\x1b\\|\x9c|\Z)  # 8-bit OSC/DCS/SOS/PM/APC
    | \x1b [ -/]* [0-~]                          # two-byte (and nF) ESC sequences
    """,
    re.X | re.S,
)
# C0 except \t (0x09) and \n (0x0a); DEL; C1; bidi embeddings, overrides, isolates
# and marks (U+200E/F, U+061C).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def sanitise(text: str) -> str:
    """``text`` without terminal control sequences or controls (newline and tab kept)."""
    if not _CONTROLS.search(text):  # the common case: nothing to do, no copy
        return text
    text = _ESC_SEQUENCES.sub("", text)
    text = text.replace("\r\n", "\n")
    return _CONTROLS.sub("\ufffd", text)


def sanitise_line(text: str) -> str:
    """One line of output: as ``sanitise``, and a progress bar's ``\\r`` keeps its last frame."""
    if "\r" in text:
        text = text.rstrip("\r").rsplit("\r", 1)[-1]
    return sanitise(text)
