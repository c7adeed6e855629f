"""Host key fingerprints from the console, and pinning in the run's known_hosts."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from stemcell.remote.host_keys import (
    HostKeyMismatch,
    parse_fingerprints,
    sha256_fingerprint,
    verify,
)

CONSOLE = """\
[   12.345678] cloud-init[812]: Cloud-init v. 24.4 running 'modules:config'
ec2: #############################################################
ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
ec2: 256 SHA256:OldOldOldOldOldOldOldOldOldOldOldOldOldOld12 root@ip-172-31-5-9 (ECDSA)
ec2: -----END SSH HOST KEY FINGERPRINTS-----
ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----
ec2: 256 SHA256:{ecdsa} root@ip-172-31-5-9 (ECDSA)
ec2: 256 {ed} root@ip-172-31-5-9 (ED25519)
ec2: 3072 SHA256:r5aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcde root@ip-172-31-5-9 (RSA)
ec2: -----END SSH HOST KEY FINGERPRINTS-----
ec2: #############################################################
-----BEGIN SSH HOST KEY KEYS-----
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDm root@ip-172-31-5-9
-----END SSH HOST KEY KEYS-----
"""


@pytest.fixture
def key() -> paramiko.PKey:
    return paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") \
        else _ed25519()


def _ed25519() -> paramiko.PKey:
    import io

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption())
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))


def test_parse_takes_the_last_block_and_every_type() -> None:
    fps = parse_fingerprints(CONSOLE.format(ecdsa="A" * 43, ed="SHA256:" + "B" * 43))
    assert fps == {"ECDSA": "SHA256:" + "A" * 43, "ED25519": "SHA256:" + "B" * 43,
                   "RSA": "SHA256:r5aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcde"}


def test_parse_nothing_when_no_block_or_unterminated() -> None:
    assert parse_fingerprints("booting...\nlogin:") == {}
    assert parse_fingerprints("-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:x "
                              "root@h (ED25519)\n") == {}


def test_console_fingerprint_must_match(tmp_path: Path) -> None:
    key = _ed25519()
    good = {"ED25519": sha256_fingerprint(key)}
    assert verify(key, "10.0.0.5", 22, tmp_path / "kh", good) == \
        "matches the console fingerprint"
    bad = {"ED25519": sha256_fingerprint(_ed25519())}
    with pytest.raises(HostKeyMismatch, match="does not match its console output"):
        verify(key, "10.0.0.6", 22, tmp_path / "kh", bad)
    with pytest.raises(HostKeyMismatch, match="lists only RSA"):
        verify(key, "10.0.0.7", 22, tmp_path / "kh", {"RSA": "SHA256:zzz"})


def test_pin_on_first_use_then_detect_change(tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    first = _ed25519()
    assert verify(first, "127.0.0.1", 2222, known, None) == "pinned on first use"
    assert "[127.0.0.1]:2222 ssh-ed25519" in known.read_text()
    assert verify(first, "127.0.0.1", 2222, known, None) == "matches the pinned key"
    with pytest.raises(HostKeyMismatch, match="changed since it was pinned"):
        verify(_ed25519(), "127.0.0.1", 2222, known, None)
    # Another port is another host.
    assert verify(_ed25519(), "127.0.0.1", 2223, known, {}) == "pinned on first use"


def _rsa() -> paramiko.PKey:
    import io

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption())
    return paramiko.RSAKey.from_private_key(io.StringIO(pem.decode()))


def test_a_key_of_another_type_than_the_pinned_one_is_a_mismatch(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    verify(_ed25519(), "i-0abc", 22, known, None)
    with pytest.raises(HostKeyMismatch, match=r"RSA host key .* ssh-ed25519 key is pinned"):
        verify(_rsa(), "i-0abc", 22, known, None)
    with pytest.raises(HostKeyMismatch, match="ssh-ed25519 key is pinned"):
        verify(_rsa(), "i-0abc", 22, known, None, accept_new=True)


def test_without_accept_new_an_unknown_host_is_refused(tmp_path: Path) -> None:
    from stemcell.remote.host_keys import HostKeyUnknown

    known = tmp_path / "known_hosts"
    key = _ed25519()
    with pytest.raises(HostKeyUnknown, match="--accept-new"):
        verify(key, "10.0.0.9", 22, known, None, accept_new=False)
    assert not known.exists()
    # A console fingerprint is enough; so is a pin made earlier.
    assert verify(key, "10.0.0.9", 22, known, {"ED25519": sha256_fingerprint(key)},
                  accept_new=False) == "matches the console fingerprint"
    assert verify(key, "10.0.0.9", 22, known, None, accept_new=False) == \
        "matches the pinned key"


def test_known_hosts_writes_are_locked_atomic_and_private(tmp_path: Path) -> None:
    import stat
    import threading

    known = tmp_path / "ssh" / "known_hosts"
    keys = [_ed25519() for _ in range(24)]
    threads = [threading.Thread(target=verify, args=(k, f"i-{n:04d}", 22, known, None))
               for n, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = known.read_text()
    assert all(f"i-{n:04d} ssh-ed25519" in text for n in range(24))  # no write lost
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert [p.name for p in known.parent.iterdir() if p.name.startswith(".")] == []


def test_console_text_asks_for_the_latest_output_and_falls_back(tmp_path: Path) -> None:
    import base64

    from botocore.exceptions import ClientError

    from stemcell.remote.host_keys import console_text

    calls: list[dict[str, object]] = []

    class Ec2:
        def __init__(self, refuse: bool) -> None:
            self.refuse = refuse

        def get_console_output(self, **kwargs: object) -> dict[str, str]:
            calls.append(kwargs)
            if self.refuse and kwargs.get("Latest"):
                raise ClientError({"Error": {"Code": "UnsupportedOperation", "Message": "t2"}},
                                  "GetConsoleOutput")
            return {"Output": base64.b64encode(b"line one\nline two\n").decode()}

    assert console_text(Ec2(False), "i-1") == "line one\nline two\n"
    assert calls == [{"InstanceId": "i-1", "Latest": True}]
    calls.clear()
    assert console_text(Ec2(True), "i-1") == "line one\nline two\n"
    assert calls == [{"InstanceId": "i-1", "Latest": True}, {"InstanceId": "i-1"}]
