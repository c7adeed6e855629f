"""Who the guest's sshd lets in: keys in ubuntu's authorized_keys (ed25519 and RSA)."""

from __future__ import annotations

import io

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import Disk, System
from stemcell.sandbox.machine.sshd import authorized


def _key(private: object) -> paramiko.PKey:
    pem = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()
    cls = paramiko.Ed25519Key if isinstance(private, Ed25519PrivateKey) else paramiko.RSAKey
    return cls(file_obj=io.StringIO(pem))


def test_publickey_auth_reads_authorized_keys_on_the_disk() -> None:
    ed = _key(Ed25519PrivateKey.generate())
    rsa_key = _key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    stranger = _key(Ed25519PrivateKey.generate())
    disk = Disk.ubuntu()
    system = System(disk, ModelClock.starting_now(1e6))
    assert not authorized(system, "ubuntu", ed)  # no authorized_keys yet
    disk.mkdir("/home/ubuntu/.ssh", mode=0o700, owner="ubuntu")
    disk.write("/home/ubuntu/.ssh/authorized_keys",
               f"# keys\n{ed.get_name()} {ed.get_base64()} student\n"
               f'no-port-forwarding,command="true" {rsa_key.get_name()} '
               f"{rsa_key.get_base64()} ta\n",
               owner="ubuntu", mode=0o600)
    assert authorized(system, "ubuntu", ed)
    assert authorized(system, "ubuntu", rsa_key)
    assert not authorized(system, "ubuntu", stranger)
    assert not authorized(system, "root", ed)  # cloud images log in as ubuntu only
