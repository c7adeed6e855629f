"""The background sandbox's info file: ``paths.home()/sandbox.json``.

Written by the daemon once it serves, removed when it stops. It holds the
sandbox's credentials (access key, secret, control token), so it is its
owner's alone: mode 0600 in a 0700 folder, and a reader refuses a file that is
not the user's own or that others could read or replace (another local user
could plant one pointing at a sandbox of theirs, or have read the secret).
``alive()`` checks the pid *and* that the control API answers as that very
sandbox (a pid may be reused after a crash).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemcell import paths
from stemcell.engine.errors import ConfigError
from stemcell.sandbox.credentials import SandboxCredentials


class UnsafeInfoFile(ConfigError):
    """The info file is not the user's own, or others may read or replace it."""


@dataclass
class SandboxInfo:
    pid: int
    endpoint_url: str
    control_url: str
    speed: float
    account_id: str
    started_at: float
    log_file: str = ""
    faults: str = ""  # the --faults spec it was started with ("" = none)
    credentials: SandboxCredentials | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """What may be shown (``sandbox start/status --json``): never the credentials."""
        return {k: getattr(self, k) for k in _PUBLIC}

    @property
    def control_token(self) -> str:
        return self.credentials.control_token if self.credentials else ""


_PUBLIC = ("pid", "endpoint_url", "control_url", "speed", "account_id", "started_at", "log_file",
           "faults")
_SECRET = ("access_key_id", "secret_access_key", "control_token")


def info_path() -> Path:
    return paths.home() / "sandbox.json"


def log_path() -> Path:
    return paths.home() / "sandbox.log"


def _check_private(path: Path) -> None:
    """Refuse a file (or its folder) that is not ours or that others may read or write."""
    me = os.geteuid()
    st = path.lstat()  # FileNotFoundError: no sandbox, nothing to judge
    if not stat.S_ISREG(st.st_mode) or st.st_uid != me:
        raise UnsafeInfoFile(
            f"{path} is not a file of yours (owner uid {st.st_uid}): another user may have "
            "planted it; refusing to use it",
            hint=f"remove it (rm {path}) and start the sandbox again")
    if st.st_mode & 0o077:
        raise UnsafeInfoFile(
            f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}): its "
            "credentials may be known to another user; refusing to use it",
            hint=f"stop that sandbox (kill its pid), remove {path} and start it again")
    folder = path.parent.stat()
    if folder.st_uid != me or folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeInfoFile(
            f"{path.parent} is not yours alone (owner uid {folder.st_uid}, mode "
            f"{stat.S_IMODE(folder.st_mode):o}): refusing to trust the sandbox info in it",
            hint=f"chmod 700 {path.parent} (or set STEMCELL_HOME to a folder of your own)")


def read_info() -> SandboxInfo | None:
    """The info file, or None when there is none (or it is unreadable as JSON).

    Raises ``UnsafeInfoFile`` when the file exists but is not safely the user's own.
    """
    path = info_path()
    try:
        _check_private(path)
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    try:
        public = {k: raw[k] for k in _PUBLIC if k in raw}
        secret = raw.get("credentials")
        credentials = SandboxCredentials(**{k: str(secret[k]) for k in _SECRET}) \
            if isinstance(secret, dict) else None
        return SandboxInfo(**public, credentials=credentials)
    except (TypeError, KeyError):
        return None


def write_info(info: SandboxInfo) -> None:
    path = info_path()
    # Its folder is the owner's alone, so no one else can replace the file either.
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".json.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # never write through a file (or link) someone left there
    data = info.to_json()
    if info.credentials is not None:
        data["credentials"] = {k: getattr(info.credentials, k) for k in _SECRET}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data, indent=2))
    os.replace(tmp, path)


def remove_info(pid: int | None = None) -> None:
    """Remove the info file (only if it still names ``pid``, when given)."""
    try:
        current = read_info()
    except UnsafeInfoFile:
        return  # not ours to judge: the reader says so loudly
    if pid is not None and current is not None and current.pid != pid:
        return
    try:
        info_path().unlink()
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False  # 0 and negatives would address process groups, not a process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # An exited daemon whose parent (a container's init) never reaps it still
    # answers kill(pid, 0); /proc says what it really is.
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def alive(info: SandboxInfo, timeout: float = 2.0) -> bool:
    if not pid_alive(info.pid) or info.credentials is None:
        return False
    from stemcell.sandbox.loopback_dialer import fetch_json

    try:
        health = fetch_json(info.control_url + "/health", info.control_token, timeout=timeout)
    except (OSError, ValueError):
        return False
    return bool(health and health.get("ok") and health.get("account_id") == info.account_id)
