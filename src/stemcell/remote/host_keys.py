"""Host key verification: console fingerprints first, else pin on first use.

cloud-init prints the new host keys' fingerprints on the serial console at first
boot (GetConsoleOutput), which is the one channel an attacker in the middle
cannot forge; when they are there the server's key must match them. When they
are not (the console is often empty for minutes), the key is pinned in the run's
own known_hosts file, never in ``~/.ssh/known_hosts``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import paramiko

from stemcell.engine.errors import StemcellError

BEGIN = "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
END = "-----END SSH HOST KEY FINGERPRINTS-----"

_LINE = re.compile(
    r"(?P<bits>\d+)\s+(?P<fp>SHA256:[A-Za-z0-9+/]+=*|MD5:(?:[0-9a-f]{2}:){15}[0-9a-f]{2}|"
    r"(?:[0-9a-f]{2}:){15}[0-9a-f]{2})\s+.*\((?P<type>[A-Z0-9-]+)\)\s*$"
)
_TYPES = {
    "ssh-ed25519": "ED25519",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "ssh-rsa": "RSA",
    "rsa-sha2-256": "RSA",
    "rsa-sha2-512": "RSA",
    "ssh-dss": "DSA",
}


class HostKeyMismatch(StemcellError):
    """The server's key is not the one we were told (or pinned) to expect."""


def parse_fingerprints(console: str) -> dict[str, str]:
    """{key type: fingerprint} from the last cloud-init fingerprint block, or {}."""
    found: dict[str, str] = {}
    inside = False
    block: dict[str, str] = {}
    for raw in console.splitlines():
        if BEGIN in raw:
            inside, block = True, {}
            continue
        if END in raw:
            if inside and block:
                found = block
            inside = False
            continue
        if inside:
            match = _LINE.search(raw)
            if match:
                block[match["type"]] = match["fp"]
    return found


def key_type(key: paramiko.PKey) -> str:
    return _TYPES.get(key.get_name(), key.get_name().upper())


def sha256_fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def md5_fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.md5(key.asbytes(), usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def _matches(key: paramiko.PKey, expected: str) -> bool:
    if expected.startswith("SHA256:"):
        return sha256_fingerprint(key) == expected.rstrip("=")
    return md5_fingerprint(key) == expected.removeprefix("MD5:")


def host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def verify(key: paramiko.PKey, host: str, port: int, known_hosts: Path,
           fingerprints: dict[str, str] | None, label: str = "") -> str:
    """Accept ``key`` for host:port or raise HostKeyMismatch; say how it was trusted."""
    who = label or host_entry(host, port)
    ktype = key_type(key)
    got = sha256_fingerprint(key)
    how = "pinned on first use"
    if fingerprints:
        expected = fingerprints.get(ktype)
        if expected is None:
            raise HostKeyMismatch(
                f"{who} offered a {ktype} host key ({got}) but its console lists only "
                f"{', '.join(sorted(fingerprints))} keys",
                hint="Someone may be intercepting the connection; do not continue.")
        if not _matches(key, expected):
            raise HostKeyMismatch(
                f"host key of {who} does not match its console output: expected {expected}, "
                f"got {got}", hint="Someone may be intercepting the connection; do not "
                "continue. Check the instance's console output in the EC2 console.")
        how = "matches the console fingerprint"
    entries = paramiko.HostKeys()
    if known_hosts.exists():
        entries.load(str(known_hosts))
    entry = host_entry(host, port)
    pinned = entries.lookup(entry)
    if pinned is not None and key.get_name() in pinned:
        if pinned[key.get_name()].asbytes() != key.asbytes():
            raise HostKeyMismatch(
                f"host key of {who} changed since it was pinned in {known_hosts} "
                f"(now {got})", hint="If the instance was replaced, remove its line from "
                "that file; otherwise someone may be intercepting the connection.")
        return how if fingerprints else "matches the pinned key"
    entries.add(entry, key.get_name(), key)
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    entries.save(str(known_hosts))
    return how
