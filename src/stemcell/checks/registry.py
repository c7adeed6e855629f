"""Check kind -> the function that judges it."""

from __future__ import annotations

from collections.abc import Callable

from stemcell.checks.kinds import command, file, http, image, instance, package, service, socket
from stemcell.checks.kinds.base import Verdict
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec

CheckFn = Callable[[CheckSpec, Probe], Verdict]

KINDS: dict[str, CheckFn] = {
    "package": package.check,
    "service": service.check,
    "socket": socket.check,
    "file": file.check,
    "command": command.check,
    "http": http.check,
    "image": image.check,
    "instance": instance.check,
}

# Kinds that need nothing from the host itself, so they still run when it is unreachable.
CLOUD_KINDS = frozenset({"image", "instance"})
