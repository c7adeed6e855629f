"""Host key verification: console fingerprints first, pinning only as a stated fallback.

cloud-init prints the new host keys' fingerprints on the serial console at first
boot (GetConsoleOutput), which is the one channel an attacker in the middle
cannot forge; when they are there the server's key must match them. Callers poll
the console for them (bounded) before trusting a key; only when it never shows
them is the key pinned on first use, in stemcell's own known_hosts files (never
``~/.ssh/known_hosts``), written under a lock and atomically.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

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


class HostKeyUnknown(HostKeyMismatch):
    """No pin and no console fingerprint, and first-use pinning was not allowed."""


# How a key came to be trusted (the log line, and the run's host_keys counters).
VERIFIED = "matches the console fingerprint"
PINNED = "pinned on first use"
KNOWN = "matches the pinned key"


def verify(key: paramiko.PKey, host: str, port: int, known_hosts: Path,
           fingerprints: dict[str, str] | None, label: str = "",
           *, accept_new: bool = True) -> str:
    """Accept ``key`` for host:port or raise HostKeyMismatch; say how it was trusted.

    ``host`` is the name the key is pinned under: an instance id where there is
    one (public IPs are reused within a run), else the address. Rules:

    - console fingerprints, when given, decide: the key's type must be listed
      and its fingerprint must match; a pin that disagrees is a mismatch too (the
      pin is re-checked once the console shows the keys);
    - else a pinned key decides: a different key, *or a key of another type than
      the one pinned*, is a mismatch (OpenSSH would offer the other type only
      after the pinned one is gone);
    - else the key is pinned on first use, only if ``accept_new`` (OpenSSH's
      ``StrictHostKeyChecking=accept-new``); otherwise ``HostKeyUnknown``.
    """
    who = label or host_entry(host, port)
    ktype = key_type(key)
    got = sha256_fingerprint(key)
    entry = host_entry(host, port)
    with _locked(known_hosts):
        entries = paramiko.HostKeys()
        if known_hosts.exists():
            entries.load(str(known_hosts))
        pinned = entries.lookup(entry)
        if fingerprints:
            expected = fingerprints.get(ktype)
            if expected is None:
                raise HostKeyMismatch(
                    f"{who} offered a {ktype} host key ({got}) but its console lists only "
                    f"{', '.join(sorted(fingerprints))} keys",
                    hint="Someone may be intercepting the connection; do not continue.")
            if not _matches(key, expected):
                raise HostKeyMismatch(
                    f"host key of {who} does not match its console output: expected "
                    f"{expected}, got {got}", hint="Someone may be intercepting the "
                    "connection; do not continue. Check the instance's console output.")
            how = VERIFIED
        elif pinned is not None and len(pinned):
            how = KNOWN
        elif accept_new:
            how = PINNED
        else:
            raise HostKeyUnknown(
                f"{who} is not known: no pinned key in {known_hosts} and no console "
                f"fingerprint to check its {ktype} key ({got}) against (--accept-new "
                "trusts it once and pins it)",
                hint="Compare the fingerprint with the instance's console output, then "
                "pass --accept-new to pin it (or --known-hosts FILE with its key).")
        if pinned is not None and len(pinned):
            same = pinned.get(key.get_name())
            if same is None:
                raise HostKeyMismatch(
                    f"{who} offered a {ktype} host key ({got}) but a "
                    f"{', '.join(sorted(pinned.keys()))} key is pinned for it in {known_hosts}",
                    hint="A server does not change its key type by itself; someone may be "
                    "intercepting the connection. If the instance was replaced, remove its "
                    "line from that file.")
            if same.asbytes() != key.asbytes():
                raise HostKeyMismatch(
                    f"host key of {who} changed since it was pinned in {known_hosts} "
                    f"(now {got})", hint="If the instance was replaced, remove its line from "
                    "that file; otherwise someone may be intercepting the connection.")
            return how
        entries.add(entry, key.get_name(), key)
        _save(entries, known_hosts)
    return how


@contextlib.contextmanager
def _locked(known_hosts: Path) -> Iterator[None]:
    """An exclusive lock on ``known_hosts`` (a sidecar lock file): roster threads and
    other stemcell processes read-modify-write the same file."""
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = known_hosts.with_name(known_hosts.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _save(entries: paramiko.HostKeys, known_hosts: Path) -> None:
    """Write atomically (temp file in the same folder, then rename), 0600."""
    fd, tmp = tempfile.mkstemp(prefix=f".{known_hosts.name}.", dir=known_hosts.parent)
    try:
        os.close(fd)
        entries.save(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, known_hosts)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class ConsoleClient(Protocol):
    def get_console_output(self, **kwargs: Any) -> Any: ...


def console_text(ec2: ConsoleClient, instance_id: str) -> str:
    """The instance's serial console, as fresh as EC2 will give it.

    Without ``Latest=True`` GetConsoleOutput returns a buffered snapshot that is
    often minutes old, and cloud-init prints the fingerprint block near the end of
    the first boot, so the newest output is asked for. Instance types without the
    Nitro console (t2, older generations) refuse ``Latest``; for them the buffered
    output is all there is. (AWS: EC2 API Reference, GetConsoleOutput.)
    """
    try:
        answer = ec2.get_console_output(InstanceId=instance_id, Latest=True)
    except Exception as exc:  # botocore ClientError; only a refused Latest is retried
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code not in ("UnsupportedOperation", "InvalidParameterValue",
                        "InvalidParameterCombination", "InvalidParameter"):
            raise
        answer = ec2.get_console_output(InstanceId=instance_id)
    out = str(answer.get("Output") or "")
    try:  # the API sends base64; boto3 passes it through as is
        decoded = base64.b64decode(out, validate=True).decode("utf-8", "replace")
        if "\n" in decoded or BEGIN in decoded:
            return decoded
    except (binascii.Error, ValueError):
        pass
    return out
