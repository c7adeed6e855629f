"""socket: something listens on a TCP port, as ``ss -tln`` lists it."""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec


def listening_ports(ss_output: str) -> dict[int, list[str]]:
    """Port -> local addresses from ``ss -tln`` (IPv4, IPv6 ``[::]``, and ``*``)."""
    ports: dict[int, list[str]] = {}
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        local = fields[3]
        host, sep, port = local.rpartition(":")
        if sep and port.isdigit():
            ports.setdefault(int(port), []).append(host)
    return ports


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    port = spec.port or 0
    result = probe.sh("ss -tln")
    ports = listening_ports(result.stdout)
    expected = f"a TCP listener on port {port}"
    if port in ports:
        where = ", ".join(f"{h}:{port}" for h in ports[port])
        return Verdict(True, expected, f"listening on {where}")
    others = ", ".join(str(p) for p in sorted(ports)) or "none"
    return Verdict(False, expected, f"nothing on port {port} (listening: {others})")
