"""The simulated guest of the sandbox: an Ubuntu instance's disk, boot and services,
with a real SSH server and a real HTTP server on loopback."""

from __future__ import annotations

from stemcell.cloud.sandbox.guest.catalogue import Catalogue, PackageInfo
from stemcell.cloud.sandbox.guest.disk import Disk, DiskError
from stemcell.cloud.sandbox.guest.machine import PHASES, Guest, decode_user_data, hostname_for
from stemcell.cloud.sandbox.guest.model import BootModel
from stemcell.cloud.sandbox.guest.shell import IO, Shell
from stemcell.cloud.sandbox.guest.system import System

__all__ = ["IO", "PHASES", "BootModel", "Catalogue", "Disk", "DiskError", "Guest", "PackageInfo",
           "Shell", "System", "decode_user_data", "hostname_for"]

# Import every command module now: a lazy import on the first command would cost
# wall time, which at a high --speed turns into many modeled seconds.
from stemcell.cloud.sandbox.guest.commands import _load as _load_commands

_load_commands()
