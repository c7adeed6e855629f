"""Where stemcell keeps its data (the shipped labs and profiles: ``content.shipped``).

Data lives under the platform's user data dir unless ``STEMCELL_HOME`` says
otherwise, so tests and CI can point every run at a throwaway folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from stemcell.engine.errors import ConfigError
from stemcell.engine.run_folder import RunFolder

# A run id is what ``new_run_id`` makes (20260131-120000-a1b2c3) or a cleanup's own
# id; whatever a user types must match this before it becomes part of a path, so
# ``../../x`` or an absolute path can never name a folder outside the runs folder.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")


def home() -> Path:
    override = os.environ.get("STEMCELL_HOME")
    root = Path(override) if override else Path(platformdirs.user_data_dir("stemcell", False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a well-formed run id, else a ConfigError (exit 2)."""
    if not RUN_ID.fullmatch(run_id):
        raise ConfigError(
            f"{run_id!r} is not a run id",
            hint="Run ids look like 20260131-120000-a1b2c3; `stemcell runs` lists them.")
    return run_id


def run_dir(run_id: str) -> Path:
    """The folder of run ``run_id``: validated, and always inside the runs folder."""
    root = runs_dir()
    path = root / check_run_id(run_id)
    if not is_inside(path, root):  # a symlinked run folder pointing elsewhere
        raise ConfigError(f"run folder {path} is outside {root}")
    return path


def run_folder(run_id: str) -> RunFolder:
    """``run_dir`` as the ``RunFolder`` that names every file in it."""
    return RunFolder(run_dir(run_id))


def resolve_run(arg: str) -> Path:
    """The run folder a user named by run id or by path; either way inside the runs folder."""
    if "/" in arg or os.sep in arg or arg in (".", ".."):
        path = Path(arg).expanduser()
        if not is_inside(path, runs_dir()) or path.resolve() == runs_dir().resolve():
            raise ConfigError(f"{arg} is not a run folder inside {runs_dir()}",
                              hint="Give the run id (`stemcell runs` lists them).")
        return path.resolve()
    return run_dir(arg)


def is_inside(path: Path, folder: Path) -> bool:
    """True if ``path`` (symlinks resolved) lies inside ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True
