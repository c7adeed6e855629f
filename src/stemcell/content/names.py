"""From a lab or profile name to its file: one rule for every command.

``lab1`` finds ``labs/lab1-stem-cell.yaml`` (a shipped file whose name is the
given one or starts with it and a dash), a path to a ``.yaml`` file is taken as
it is. ``stemcell run``, the app and ``stemcell check`` all resolve names here.
"""

from __future__ import annotations

from pathlib import Path

from stemcell.content.shipped import shipped_dir


class UnknownContent(LookupError):
    """No such lab or profile; the message lists what is shipped."""


def content_path(kind: str, name: str) -> Path:
    """The YAML file of the ``kind`` ("lab" or "profile") called ``name``."""
    candidate = Path(name).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise UnknownContent(f"{kind} file not found: {candidate}")
        return candidate
    folder = shipped_dir(f"{kind}s")
    for path in sorted(folder.glob("*.y*ml")):
        if path.stem == name or path.stem.startswith(f"{name}-"):
            return path
    known = ", ".join(sorted(p.stem for p in folder.glob("*.y*ml")))
    raise UnknownContent(f"unknown {kind} {name!r} (shipped: {known}; or give a path to a "
                         ".yaml file)")
