"""What the guest's server software says its version is, read from the packages the
image really has (or would install): Apache's ``Server:`` header and ``SERVER_SOFTWARE``,
``apache2 -v``, PHP's ``PHP_VERSION``/``phpversion()`` and ``php -v``.

A 22.04 (jammy) image answers ``Apache/2.4.52 (Ubuntu)`` and PHP 8.1.2-1ubuntu2.x;
24.04 (noble) ``Apache/2.4.58 (Ubuntu)`` and PHP 8.3.6 (versions in data/packages.yaml,
from https://packages.ubuntu.com/<release>/apache2 and .../php8.x)."""

from __future__ import annotations

import re

from stemcell.sandbox.machine.catalogue import Catalogue, UnknownPackage
from stemcell.sandbox.machine.disk import Disk

# Apache's binary is in apache2-bin; apache2 carries the same version.
_APACHE_PACKAGES = ("apache2-bin", "apache2")
_PHP_PACKAGE = re.compile(r"php(\d+\.\d+)-(common|cli)$|libapache2-mod-php(\d+\.\d+)$")


def upstream(version: str) -> str:
    """A Debian version's upstream part: no epoch, no Debian revision
    (``2.4.52-1ubuntu4.12`` -> ``2.4.52``; deb-version(7))."""
    version = version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def _package_version(disk: Disk, catalogue: Catalogue, names: tuple[str, ...]) -> str:
    """The installed version of the first of ``names`` installed, else the version the
    image's archive would install (a guest without Apache still has a release)."""
    for name in names:
        if name in disk.packages:
            return disk.packages[name]
    for name in names:
        try:
            return catalogue.get(name).version
        except UnknownPackage:
            continue
    return ""


def apache_version(disk: Disk, catalogue: Catalogue) -> str:
    """``2.4.52`` on jammy, ``2.4.58`` on noble."""
    return upstream(_package_version(disk, catalogue, _APACHE_PACKAGES))


def server_banner(disk: Disk, catalogue: Catalogue) -> str:
    """Apache's ``Server:`` header and ``SERVER_SOFTWARE`` with Ubuntu's default
    ``ServerTokens OS`` (conf-available/security.conf): ``Apache/2.4.58 (Ubuntu)``."""
    return f"Apache/{apache_version(disk, catalogue)} (Ubuntu)"


def php_package_version(disk: Disk, catalogue: Catalogue) -> str:
    """The Debian version of the image's PHP (installed, else what apt would install)."""
    installed = sorted(v for n, v in disk.packages.items() if _PHP_PACKAGE.match(n))
    if installed:
        return installed[-1]
    offered = sorted(p.version for n, p in catalogue.packages.items() if _PHP_PACKAGE.match(n))
    return offered[-1] if offered else ""


def php_version(disk: Disk, catalogue: Catalogue) -> str:
    """PHP_VERSION as the release's php build reports it: jammy's php8.1 appends the
    Debian revision (``8.1.2-1ubuntu2.19``), noble's php8.3 does not (``8.3.6``)."""
    debian = php_package_version(disk, catalogue).split(":", 1)[-1]
    if catalogue.php_build.get("debian_revision_in_version"):
        return debian
    return upstream(debian)


def php_banner(disk: Disk, catalogue: Catalogue) -> str:
    """``php -v`` (the CLI SAPI, non-thread-safe, with OPcache as Ubuntu ships it)."""
    version = php_version(disk, catalogue)
    major_minor_patch = upstream(version).split(".")
    zend = "4." + ".".join(major_minor_patch[1:3])  # PHP 8.x.y runs Zend Engine 4.x.y
    built = str(catalogue.php_build.get("built", ""))
    lines = [f"PHP {version} (cli) (built: {built}) (NTS)",
             "Copyright (c) The PHP Group",
             f"Zend Engine v{zend}, Copyright (c) Zend Technologies"]
    if any(re.fullmatch(r"php\d+\.\d+-opcache", n) for n in disk.packages):
        lines.append(f"    with Zend OPcache v{version}, Copyright (c), by Zend Technologies")
    return "\n".join(lines)
