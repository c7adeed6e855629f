"""Debian's apache2 layout on the disk: a2enmod/a2ensite symlinks and the bits
of configuration the simulated web server reads."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from stemcell.sandbox.machine.disk import Disk

ETC = "/etc/apache2"
KINDS = {"mod": ("mods-available", "mods-enabled", ".load"),
         "site": ("sites-available", "sites-enabled", ".conf"),
         "conf": ("conf-available", "conf-enabled", ".conf")}

_MODULE_CONF = {
    "dir": "<IfModule mod_dir.c>\n\tDirectoryIndex index.html index.cgi index.pl index.php"
           " index.xhtml index.htm\n</IfModule>\n",
    "php8.3": "<FilesMatch \".+\\.ph(?:ar|p|tml)$\">\n\tSetHandler application/x-httpd-php\n"
              "</FilesMatch>\n",
    "mime": "<IfModule mod_mime.c>\n\tTypesConfig /etc/mime.types\n</IfModule>\n",
}


def module_file(name: str) -> str:
    if name.startswith("php"):
        return f"LoadModule php_module /usr/lib/apache2/modules/lib{name}.so\n"
    return f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so\n"


def provide_module(disk: Disk, name: str) -> None:
    disk.write(f"{ETC}/mods-available/{name}.load", module_file(name), parents=True)
    if name in _MODULE_CONF:
        disk.write(f"{ETC}/mods-available/{name}.conf", _MODULE_CONF[name])
    disk.write(f"/usr/lib/apache2/modules/mod_{name}.so", b"\x7fELF (simulated)", parents=True)


def enabled(disk: Disk, kind: str, name: str) -> bool:
    _, en, ext = KINDS[kind]
    return disk.get(f"{ETC}/{en}/{name}{ext}", follow=False) is not None


def enable(disk: Disk, kind: str, name: str) -> tuple[int, str]:
    """Like a2enmod/a2ensite/a2enconf: (exit status, message)."""
    avail, en, ext = KINDS[kind]
    name = name.removesuffix(ext)
    label = {"mod": "Module", "site": "Site", "conf": "Conf"}[kind]
    if not disk.exists(f"{ETC}/{avail}/{name}{ext}"):
        return 1, f"ERROR: {label} {name} does not exist!"
    if enabled(disk, kind, name):
        return 0, f"{label} {name} already enabled"
    disk.mkdir(f"{ETC}/{en}")
    disk.symlink(f"../{avail}/{name}{ext}", f"{ETC}/{en}/{name}{ext}")
    conf = f"{ETC}/{avail}/{name}.conf"
    if kind == "mod" and disk.exists(conf):
        disk.symlink(f"../{avail}/{name}.conf", f"{ETC}/{en}/{name}.conf", force=True)
    verb = {"mod": "Enabling module", "site": "Enabling site", "conf": "Enabling conf"}[kind]
    return 0, f"{verb} {name}."


def disable(disk: Disk, kind: str, name: str) -> tuple[int, str]:
    _, en, ext = KINDS[kind]
    name = name.removesuffix(ext)
    label = {"mod": "Module", "site": "Site", "conf": "Conf"}[kind]
    if not enabled(disk, kind, name):
        return 0, f"{label} {name} already disabled"
    disk.remove(f"{ETC}/{en}/{name}{ext}")
    if kind == "mod" and disk.get(f"{ETC}/{en}/{name}.conf", follow=False) is not None:
        disk.remove(f"{ETC}/{en}/{name}.conf")
    return 0, f"{label} {name} disabled."


# --- reading the configuration --------------------------------------------------------


@dataclass
class SiteConfig:
    """What the simulated Apache needs from its configuration."""

    listen: list[int] = field(default_factory=list)
    document_root: str = "/var/www/html"
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (url prefix, path)
    wsgi: list[tuple[str, str]] = field(default_factory=list)  # (url prefix, script)
    directory_index: list[str] = field(default_factory=lambda: ["index.html"])
    modules: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


_INCLUDE = re.compile(r"^\s*(Include|IncludeOptional)\s+(\S+)", re.I)
_ENV = {"${APACHE_LOG_DIR}": "/var/log/apache2", "${APACHE_RUN_DIR}": "/var/run/apache2"}


def _expand_glob(disk: Disk, pattern: str) -> list[str]:
    import fnmatch

    pattern = posixpath.join(ETC, pattern)
    folder, glob = posixpath.split(pattern)
    if not any(c in glob for c in "*?["):
        return [pattern] if disk.is_file(pattern) else []
    if not disk.is_dir(folder):
        return []
    return [posixpath.join(folder, n) for n in disk.listdir(folder)
            if fnmatch.fnmatch(n, glob) and disk.is_file(posixpath.join(folder, n))]


def config_lines(disk: Disk) -> list[tuple[str, str]]:
    """Every (file, line) of the effective configuration, includes expanded in order."""
    out: list[tuple[str, str]] = []

    def visit(path: str, depth: int) -> None:
        if depth > 8 or not disk.is_file(path):
            return
        for line in disk.read_text(path).splitlines():
            m = _INCLUDE.match(line)
            if m:
                for inc in _expand_glob(disk, m.group(2)):
                    visit(inc, depth + 1)
                continue
            out.append((path, line))

    visit(f"{ETC}/apache2.conf", 0)
    return out


def read_config(disk: Disk) -> SiteConfig:
    cached = disk.derived.get("apache")
    if cached is not None and cached[0] == disk.etc_version:
        return cached[1]
    cfg = _read_config(disk)
    disk.derived["apache"] = (disk.etc_version, cfg)
    return cfg


def _read_config(disk: Disk) -> SiteConfig:
    cfg = SiteConfig()
    in_vhost = False
    vhost_root: str | None = None
    wsgi_lines: list[tuple[str, str]] = []
    for path, raw in config_lines(disk):
        line = raw.strip()
        for k, v in _ENV.items():
            line = line.replace(k, v)
        if not line or line.startswith("#"):
            continue
        words = line.split()
        key = words[0].lower()
        args = [w.strip('"') for w in words[1:]]
        if key == "<virtualhost":
            in_vhost = True
        elif key == "</virtualhost>":
            in_vhost = False
        elif key == "listen" and args:
            port = args[0].rsplit(":", 1)[-1]
            if port.isdigit():
                cfg.listen.append(int(port))
        elif key == "documentroot" and args:
            if in_vhost and vhost_root is None:
                vhost_root = args[0].rstrip("/") or "/"
        elif key == "alias" and len(args) >= 2:
            cfg.aliases.append((args[0], args[1]))
        elif key == "wsgiscriptalias" and len(args) >= 2:
            cfg.wsgi.append((args[0], args[1]))
        elif key == "directoryindex" and args:
            cfg.directory_index = args
        elif key == "loadmodule" and len(args) >= 2:
            cfg.modules.add(args[0].removesuffix("_module"))
        if key.startswith("wsgi"):
            wsgi_lines.append((path, words[0]))
    if "wsgi" not in cfg.modules:
        # What apache2ctl says when a site uses mod_wsgi before `a2enmod wsgi`.
        for path, word in wsgi_lines[:1]:
            cfg.errors.append(
                f"AH00526: Syntax error in {path}: Invalid command '{word}', perhaps misspelled"
                " or defined by a module not included in the server configuration")
    if vhost_root:
        cfg.document_root = vhost_root
    # Longest prefix wins, as Apache's alias matching effectively does.
    cfg.aliases.sort(key=lambda a: -len(a[0]))
    cfg.wsgi.sort(key=lambda a: -len(a[0]))
    return cfg

