"""Simulated commands, one module per family. Each is ``fn(shell, argv, io) -> status``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemcell.cloud.sandbox.guest.shell import IO, Shell

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
    from stemcell.cloud.sandbox.guest.commands import (  # noqa: F401
        apache,
        apt,
        archive,
        builtins,
        cloudinit,
        files,
        net,
        system,
        systemd,
        text,
    )

    _loaded = True
