"""Where stemcell keeps its data, and where the shipped labs and profiles are.

Data lives under the platform's user data dir unless ``STEMCELL_HOME`` says
otherwise, so tests and CI can point every run at a throwaway folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def home() -> Path:
    override = os.environ.get("STEMCELL_HOME")
    root = Path(override) if override else Path(platformdirs.user_data_dir("stemcell", False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir(run_id: str) -> Path:
    return runs_dir() / run_id


def shipped_dir(kind: str) -> Path:
    """The folder holding shipped ``labs`` or ``profiles``.

    In a wheel they sit inside the package (``_shipped``); in a source checkout
    (editable install, tests) they are the top-level folders of the repository.
    """
    packaged = Path(__file__).parent / "_shipped" / kind
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / kind
    if source.is_dir():
        return source
    raise FileNotFoundError(f"shipped {kind} not found (looked in {packaged} and {source})")
