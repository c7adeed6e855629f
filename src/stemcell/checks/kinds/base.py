"""What a check kind returns, and small helpers shared by the kinds."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    passed: bool
    expected: str
    actual: str
    # Specifics the spec's generic fail message cannot know ("mode is 600").
    detail: str = ""


def q(value: str) -> str:
    """Quote for the remote shell: real bash and the sandbox interpreter both accept it."""
    return shlex.quote(value)


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""
