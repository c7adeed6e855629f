"""Simulated commands, one module per family. Each is ``fn(shell, argv, io) -> status``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemcell.sandbox.machine.shell import IO, Shell

Command = Callable[["Shell", list[str], "IO"], int]
REGISTRY: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    def deco(fn: Command) -> Command:
        for n in names:
            REGISTRY[n] = fn
        return fn

    return deco


def lookup(name: str) -> Command | None:
    _load()
    return REGISTRY.get(name)


def names() -> list[str]:
    _load()
    return sorted(REGISTRY)


_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    from stemcell.sandbox.machine.programs import (  # noqa: F401
        apache_tools,
        apt,
        archive,
        awk,
        builtins,
        cloud_init_tool,
        editors,
        file_info,
        files,
        logs,
        net,
        procs,
        python3,
        resources,
        sed,
        sysinfo,
        systemd,
        textutils,
    )

    _loaded = True
