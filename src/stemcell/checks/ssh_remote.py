"""Running read-only commands on a host over SSH, for checks.

A small interface (``Remote``) so a check does not care how its command
travels: the project's SSH client (``stemcell.remote.ssh_client``) for real hosts and
sandbox guests, canned answers in unit tests. Connecting knocks the way a
booting server needs (hang, refusal, then SSH) until the host's deadline; only
then is the host called unreachable.

Host keys are verified against the console fingerprints when the EC2 API can
give them. Otherwise a pinned key in stemcell-owned known_hosts files (never
~/.ssh/known_hosts) decides, and an unknown host is trusted only with
``--accept-new`` (OpenSSH's accept-new: pin it once; a changed key is still
refused). Every socket and transport of a host is watched by the host's
``Watchdog``, so no blocked read outlives ``--deadline``.

Sandbox guests are dialled on loopback ports that a later sandbox may hand to
another guest, so each sandbox host gets its own file, named after the host the
TA gave.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stemcell import paths
from stemcell.engine.clock import WallClock
from stemcell.engine.errors import Interrupted, StemcellError
from stemcell.remote import ssh_client
from stemcell.remote.watchdog import Watchdog


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


class Remote(Protocol):
    def run(self, command: str, timeout: float) -> CommandResult:
        """Run ``command``; raise ``CommandTimeout`` past ``timeout`` wall seconds."""
        ...

    def close(self) -> None: ...


class HostUnreachable(Exception):
    """The host could not be reached or would not let us in; every check is moot."""

    def __init__(self, cause: str, hint: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint


class CommandTimeout(Exception):
    pass


def known_hosts_for(host: str, via: str, override: Path | None = None) -> Path:
    if override is not None:
        return override
    folder = paths.home() / "checks"
    if via == "sandbox":
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host)
        return folder / "sandbox-known-hosts" / safe
    return folder / "known_hosts"


class SshRemote:
    """An authenticated ``guest.ssh`` client; each command runs on its own channel."""

    def __init__(self, client: ssh_client.SshClient) -> None:
        self._client = client

    @classmethod
    def connect(
        cls,
        address: tuple[str, int],
        *,
        user: str,
        key_path: Path,
        label: str,
        known_hosts: Path,
        wall_seconds: float,
        cancel: threading.Event,
        fingerprints: Callable[[], dict[str, str]] | None = None,
        watchdog: Watchdog | None = None,
        accept_new: bool = False,
        pin_as: str | None = None,
    ) -> SshRemote:
        """Connect within ``wall_seconds``; failures become ``HostUnreachable``."""
        if wall_seconds <= 0 or (watchdog is not None and watchdog.expired):
            raise HostUnreachable("the host's deadline passed before connecting")
        try:
            client = ssh_client.connect(
                address,
                key_path=key_path,
                known_hosts=known_hosts,
                clock=WallClock(),
                cancel=cancel,
                deadline=wall_seconds,
                user=user,
                label=label,
                fingerprints=fingerprints,
                attempt=min(2.0, wall_seconds),
                retry=0.25,
                handshake_wall=min(10.0, max(1.0, wall_seconds)),
                watchdog=watchdog,
                accept_new=accept_new,
                pin_as=pin_as,
            )
        except Interrupted as exc:
            raise HostUnreachable("the check run was cancelled") from exc
        except StemcellError as exc:
            raise HostUnreachable(exc.message, exc.hint) from exc
        return cls(client)

    def run(self, command: str, timeout: float) -> CommandResult:
        try:
            status, out, err = self._client.run(command, timeout=timeout)
        except Interrupted as exc:
            raise HostUnreachable("the check run was cancelled") from exc
        except ssh_client.SshError as exc:
            watchdog = self._client.watchdog
            if watchdog is not None and watchdog.expired:
                raise HostUnreachable(f"the host's deadline ({watchdog.seconds:.0f} s) "
                                      "passed") from exc
            if self._client.transport.is_active():
                raise CommandTimeout(exc.message) from exc
            raise HostUnreachable(exc.message, exc.hint) from exc
        return CommandResult(status, out, err)

    def close(self) -> None:
        self._client.close()
