"""Where the shipped labs and profiles are: inside the package in a wheel, the
repository's top-level folders in a source checkout."""

from __future__ import annotations

from pathlib import Path


def shipped_dir(kind: str) -> Path:
    """The folder holding shipped ``labs`` or ``profiles``.

    In a wheel they sit inside the package (``_shipped``); in a source checkout
    (editable install, tests) they are the top-level folders of the repository.
    """
    packaged = Path(__file__).resolve().parents[1] / "_shipped" / kind
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[3] / kind
    if source.is_dir():
        return source
    raise FileNotFoundError(f"shipped {kind} not found (looked in {packaged} and {source})")
