"""What a guest's systemd unit asks the worker to run (systemd.service(5)):
the ``[Service]`` program, its user, folder and environment, and its ``Restart=``
policy; and whether a program is Python (so it runs in the worker at all)."""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

from stemcell.sandbox.machine.disk import ROOT, DiskError
from stemcell.sandbox.machine.system import System

PYTHONS = ("python3", "python3.12", "python3.11", "python3.10", "python")


def is_python(argv: list[str]) -> bool:
    return bool(argv) and posixpath.basename(argv[0]) in PYTHONS


@dataclass(frozen=True)
class ServiceSpec:
    argv: list[str]
    user: str
    cwd: str
    env: dict[str, str]
    restart: str = "no"
    restart_sec: float = 0.1


def service_spec(system: System, unit: str) -> ServiceSpec | None:
    """A unit's [Service] program (systemd.service(5): ExecStart=, User=,
    WorkingDirectory=, Environment=), or None if it has no file or no ExecStart."""
    path = system.unit_file(unit)
    if path is None:
        return None
    try:
        text = system.disk.read_text(path)
    except DiskError:
        return None
    argv: list[str] = []
    user, cwd, env = ROOT, "/", {}
    restart, restart_sec = "no", 0.1
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "ExecStart" and value:
            try:
                argv = shlex.split(value.lstrip("-@:+!"))
            except ValueError:
                return None
        elif key == "User" and value:
            user = value
        elif key == "Restart" and value:
            restart = value
        elif key == "RestartSec" and value:
            restart_sec = _seconds(value, restart_sec)
        elif key == "WorkingDirectory" and value.startswith("/"):
            cwd = value
        elif key == "Environment":
            try:
                for item in shlex.split(value):
                    k, eq, v = item.partition("=")
                    if eq:
                        env[k] = v
            except ValueError:
                pass
    return ServiceSpec(argv, user, cwd, env, restart, restart_sec) if argv else None


def _seconds(value: str, default: float) -> float:
    """A systemd time span ("100ms", "5", "2s", "1min"): systemd.time(7)."""
    units = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    text = value.strip()
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix) and text[: -len(suffix)].strip():
            text, mult = text[: -len(suffix)].strip(), units[suffix]
            break
    else:
        mult = 1.0
    try:
        return max(0.0, float(text) * mult)
    except ValueError:
        return default


def runs_in_worker(system: System, argv: list[str]) -> bool:
    """Is this a Python program (by its interpreter or a script's #! line)?"""
    if is_python(argv):
        return True
    if argv and argv[0].startswith("/") and system.disk.is_file(argv[0]):
        first = system.disk.read(argv[0])[:200].split(b"\n", 1)[0]
        return first.startswith(b"#!") and b"python" in first
    return False


def restarts(policy: str, code: int) -> bool:
    """Does Restart=``policy`` restart a main process that ended with ``code``?
    (systemd.service(5), table "Exit causes and the effect of the Restart= settings")"""
    clean = code == 0 or code in (-1, -2, -13, -15)  # SIGHUP, SIGINT, SIGPIPE, SIGTERM
    if policy == "always":
        return True
    if policy == "on-success":
        return clean
    if policy == "on-failure":
        return not clean
    if policy == "on-abnormal":
        return code < 0 and not clean
    if policy == "on-abort":
        return code < 0 and code not in (-1, -2, -13, -15)
    return False
