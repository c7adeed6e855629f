"""The guest disk model: the fresh Ubuntu image, JSON round trip, snapshots, permissions."""

from __future__ import annotations

import json

import pytest

from stemcell.sandbox.machine import Disk, DiskError


def test_fresh_ubuntu_image_is_noble_without_apache_or_unzip() -> None:
    disk = Disk.ubuntu()
    assert 'VERSION_ID="24.04"' in disk.read_text("/etc/os-release")
    assert "noble" in disk.read_text("/etc/os-release")
    for name in ("ubuntu-minimal", "openssh-server", "cloud-init", "curl", "python3",
                 "python3.12", "systemd"):
        assert name in disk.packages, name
    assert disk.packages["python3.12"].startswith("3.12.")
    assert "apache2" not in disk.packages and "unzip" not in disk.packages
    assert not disk.exists("/usr/bin/unzip") and not disk.exists("/var/www")
    assert disk.units["ssh.service"] is True
    home = disk.get("/home/ubuntu")
    assert home is not None and home.owner == "ubuntu" and home.kind == "dir"
    assert disk.is_dir("/etc/ssh") and disk.is_dir("/var/log")
    assert disk.apt_updated is False


def test_json_round_trip_is_lossless_and_serialisable() -> None:
    disk = Disk.ubuntu()
    disk.write("/tmp/bin.dat", bytes(range(256)), mode=0o600, owner="ubuntu")
    disk.symlink("/tmp/bin.dat", "/tmp/link")
    data = json.loads(json.dumps(disk.to_json()))
    back = Disk.from_json(data)
    assert back.read("/tmp/bin.dat") == bytes(range(256))
    node = back.get("/tmp/bin.dat")
    assert node is not None and node.mode == 0o600 and node.owner == "ubuntu"
    assert back.read("/tmp/link") == bytes(range(256))
    assert back.packages == disk.packages and back.units == disk.units
    assert back.to_json() == disk.to_json()


def test_copy_is_independent_of_the_original() -> None:
    disk = Disk.ubuntu()
    snap = disk.copy()
    disk.write("/etc/motd", "changed\n")
    disk.packages["apache2"] = "2.4.58-1ubuntu8.5"
    disk.units["ssh.service"] = False
    assert not snap.exists("/etc/motd")
    assert "apache2" not in snap.packages and snap.units["ssh.service"] is True


def test_symlinks_resolve_like_the_kernel() -> None:
    disk = Disk()
    disk.mkdir("/etc/apache2/mods-available")
    disk.mkdir("/etc/apache2/mods-enabled")
    disk.write("/etc/apache2/mods-available/wsgi.load", "LoadModule wsgi_module x\n")
    disk.symlink("../mods-available/wsgi.load", "/etc/apache2/mods-enabled/wsgi.load")
    assert disk.read_text("/etc/apache2/mods-enabled/wsgi.load").startswith("LoadModule")
    link = disk.get("/etc/apache2/mods-enabled/wsgi.load", follow=False)
    assert link is not None and link.kind == "link"
    disk.symlink("usr/bin", "/bin")
    disk.write("/usr/bin/tool", b"x", parents=True)
    assert disk.is_file("/bin/tool")


def test_permissions_owner_group_other() -> None:
    disk = Disk.ubuntu()
    assert not disk.can_write("/etc/hostname", "ubuntu")
    assert disk.can_write("/etc/hostname", "root")
    assert disk.can_write("/home/ubuntu/new.txt", "ubuntu")
    assert disk.can_write("/tmp/x", "ubuntu")
    disk.write("/var/log/secret.log", "x", mode=0o640, group="adm")
    assert disk.can_read("/var/log/secret.log", "ubuntu")  # ubuntu is in adm
    assert not disk.can_read("/var/log/secret.log", "www-data")


def test_errors_read_like_coreutils() -> None:
    disk = Disk.ubuntu()
    with pytest.raises(DiskError, match="No such file or directory"):
        disk.read("/nope")
    with pytest.raises(DiskError, match="Is a directory"):
        disk.read("/etc")
    with pytest.raises(DiskError, match="Is a directory"):
        disk.remove("/etc")


def test_rename_moves_a_whole_tree() -> None:
    disk = Disk()
    disk.write("/a/b/c.txt", "c", parents=True)
    disk.mkdir("/dst")
    disk.rename("/a", "/dst")
    assert disk.read_text("/dst/a/b/c.txt") == "c"
    assert not disk.exists("/a")
