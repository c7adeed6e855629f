"""Per-instance SSH host keys, kept on the guest's disk like /etc/ssh/ssh_host_*."""

from __future__ import annotations

import base64
import hashlib
import io

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.sandbox.machine.disk import Disk

PRIVATE = "/etc/ssh/ssh_host_ed25519_key"
PUBLIC = PRIVATE + ".pub"


def generate(disk: Disk, hostname: str) -> paramiko.PKey:
    """A fresh Ed25519 host key, written to the disk (private part mode 0600)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH)
    disk.write(PRIVATE, pem, mode=0o600, parents=True)
    disk.write(PUBLIC, pub + f" root@{hostname}\n".encode(), mode=0o644)
    return load(disk)


def load(disk: Disk) -> paramiko.PKey:
    return paramiko.Ed25519Key(file_obj=io.StringIO(disk.read_text(PRIVATE)))


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def describe(key: paramiko.PKey, hostname: str) -> tuple[str, str, str]:
    """(label, fingerprint line, public key line) as cloud-init prints them."""
    fp = f"256 {fingerprint(key)} root@{hostname} (ED25519)"
    pub = f"{key.get_name()} {key.get_base64()} root@{hostname}"
    return "ED25519", fp, pub
