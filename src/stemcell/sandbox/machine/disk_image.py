"""A fresh Canonical Ubuntu cloud image, as the disk of a newly launched instance."""

from __future__ import annotations

from stemcell.sandbox.machine.catalogue import ELF, Catalogue
from stemcell.sandbox.machine.disk import Disk

UBUNTU = "ubuntu"

_RELEASES = {
    "24.04": ("noble", "Noble Numbat", "24.04.1 LTS"),
    "22.04": ("jammy", "Jammy Jellyfish", "22.04.5 LTS"),
}

# Commands a fresh cloud image has on its PATH (the rest arrive with packages).
_BINS = {
    "/usr/bin": "apt apt-get bash cat chmod chown cloud-init cp curl date dpkg dpkg-query echo env "
                "false grep gzip head hostname id ln ls mkdir mv printf pwd python3 python3.12 "
                "rm sed sh sleep ss ssh ssh-keygen sudo systemctl tail tar tee test touch true "
                "uname uptime wc wget which whoami lsb_release printenv env egrep fgrep chgrp "
                "ps top pgrep pkill kill free df du lsblk nproc ip journalctl awk mawk cut sort "
                "uniq xargs find stat readlink realpath basename dirname md5sum sha256sum "
                "sha1sum getent gunzip zcat hostnamectl timedatectl nano vi vim vim.tiny rnano "
                "scp sftp",
    "/usr/sbin": "service sshd",
    "/usr/lib/systemd": "systemd systemd-journald systemd-networkd systemd-resolved "
                        "systemd-logind systemd-udevd",
    "/usr/lib/openssh": "sftp-server",
}

_ENABLED_UNITS = ["ssh.service", "cloud-init-local.service", "cloud-init.service",
                  "cloud-config.service", "cloud-final.service", "systemd-networkd.service",
                  "systemd-resolved.service", "cron.service", "rsyslog.service",
                  "snapd.service", "unattended-upgrades.service"]


def fresh_ubuntu(release: str = "24.04", arch: str = "x86_64") -> Disk:
    codename, name, pretty = _RELEASES.get(release, _RELEASES["24.04"])
    disk = Disk(release=release, arch=arch)
    for d, mode in [("/bin", 0o755), ("/boot", 0o755), ("/dev", 0o755), ("/etc", 0o755),
                    ("/home", 0o755), ("/opt", 0o755), ("/root", 0o700), ("/run", 0o755),
                    ("/srv", 0o755), ("/tmp", 0o1777), ("/usr/bin", 0o755),
                    ("/usr/sbin", 0o755), ("/usr/lib", 0o755), ("/usr/share", 0o755),
                    ("/var/lib/apt/lists", 0o755), ("/var/lib/cloud", 0o755),
                    ("/var/log", 0o775), ("/var/tmp", 0o1777), ("/var/www", 0o755),
                    ("/etc/ssh", 0o755), ("/etc/sudoers.d", 0o750), ("/etc/apt", 0o755),
                    ("/etc/systemd/system/multi-user.target.wants", 0o755)]:
        disk.mkdir(d, mode=mode)
    # /var/www comes with apache2, not the base image.
    disk.remove("/var/www", recursive=True)
    disk.nodes["/var/log"].group = "syslog"
    disk.write("/etc/os-release", (
        f'PRETTY_NAME="Ubuntu {pretty}"\nNAME="Ubuntu"\nVERSION_ID="{release}"\n'
        f'VERSION="{pretty.replace(" LTS", "")} LTS ({name})"\nVERSION_CODENAME={codename}\n'
        f'ID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
        f'SUPPORT_URL="https://help.ubuntu.com/"\n'
        f'BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"\n'
        f'PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"\n'
        f'UBUNTU_CODENAME={codename}\n' + ("LOGO=ubuntu-logo\n" if codename == "noble" else "")))
    disk.write("/etc/lsb-release", (
        f"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE={release}\nDISTRIB_CODENAME={codename}\n"
        f'DISTRIB_DESCRIPTION="Ubuntu {pretty}"\n'))
    disk.write("/etc/hostname", "ubuntu\n")
    disk.write("/etc/hosts", "127.0.0.1 localhost\n")
    disk.write("/etc/passwd", (
        "root:x:0:0:root:/root:/bin/bash\n"
        "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
        "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n"
        "systemd-resolve:x:991:991:systemd Resolver:/:/usr/sbin/nologin\n"
        "messagebus:x:101:101::/nonexistent:/usr/sbin/nologin\n"
        "syslog:x:102:102::/nonexistent:/usr/sbin/nologin\n"
        "ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n"))
    disk.write("/etc/shadow", "root:*:19900:0:99999:7:::\nubuntu:!:19900:0:99999:7:::\n",
               mode=0o640, group="shadow")
    disk.write("/etc/group", (
        "root:x:0:\nadm:x:4:syslog,ubuntu\ncdrom:x:24:ubuntu\nsudo:x:27:ubuntu\n"
        "dip:x:30:ubuntu\nwww-data:x:33:\nshadow:x:42:\nmessagebus:x:101:\n"
        "syslog:x:102:\nlxd:x:105:ubuntu\nsystemd-resolve:x:991:\n"
        "systemd-network:x:998:\nubuntu:x:1000:\n"))
    disk.write("/etc/sudoers.d/90-cloud-init-users",
               "# Created by cloud-init v. 24.4.1 on first boot\n"
               "ubuntu ALL=(ALL) NOPASSWD:ALL\n", mode=0o440)
    disk.write("/etc/ssh/sshd_config", (
        "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n"
        "UsePAM yes\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"))
    disk.write("/etc/ssh/sshd_config.d/60-cloudimg-settings.conf",
               "PasswordAuthentication no\n", parents=True)
    disk.write("/etc/apt/sources.list.d/ubuntu.sources", (
        f"Types: deb\nURIs: http://us-east-1.ec2.archive.ubuntu.com/ubuntu/\n"
        f"Suites: {codename} {codename}-updates {codename}-backports\n"
        "Components: main restricted universe multiverse\n"
        "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n"), parents=True)
    disk.mkdir("/home/ubuntu", mode=0o750, owner=UBUNTU)
    disk.write("/home/ubuntu/.bashrc", "# ~/.bashrc: executed by bash(1) for non-login shells.\n",
               owner=UBUNTU)
    disk.write("/home/ubuntu/.profile", "# ~/.profile: executed by the command interpreter.\n",
               owner=UBUNTU)
    python = "python3.10" if release == "22.04" else "python3.12"
    for folder, names in _BINS.items():
        for b in names.replace("python3.12", python).split():
            disk.write(f"{folder}/{b}", ELF, mode=0o755, parents=True)
    disk.symlink("usr/bin", "/bin", force=True)
    disk.symlink("usr/sbin", "/sbin", force=True)
    # systemd is pid 1 (testinfra's service module checks `readlink -f /sbin/init`).
    disk.symlink("../lib/systemd/systemd", "/usr/sbin/init", force=True)
    disk.mkdir("/run/systemd/system")
    disk.symlink("usr/lib", "/lib", force=True)
    cat = Catalogue.for_image(release, arch)
    disk.packages.update(cat.base)
    for unit in _ENABLED_UNITS:
        disk.units[unit] = True
    disk.apt_updated = False
    return disk
