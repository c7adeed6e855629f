"""docs/sandbox-guest.md lists every command the guest simulates: a command registered
under sandbox/machine/programs but missing from the doc's command table fails here."""

from __future__ import annotations

import re
from pathlib import Path

from stemcell.sandbox.machine import programs

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox-guest.md"


def table_commands() -> dict[str, set[str]]:
    """Family -> the names in its row's "commands" cell (inside backticks; options in
    parentheses and words starting with '-' are not names)."""
    text = DOC.read_text()
    start = text.index("| family | commands | differs from Ubuntu |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("| "):
            break
        family, cell = [c.strip() for c in line.strip("|").split(" | ")[:2]]
        names: set[str] = set()
        for code in re.findall(r"`([^`]+)`", cell):
            code = re.sub(r"\([^()]*\)", " ", code)  # option lists: ls (-l -a ...)
            for word in re.split(r"[\s,]+", code):
                for name in word.split("/") if word not in ("/",) else []:
                    if name and not name.startswith(("-", "+", "'", '"', "$", "{")):
                        names.add(name)
        rows[family] = names
    return rows


def test_every_registered_command_is_in_the_doc() -> None:
    listed = set().union(*table_commands().values())
    missing = sorted(set(programs.names()) - listed)
    assert not missing, f"registered but not in docs/sandbox-guest.md's command table: {missing}"


def test_the_parser_sees_what_the_table_says() -> None:
    """Guards the parser above (a parser that found nothing would pass the first test
    only if nothing were registered): known names in known rows."""
    rows = table_commands()
    assert {"date", "timedatectl", "uptime"} <= rows["system"]
    assert {"apache2ctl", "apache2"} <= rows["apache"]
    assert {"php", "php8.1", "php8.3"} <= rows["php"]
    assert {"ls", "chown", "chgrp", "stat"} <= rows["files"]
    assert not any(n.startswith("-") for names in rows.values() for n in names)
