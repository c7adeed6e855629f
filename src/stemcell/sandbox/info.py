"""The background sandbox's info file: ``paths.home()/sandbox.json``.

Written by the daemon once it serves, removed when it stops. Anyone may read
it to find the endpoint; ``alive()`` checks the pid *and* that the control API
answers as that very sandbox (a pid may be reused after a crash).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stemcell import paths


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def info_path() -> Path:
    return paths.home() / "sandbox.json"


def log_path() -> Path:
    return paths.home() / "sandbox.log"


def read_info() -> SandboxInfo | None:
    try:
        raw = json.loads(info_path().read_text())
        return SandboxInfo(**{k: raw[k] for k in SandboxInfo.__dataclass_fields__ if k in raw})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_info(info: SandboxInfo) -> None:
    path = info_path()
    tmp = path.with_suffix(".json.tmp")
    # Only its owner needs it (it names the account and the endpoints).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(info.to_json(), indent=2))
    os.replace(tmp, path)


def remove_info(pid: int | None = None) -> None:
    """Remove the info file (only if it still names ``pid``, when given)."""
    current = read_info()
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
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def alive(info: SandboxInfo, timeout: float = 2.0) -> bool:
    if not pid_alive(info.pid):
        return False
    from stemcell.sandbox.loopback_dialer import fetch_json

    try:
        health = fetch_json(info.control_url + "/health", timeout=timeout)
    except (OSError, ValueError):
        return False
    return bool(health and health.get("ok") and health.get("account_id") == info.account_id)
