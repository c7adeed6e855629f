"""Dialling sandbox guests: instance or address -> the guest's loopback ports.

Implements ``stemcell.remote.dialer.Dialer``. The answer comes from the sandbox's
control API (``GET /guests``, with the sandbox's control token) and is
cached; a miss refreshes once (a guest launched since the last look) before
giving up with a clear error.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from stemcell.engine.errors import StemcellError
from stemcell.remote.dialer import Target


class UnknownGuest(StemcellError):
    """No sandbox guest answers for that instance or address."""


def fetch_json(url: str, token: str, timeout: float = 5.0, method: str = "GET") -> Any:
    """One call to a sandbox's control API, with its bearer token."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {token}"})
    # The control API is on loopback: never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


class SandboxDialer:
    def __init__(self, control_url: str, token: str) -> None:
        self.control_url = control_url.rstrip("/")
        self._token = token
        self._guests: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def ssh_address(self, target: Target) -> tuple[str, int]:
        host, port = self._find(target)["ssh"]
        return str(host), int(port)

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        if port != 80:
            raise UnknownGuest(
                f"sandbox guests serve HTTP on port 80 only (asked for port {port})",
                hint="point the check or probe at port 80")
        host, local = self._find(target)["http"]
        return str(host), int(local)

    def refresh(self) -> dict[str, dict[str, Any]]:
        guests = fetch_json(self.control_url + "/guests", self._token)
        with self._lock:
            self._guests = dict(guests or {})
            return dict(self._guests)

    def _find(self, target: Target) -> dict[str, Any]:
        found = self._lookup(target)
        if found is None:
            self.refresh()
            found = self._lookup(target)
        if found is None:
            raise UnknownGuest(
                f"no sandbox guest for {_describe(target)}",
                hint="is the instance from this sandbox and not terminated? "
                     "`stemcell sandbox status` lists the guests")
        return found

    def _lookup(self, target: Target) -> dict[str, Any] | None:
        with self._lock:
            if target.instance_id:
                # An id is authoritative: do not fall back to a (maybe reused) address.
                return self._guests.get(target.instance_id)
            for guest in self._guests.values():
                if target.public_ip and guest.get("public_ip") == target.public_ip:
                    return guest
            for guest in self._guests.values():
                if target.private_ip and guest.get("private_ip") == target.private_ip:
                    return guest
        return None


def _describe(target: Target) -> str:
    parts = [p for p in (target.instance_id, target.public_ip, target.private_ip) if p]
    return " / ".join(parts) or "an empty target"
