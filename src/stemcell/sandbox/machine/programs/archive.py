"""unzip and tar over the real bytes of a bundle on the guest's disk."""

from __future__ import annotations

import io as _io
import posixpath
import tarfile
import zipfile

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.shell import IO, CmdError, Shell


def _safe(name: str) -> str | None:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _ensure_dir(sh: Shell, full: str) -> None:
    disk = sh.system.disk
    if disk.is_dir(full):
        return
    probe = full
    while not disk.exists(posixpath.dirname(probe)):
        probe = posixpath.dirname(probe)
    if not disk.can_write(probe, sh.user):
        raise CmdError(f"cannot create {full}: Permission denied")
    disk.mkdir(full, owner=sh.user)


@command("unzip")
def unzip(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="oqnlj", valued="d")
    if not o.args:
        io.print("UnZip 6.00 of 20 April 2009, by Debian. Original by Info-ZIP.\n\n"
                 "Usage: unzip [-Z] [-opts[modifiers]] file[.zip] [list] [-x xlist] [-d exdir]")
        return 0
    archive, *only = o.args
    disk = sh.system.disk
    full = sh.path(archive)
    if not disk.is_file(full) and disk.is_file(full + ".zip"):
        full += ".zip"
    if not disk.is_file(full):
        io.eprint(f"unzip:  cannot find or open {archive}, {archive}.zip or {archive}.ZIP.")
        return 9
    if not disk.can_read(full, sh.user):
        io.eprint(f"error:  cannot open zipfile [ {archive} ]\n        Permission denied")
        return 9
    try:
        zf = zipfile.ZipFile(_io.BytesIO(disk.read(full)))
    except zipfile.BadZipFile:
        io.eprint(f"  End-of-central-directory signature not found.  Either this file is not\n"
                  f"  a zipfile, or it constitutes one disk of a multi-part archive.\n"
                  f"unzip:  cannot find zipfile directory in one of {archive}")
        return 9
    quiet = o.has("q")
    if o.has("l"):
        total = 0
        io.print(f"Archive:  {archive}\n  Length      Date    Time    Name\n"
                 "---------  ---------- -----   ----")
        for info in zf.infolist():
            y, mo, d, h, mi, _ = info.date_time
            io.print(f"{info.file_size:>9}  {mo:02d}-{d:02d}-{y} {h:02d}:{mi:02d}   "
                     f"{info.filename}")
            total += info.file_size
        io.print(f"---------                     -------\n{total:>9}                     "
                 f"{len(zf.infolist())} files")
        return 0
    dest = sh.path(o.get("d") or ".")
    if not quiet:
        io.print(f"Archive:  {archive}")
    status = 0
    none_all = False
    with sh.system.lock:
        try:
            _ensure_dir(sh, dest)
        except CmdError as exc:
            io.eprint(f"checkdir:  {exc}")
            return 3
        for info in zf.infolist():
            name = _safe(info.filename)
            if name is None:
                io.eprint(f"warning:  skipped \"../\" path component(s) in {info.filename}")
                status = 1
                continue
            if only and name not in only:
                continue
            target = posixpath.join(dest, name)
            if o.has("j"):
                if info.is_dir():
                    continue
                target = posixpath.join(dest, posixpath.basename(name))
            if info.is_dir():
                if not disk.is_dir(target):
                    _ensure_dir(sh, target.rstrip("/"))
                    if not quiet:
                        io.print(f"   creating: {target.rstrip('/')}/")
                continue
            _ensure_dir(sh, posixpath.dirname(target))
            if disk.exists(target) and not o.has("o"):
                if o.has("n") or none_all:
                    continue
                io.print(f"replace {target}? [y]es, [n]o, [A]ll, [N]one, [r]ename: "
                         "NULL\n(EOF or read error, treating as \"[N]one\" ...)")
                none_all = True
                continue
            if not disk.can_write(target, sh.user):
                io.eprint(f"error:  cannot create {target}\n        Permission denied")
                status = 50
                continue
            mode = (info.external_attr >> 16) & 0o7777
            new = not disk.exists(target)
            disk.write(target, zf.read(info), mode=mode or 0o644 if new else None,
                       owner=sh.user if new else None, group=sh.user if new else None)
            if not quiet:
                io.print(f"  inflating: {target}")
    sh.sleep(0.05 + disk.get(full).data.__len__() / 50_000_000)  # type: ignore[union-attr]
    return status


@command("tar")
def tar(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if args and args[0] == "--version":
        io.print("tar (GNU tar) 1.35\nCopyright (C) 2023 Free Software Foundation, Inc.\n"
                 "License GPLv3+: GNU GPL version 3 or later "
                 "<https://gnu.org/licenses/gpl.html>.\n"
                 "This is free software: you are free to change and redistribute it.\n"
                 "There is NO WARRANTY, to the extent permitted by law.\n\n"
                 "Written by John Gilmore and Jay Fenlason.")
        return 0
    # Old-style bundled first argument: `tar xzf file`.
    if args and not args[0].startswith("-") and set(args[0]) <= set("xctzjvfpJ"):
        args = ["-" + args[0], *args[1:]]
    o = parse(args, short="xctzjvpJ", valued="fC",
              long=("extract", "create", "list", "gzip", "verbose", "no-same-owner",
                    "strip-components"), long_valued=("file", "directory"), strict=False)
    archive = o.get("f", "file")
    if not archive:
        raise CmdError("Refusing to read archive contents from terminal (missing -f option?)", 2)
    disk = sh.system.disk
    dest = sh.path(o.get("C", "directory") or ".")
    verbose = o.has("v", "verbose")
    if o.has("c", "create"):
        buf = _io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if o.has("z") else "w") as tf:
            for src in o.args:
                root = sh.path(src)
                for p in disk.walk(root):
                    node = disk.nodes[p]
                    rel = posixpath.relpath(p, posixpath.dirname(root) if not o.get("C")
                                            else dest)
                    ti = tarfile.TarInfo(rel)
                    ti.mode = node.mode
                    if node.kind == "dir":
                        ti.type = tarfile.DIRTYPE
                        tf.addfile(ti)
                    elif node.kind == "file":
                        ti.size = len(node.data)
                        tf.addfile(ti, _io.BytesIO(node.data))
                    if verbose:
                        io.print(rel)
        from stemcell.sandbox.machine.programs.net import _write_out

        _write_out(sh, archive, buf.getvalue())
        return 0
    full = sh.path(archive)
    if not disk.is_file(full):
        io.eprint(f"tar: {archive}: Cannot open: No such file or directory\n"
                  "tar: Error is not recoverable: exiting now")
        return 2
    try:
        tf = tarfile.open(fileobj=_io.BytesIO(disk.read(full)), mode="r:*")  # noqa: SIM115
    except tarfile.TarError:
        io.eprint("tar: This does not look like a tar archive\n"
                  "tar: Exiting with failure status due to previous errors")
        return 2
    if o.has("t", "list"):
        for m in tf.getmembers():
            io.print(m.name)
        return 0
    if not disk.is_dir(dest):
        io.eprint(f"tar: {o.get('C', 'directory')}: Cannot open: No such file or directory")
        return 2
    status = 0
    with sh.system.lock:
        for m in tf.getmembers():
            name = _safe(m.name)
            if name is None or m.issym() or m.islnk():
                io.eprint(f"tar: {m.name}: Member name contains '..' or is a link "
                          "(not extracted)")
                status = 2
                continue
            if not name:
                continue
            target = posixpath.join(dest, name)
            try:
                if m.isdir():
                    _ensure_dir(sh, target)
                else:
                    _ensure_dir(sh, posixpath.dirname(target))
                    if not disk.can_write(target, sh.user):
                        raise CmdError(f"{name}: Cannot open: Permission denied")
                    f = tf.extractfile(m)
                    data = f.read() if f else b""
                    disk.write(target, data, mode=m.mode & 0o7777 or 0o644,
                               owner=sh.user, group=sh.user)
            except CmdError as exc:
                io.eprint(f"tar: {exc}")
                status = 2
                continue
            if verbose:
                io.print(m.name)
    return status


@command("gzip", "gunzip", "zcat")
def gzip_(sh: Shell, argv: list[str], io: IO) -> int:
    """gzip 1.12: replaces FILE with FILE.gz (mode and owner kept); -d/gunzip undoes it;
    -c/zcat writes to stdout; -k keeps the input; -l lists sizes."""
    import gzip as _gzip

    o = parse(argv[1:], short="dckflrvq123456789t", long=("decompress", "stdout", "keep",
                                                          "force", "list", "version"))
    if o.has("version"):
        io.print("gzip 1.12\nCopyright (C) 2018 Free Software Foundation, Inc.")
        return 0
    decompress = o.has("d", "decompress") or argv[0] in ("gunzip", "zcat")
    to_stdout = o.has("c", "stdout") or argv[0] == "zcat"
    disk = sh.system.disk
    if not o.args:
        data = io.stdin
        try:
            io.out(_gzip.decompress(data) if decompress else _gzip.compress(data, mtime=0))
        except (OSError, EOFError):
            io.eprint(f"{argv[0]}: stdin: not in gzip format")
            return 1
        return 0
    status = 0
    for name in o.args:
        full = sh.path(name)
        node = disk.get(full)
        if node is None:
            io.eprint(f"{argv[0]}: {name}: No such file or directory")
            status = 1
            continue
        if node.kind == "dir":
            io.eprint(f"{argv[0]}: {name} is a directory -- ignored")
            status = 2
            continue
        if decompress and not name.endswith((".gz", ".tgz")):
            io.eprint(f"{argv[0]}: {name}: unknown suffix -- ignored")
            status = 2
            continue
        if not decompress and name.endswith(".gz") and not to_stdout:
            io.eprint(f"gzip: {name} already has .gz suffix -- unchanged")
            status = 2
            continue
        if not disk.can_read(full, sh.user):
            io.eprint(f"{argv[0]}: {name}: Permission denied")
            status = 1
            continue
        try:
            data = _gzip.decompress(node.data) if decompress else \
                _gzip.compress(node.data, mtime=int(node.mtime))
        except (OSError, EOFError):
            io.eprint(f"{argv[0]}: {name}: not in gzip format")
            status = 1
            continue
        if o.has("l", "list"):
            raw = _gzip.decompress(node.data) if name.endswith(".gz") else node.data
            io.print("         compressed        uncompressed  ratio uncompressed_name")
            ratio = 100 * (1 - len(node.data) / len(raw)) if raw else 0.0
            io.print(f"{len(node.data):>19} {len(raw):>19} {ratio:5.1f}% "
                     f"{name.removesuffix('.gz')}")
            continue
        if to_stdout:
            io.out(data)
            continue
        out = full[:-3] if full.endswith(".gz") else (
            full[:-4] + ".tar" if full.endswith(".tgz") else full + ".gz")
        if decompress is False:
            out = full + ".gz"
        if disk.exists(out) and not o.has("f", "force"):
            io.eprint(f"{argv[0]}: {out} already exists; not overwritten")
            status = 2
            continue
        if not disk.can_write(out, sh.user) or not disk.can_write(full, sh.user):
            io.eprint(f"{argv[0]}: {out}: Permission denied")
            status = 1
            continue
        with sh.system.lock:
            disk.write(out, data, mode=node.mode, owner=node.owner, group=node.group)
            disk.nodes[disk.resolve(out)].mtime = node.mtime
            if not o.has("k", "keep"):
                disk.remove(full)
    return status
