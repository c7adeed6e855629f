"""The simulated guest of the sandbox: an Ubuntu instance's disk, boot and services,
with a real SSH server and a real HTTP server on loopback."""

from __future__ import annotations

from stemcell.sandbox.machine.boot_model import BootModel
from stemcell.sandbox.machine.catalogue import Catalogue, PackageInfo
from stemcell.sandbox.machine.disk import Disk, DiskError
from stemcell.sandbox.machine.guest import BOOT_STAGES, Guest, decode_user_data, hostname_for
from stemcell.sandbox.machine.shell import IO, Shell
from stemcell.sandbox.machine.system import System

__all__ = ["BOOT_STAGES", "IO", "BootModel", "Catalogue", "Disk", "DiskError", "Guest",
           "PackageInfo", "Shell", "System", "decode_user_data", "hostname_for"]

# Import every command module now: a lazy import on the first command would cost
# wall time, which at a high --speed turns into many modeled seconds.
from stemcell.sandbox.machine.programs import _load as _load_commands

_load_commands()
