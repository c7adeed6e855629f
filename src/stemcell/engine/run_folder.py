"""A run's folder: the one place that names every file a run keeps.

``<STEMCELL_HOME>/runs/<run-id>/`` holds::

    state.json             what the run did and owns (``state``), 0600
    recording.jsonl        the first session's events (``recorder``), 0600
    recording-N.jsonl      each resumed session's events, N = 2, 3, ...
    run.lock               held while a process runs the run (``run_lock``)
    ssh/                   0700: the run's key and the host keys it pinned
      id_ed25519           the private key, 0600 from its first byte
      id_ed25519.pub
      known_hosts          the run's own pinned host keys (never ~/.ssh/known_hosts)
    handson/               0700: files a hands-on student's commands name (user data)

Everyone - engine, steps, hands-on tasks, CLI, TUI, tools - asks this class for a
path rather than spelling it, so a file cannot be looked for in one place and
written in another. The folder holds private keys, so it and its subfolders are
made 0700 and secret files 0600, each created with that mode (never wider for a
moment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_NAME = "state.json"
RECORDING_NAME = "recording.jsonl"
LOCK_NAME = "run.lock"
KEY_NAME = "id_ed25519"

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __str__(self) -> str:
        return str(self.path)

    @property
    def run_id(self) -> str:
        return self.path.name

    # --- files ----------------------------------------------------------------------
    @property
    def state(self) -> Path:
        return self.path / STATE_NAME

    @property
    def recording(self) -> Path:
        """The first session's recording."""
        return self.path / RECORDING_NAME

    def segment(self, number: int) -> Path:
        """A resumed session's recording (numbers start at 2: the first is ``recording``)."""
        return self.path / f"recording-{number}.jsonl"

    def recordings(self) -> list[Path]:
        """Every recording that exists, in session order (first, then 2, 3, ...)."""
        def number(path: Path) -> int:
            tail = path.stem.rpartition("-")[2]
            return int(tail) if tail.isdigit() else 0

        first = [self.recording] if self.recording.is_file() else []
        return first + sorted(self.path.glob("recording-*.jsonl"), key=number)

    def next_recording(self, resumed: bool) -> Path:
        """Where a session records: the first recording, or a resumed session's segment
        (one more than the recordings already there, so none is ever overwritten)."""
        if not resumed:
            return self.recording
        return self.segment(len(list(self.path.glob("recording*.jsonl"))) + 1)

    @property
    def lock(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def ssh(self) -> Path:
        return self.path / "ssh"

    @property
    def key(self) -> Path:
        """The run's private key (``.pub`` beside it)."""
        return self.ssh / KEY_NAME

    @property
    def public_key(self) -> Path:
        return self.ssh / f"{KEY_NAME}.pub"

    @property
    def known_hosts(self) -> Path:
        return self.ssh / "known_hosts"

    @property
    def handson(self) -> Path:
        return self.path / "handson"

    # --- making them ----------------------------------------------------------------
    def create(self) -> RunFolder:
        """Make the folder of a new run (0700: keys live here); an existing one is an error."""
        self.path.mkdir(parents=True, exist_ok=False, mode=PRIVATE_DIR)
        return self

    def ensure(self) -> RunFolder:
        """Make the folder if it is missing (a lock taken in a test's bare folder)."""
        private_dirs(self.path)
        return self

    def private_dir(self, folder: Path) -> Path:
        """``folder`` (``ssh``, ``handson`` or one below), made 0700 if missing."""
        return private_dirs(folder)


def private_dirs(folder: Path) -> Path:
    """``folder`` and every missing folder above it, each made 0700.

    ``mkdir(parents=True, mode=...)`` gives the mode to the last folder only: the
    ones it makes on the way get the umask's (often 0755).
    """
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    return folder


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a file only its owner can read, created 0600 (replacing any old one).

    For the run's key and a hands-on student's user data (it holds a presigned URL).
    Its folder is made 0700 if missing. ``O_EXCL`` after the unlink: a file or
    symlink someone slipped in between is an error, never followed.
    """
    private_dirs(path.parent)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
