"""The apt mirror the guests install from (data/packages.yaml)."""

from __future__ import annotations

import dataclasses
import functools
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stemcell.sandbox.machine import apache_server
from stemcell.sandbox.machine.boot_model import DATA
from stemcell.sandbox.machine.disk import Disk
from stemcell.sandbox.machine.payloads import PAYLOADS

ELF = b"\x7fELF\x02\x01\x01 (simulated binary)\n"


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
    section: str = "main"
    download: int = 0  # bytes of the .deb
    installed_kb: int = 0
    arch: str = "amd64"
    depends: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # path -> payload name
    links: dict[str, str] = field(default_factory=dict)  # path -> target
    apache_modules: tuple[str, ...] = ()
    apache_enable: tuple[str, ...] = ()
    apache_disable: tuple[str, ...] = ()
    units: dict[str, bool] = field(default_factory=dict)
    start: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()

    def deb_name(self) -> str:
        version = self.version.split(":", 1)[-1]
        return f"{self.name}_{version}_{self.arch}.deb"


@dataclass
class Effects:
    """What configuring a package did besides files: messages and services to (re)start."""

    messages: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)


class UnknownPackage(KeyError):
    pass


@dataclass
class Catalogue:
    mirror: str
    suite: str
    base: dict[str, str]
    packages: dict[str, PackageInfo]
    arch: str = "amd64"  # dpkg's architecture of the image
    security: str = "http://security.ubuntu.com/ubuntu"
    # How this release's PHP build reports its version (packages.yaml's php_build).
    php_build: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Catalogue:
        return _load(DATA / "packages.yaml")

    @classmethod
    def for_image(cls, release: str = "24.04", arch: str = "x86_64") -> Catalogue:
        """The archive an image of ``release`` on ``arch`` installs from: jammy carries
        its own versions (and pre-t64 library names, php8.1, python3.10); arm64 comes
        from ports.ubuntu.com with arm64 .debs."""
        return _for_image(DATA / "packages.yaml", release, arch)

    def get(self, name: str) -> PackageInfo:
        try:
            return self.packages[name]
        except KeyError:
            raise UnknownPackage(name) from None

    def closure(self, names: list[str], installed: dict[str, str]) -> list[PackageInfo]:
        """Packages to install for ``names`` (dependencies first), skipping installed ones."""
        order: list[PackageInfo] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name in installed:
                return
            seen.add(name)
            info = self.get(name)
            for dep in info.depends:
                visit(dep)
            order.append(info)

        for name in names:
            visit(name)
        return order

    def url(self, info: PackageInfo) -> str:
        return f"{self.mirror} {self.suite}/{info.section} {self.arch} {info.name} {info.arch}"

    def apply(self, disk: Disk, info: PackageInfo) -> Effects:
        """Unpack and configure ``info`` onto ``disk`` (what dpkg does, as root)."""
        fx = Effects()
        for d in info.dirs:
            disk.mkdir(d)
        for b in info.bins:
            disk.write(b, ELF, mode=0o755, parents=True)
        for path, payload in info.files.items():
            disk.write(path, PAYLOADS.get(payload, payload), parents=True)
        for path, target in info.links.items():
            disk.mkdir(posixpath.dirname(path))
            disk.symlink(target, path, force=True)
        for mod in info.apache_modules:
            apache_server.provide_module(disk, mod)
        for mod in info.apache_disable:
            code, msg = apache_server.disable(disk, "mod", mod)
            if code == 0 and "already" not in msg:
                fx.messages.append(f"Module {mod} disabled.")
        for mod in info.apache_enable:
            code, msg = apache_server.enable(disk, "mod", mod)
            if code == 0 and "already" not in msg:
                fx.messages.append(msg)
        for unit, on in info.units.items():
            disk.units[unit] = on
            if on:
                wants = f"/etc/systemd/system/multi-user.target.wants/{unit}"
                disk.mkdir(posixpath.dirname(wants))
                disk.symlink(f"/usr/lib/systemd/system/{unit}", wants, force=True)
                fx.messages.append(
                    f"Created symlink {wants} → /usr/lib/systemd/system/{unit}.")
            disk.write(f"/usr/lib/systemd/system/{unit}", _unit_file(unit), parents=True)
        disk.packages[info.name] = info.version
        disk.installed_bytes += info.installed_kb * 1024
        fx.start.extend(info.start)
        fx.restart.extend(info.restart)
        return fx


# Unit files as the packages ship them (apache2 2.4.58-1ubuntu8's debian/apache2.service).
_UNIT_FILES = {
    "apache2.service": (
        "[Unit]\nDescription=The Apache HTTP Server\n"
        "After=network.target remote-fs.target nss-lookup.target\n"
        "Documentation=https://httpd.apache.org/docs/2.4/\n\n"
        "[Service]\nType=forking\nEnvironment=APACHE_STARTED_BY_SYSTEMD=true\n"
        "ExecStart=/usr/sbin/apachectl start\nExecStop=/usr/sbin/apachectl graceful-stop\n"
        "ExecReload=/usr/sbin/apachectl graceful\nKillMode=mixed\nPrivateTmp=true\n"
        "Restart=on-abort\nOOMPolicy=continue\n\n"
        "[Install]\nWantedBy=multi-user.target\n"),
    "apache-htcacheclean.service": (
        "[Unit]\nDescription=Disk Cache Cleaning Daemon for Apache HTTP Server\n"
        "After=apache2.service\nDocumentation=https://httpd.apache.org/docs/2.4/programs/"
        "htcacheclean.html\n\n[Service]\nType=forking\nUser=www-data\n"
        "Environment=HTCACHECLEAN_SIZE=300M\nEnvironment=HTCACHECLEAN_DAEMON_INTERVAL=120\n"
        "Environment=HTCACHECLEAN_PATH=/var/cache/apache2/mod_cache_disk\n"
        "ExecStart=/usr/bin/htcacheclean -d $HTCACHECLEAN_DAEMON_INTERVAL -p "
        "$HTCACHECLEAN_PATH -l $HTCACHECLEAN_SIZE -n\n\n"
        "[Install]\nWantedBy=multi-user.target\n"),
}


def _unit_file(unit: str) -> str:
    if unit in _UNIT_FILES:
        return _UNIT_FILES[unit]
    name = unit.removesuffix(".service")
    return (f"[Unit]\nDescription={name} (simulated unit)\nAfter=network.target\n\n"
            f"[Service]\nType=forking\nExecStart=/usr/sbin/{name} start\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


@functools.cache
def _load(path: Path) -> Catalogue:
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    pkgs: dict[str, PackageInfo] = {}
    for name, d in raw["packages"].items():
        pkgs[name] = PackageInfo(
            name=name,
            version=str(d["version"]),
            section=d.get("section", "main"),
            download=int(d["download"]),
            installed_kb=int(d.get("installed_kb", 0)),
            arch=d.get("arch", "amd64"),
            depends=tuple(d.get("depends", ())),
            bins=tuple(d.get("bins", ())),
            dirs=tuple(d.get("dirs", ())),
            files=dict(d.get("files", {})),
            links=dict(d.get("links", {})),
            apache_modules=tuple(d.get("apache_modules", ())),
            apache_enable=tuple(d.get("apache_enable", ())),
            apache_disable=tuple(d.get("apache_disable", ())),
            units={k: bool(v) for k, v in d.get("units", {}).items()},
            start=tuple(d.get("start", ())),
            restart=tuple(d.get("restart", ())),
        )
    for info in pkgs.values():
        for dep in info.depends:
            if dep not in pkgs and dep not in raw["base"]:
                raise ValueError(f"{path}: {info.name} depends on unknown package {dep}")
    base = {k: str(v) for k, v in raw["base"].items()}
    return Catalogue(mirror=raw["mirror"], suite=raw["suite"], base=base, packages=pkgs,
                     php_build=dict(raw.get("php_build", {})))


_DEB_ARCH = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}
_CODENAMES = {"24.04": "noble", "22.04": "jammy"}


def _renamed(text: str, rename: dict[str, str]) -> str:
    for old, new in rename.items():
        text = text.replace(old, new)
    return text


@functools.cache
def _for_image(path: Path, release: str, arch: str) -> Catalogue:
    noble = _load(path)
    deb_arch = _DEB_ARCH.get(arch, "amd64")
    codename = _CODENAMES.get(release, "noble")
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    spec: dict[str, Any] = raw.get("releases", {}).get(codename, {})
    rename = {str(k): str(v) for k, v in spec.get("rename", {}).items()}
    versions = {str(k): str(v) for k, v in spec.get("versions", {}).items()}
    base_versions = {str(k): str(v) for k, v in spec.get("base", {}).items()}

    def pkg(info: PackageInfo) -> PackageInfo:
        name = _renamed(info.name, rename)
        return dataclasses.replace(
            info, name=name, version=versions.get(name, info.version),
            arch=info.arch if info.arch == "all" else deb_arch,
            depends=tuple(_renamed(d, rename) for d in info.depends),
            bins=tuple(_renamed(b, rename) for b in info.bins),
            files={_renamed(k, rename): v for k, v in info.files.items()},
            links={_renamed(k, rename): _renamed(v, rename) for k, v in info.links.items()},
            apache_modules=tuple(_renamed(m, rename) for m in info.apache_modules),
            apache_enable=tuple(_renamed(m, rename) for m in info.apache_enable))

    packages = {p.name: p for p in (pkg(i) for i in noble.packages.values())}
    base = {_renamed(k, rename): v for k, v in noble.base.items()}
    base = {k: base_versions.get(k, v) for k, v in base.items()}
    mirror = noble.mirror if deb_arch == "amd64" else \
        str(raw.get("ports_mirror", "http://us-east-1.ec2.ports.ubuntu.com/ubuntu-ports"))
    security = "http://security.ubuntu.com/ubuntu" if deb_arch == "amd64" else \
        "http://ports.ubuntu.com/ubuntu-ports"
    return Catalogue(mirror=mirror, suite=codename, base=base, packages=packages,
                     arch=deb_arch, security=security,
                     php_build=dict(spec.get("php_build", noble.php_build)))
