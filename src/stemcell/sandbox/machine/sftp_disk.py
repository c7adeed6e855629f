"""The guest's SFTP subsystem (`Subsystem sftp /usr/lib/openssh/sftp-server` in its
sshd_config): paramiko's SFTPServerInterface over the guest's Disk, with the
logged-in user's permissions. Stock OpenSSH `sftp` and `scp` (which speaks SFTP
by default since OpenSSH 9.0) work both ways.

As OpenSSH's sftp-server does: paths are relative to the user's home; new files
get the client's requested mode masked by the session umask (022); errors map to
SSH_FX_PERMISSION_DENIED / NO_SUCH_FILE / FAILURE.
"""

from __future__ import annotations

import os
import posixpath
import stat as st
from typing import TYPE_CHECKING

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

from stemcell.sandbox.machine.disk import ROOT, Disk, DiskError, Node, norm

if TYPE_CHECKING:
    from stemcell.sandbox.machine.system import System

UMASK = 0o022

_UIDS = {ROOT: 0, "www-data": 33, "ubuntu": 1000}


def _id(disk: Disk, name: str, db: str) -> int:
    try:
        for line in disk.read_text(db).splitlines():
            fields = line.split(":")
            if fields[0] == name and len(fields) > 2 and fields[2].isdigit():
                return int(fields[2])
    except DiskError:
        pass
    return _UIDS.get(name, 65534)


def attributes(disk: Disk, node: Node, name: str = "") -> paramiko.SFTPAttributes:
    attr = paramiko.SFTPAttributes()
    kind = {"dir": st.S_IFDIR, "link": st.S_IFLNK}.get(node.kind, st.S_IFREG)
    attr.st_mode = kind | (node.mode & 0o7777)
    attr.st_size = len(node.data) if node.kind == "file" else (
        4096 if node.kind == "dir" else len(node.target))
    attr.st_uid = _id(disk, node.owner, "/etc/passwd")
    attr.st_gid = _id(disk, node.group, "/etc/group")
    attr.st_atime = int(node.mtime)
    attr.st_mtime = int(node.mtime)
    attr.filename = name
    return attr


class _Handle(paramiko.SFTPHandle):
    """An open file: its bytes live here until close() writes them back to the disk."""

    def __init__(self, fs: DiskSftp, path: str, flags: int, data: bytes) -> None:
        super().__init__(flags)
        self.fs = fs
        self.path = path
        self.open_flags = flags  # SFTPHandle keeps its own copy private
        self.data = bytearray(data)
        self.dirty = False
        self.writable = bool(flags & (os.O_WRONLY | os.O_RDWR))
        self.append = bool(flags & os.O_APPEND)

    def read(self, offset: int, length: int) -> bytes | int:
        if self.open_flags & os.O_WRONLY:
            return SFTP_PERMISSION_DENIED
        return bytes(self.data[offset:offset + length])

    def write(self, offset: int, data: bytes) -> int:  # type: ignore[override]
        if not self.writable:
            return SFTP_PERMISSION_DENIED
        if self.append:
            offset = len(self.data)
        if offset > len(self.data):
            self.data.extend(b"\0" * (offset - len(self.data)))
        self.data[offset:offset + len(data)] = data
        self.dirty = True
        return SFTP_OK

    def stat(self) -> paramiko.SFTPAttributes | int:
        self.flush()
        return self.fs.stat(self.path)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        self.flush()
        return self.fs.chattr(self.path, attr)

    def flush(self) -> None:
        if self.dirty:
            system = self.fs.system
            with system.lock:
                system.disk.write(self.path, bytes(self.data))
            self.dirty = False

    def close(self) -> None:
        self.flush()
        super().close()


class DiskSftp(paramiko.SFTPServerInterface):
    """One SFTP session: ``user`` browsing ``system``'s disk."""

    def __init__(self, server: paramiko.ServerInterface, system: System,
                 user: str = "ubuntu") -> None:
        super().__init__(server)
        self.system = system
        self.user = user
        self.home = "/root" if user == ROOT else f"/home/{user}"

    @property
    def disk(self) -> Disk:
        return self.system.disk

    def _path(self, path: str) -> str:
        return norm(path or ".", self.home)

    def _search(self, path: str) -> bool:
        """May the user traverse every directory on the way to ``path``?"""
        if self.user == ROOT:
            return True
        parts = [p for p in posixpath.dirname(path).split("/") if p]
        cur = "/"
        for part in parts:
            cur = posixpath.join(cur, part)
            node = self.disk.get(cur)
            if node is not None and node.kind == "dir" and not self.disk._allowed(
                    node, self.user, 0o1):
                return False
        return True

    # --- queries ---------------------------------------------------------------------

    def canonicalize(self, path: str) -> str:
        try:
            return self.disk.resolve(self._path(path))
        except DiskError:
            return self._path(path)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        full = self._path(path)
        node = self.disk.get(full)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if node.kind != "dir":
            return SFTP_FAILURE
        if not self._search(full) or (not self.disk._allowed(node, self.user, 0o4) and \
                self.user != ROOT):
            return SFTP_PERMISSION_DENIED
        out = []
        real = self.disk.resolve(full)
        for name in self.disk.listdir(real):
            child = self.disk.get(posixpath.join(real, name), follow=False)
            if child is not None:
                out.append(attributes(self.disk, child, name))
        return out

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        full = self._path(path)
        node = self.disk.get(full)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if not self._search(full):
            return SFTP_PERMISSION_DENIED
        return attributes(self.disk, node, posixpath.basename(full))

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        full = self._path(path)
        node = self.disk.get(full, follow=False)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if not self._search(full):
            return SFTP_PERMISSION_DENIED
        return attributes(self.disk, node, posixpath.basename(full))

    def readlink(self, path: str) -> str | int:
        node = self.disk.get(self._path(path), follow=False)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if node.kind != "link":
            return SFTP_FAILURE
        return node.target

    # --- files -----------------------------------------------------------------------

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> _Handle | int:
        full = self._path(path)
        disk = self.disk
        if not self._search(full):
            return SFTP_PERMISSION_DENIED
        node = disk.get(full)
        if node is not None and node.kind == "dir":
            return SFTP_FAILURE
        wants_write = bool(flags & (os.O_WRONLY | os.O_RDWR))
        if node is None:
            if not flags & os.O_CREAT:
                return SFTP_NO_SUCH_FILE
            parent = disk.get(posixpath.dirname(disk.resolve(full)))
            if parent is None or parent.kind != "dir":
                return SFTP_NO_SUCH_FILE
            if not disk.can_write(full, self.user):
                return SFTP_PERMISSION_DENIED
            requested = attr.st_mode if attr is not None and attr.st_mode is not None \
                else 0o666
            mode = requested & 0o7777 & ~UMASK
            with self.system.lock:
                disk.write(full, b"", mode=mode, owner=self.user,
                           group=self.user if self.user != ROOT else ROOT)
            data = b""
        else:
            if flags & os.O_CREAT and flags & os.O_EXCL:
                return SFTP_FAILURE
            if wants_write and not disk.can_write(full, self.user):
                return SFTP_PERMISSION_DENIED
            if not flags & os.O_WRONLY and not disk.can_read(full, self.user):
                return SFTP_PERMISSION_DENIED
            data = b"" if flags & os.O_TRUNC else node.data
            if flags & os.O_TRUNC:
                with self.system.lock:
                    disk.write(full, b"")
        return _Handle(self, disk.resolve(full), flags, data)

    def remove(self, path: str) -> int:
        full = self._path(path)
        node = self.disk.get(full, follow=False)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if node.kind == "dir":
            return SFTP_FAILURE
        if not self._dir_writable(full):
            return SFTP_PERMISSION_DENIED
        with self.system.lock:
            self.disk.remove(full)
        return SFTP_OK

    def _dir_writable(self, full: str) -> bool:
        if self.user == ROOT:
            return True
        parent = self.disk.get(posixpath.dirname(self.disk.resolve(full, follow=False)))
        return parent is not None and self._search(full) and \
            self.disk._allowed(parent, self.user, 0o2)

    def rename(self, oldpath: str, newpath: str) -> int:
        src, dst = self._path(oldpath), self._path(newpath)
        if self.disk.get(src, follow=False) is None:
            return SFTP_NO_SUCH_FILE
        if self.disk.exists(dst):
            return SFTP_FAILURE  # SSH_FXP_RENAME does not overwrite (posix-rename does)
        return self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        src, dst = self._path(oldpath), self._path(newpath)
        if self.disk.get(src, follow=False) is None:
            return SFTP_NO_SUCH_FILE
        if not self._dir_writable(src) or not self._dir_writable(dst):
            return SFTP_PERMISSION_DENIED
        try:
            with self.system.lock:
                if self.disk.is_file(dst):
                    self.disk.remove(dst)
                self.disk.rename(src, dst)
        except DiskError:
            return SFTP_FAILURE
        return SFTP_OK

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        full = self._path(path)
        if self.disk.get(full, follow=False) is not None:
            return SFTP_FAILURE
        if not self._dir_writable(full):
            return SFTP_PERMISSION_DENIED
        mode = attr.st_mode & 0o7777 if attr is not None and attr.st_mode is not None \
            else 0o777
        try:
            with self.system.lock:
                self.disk.mkdir(full, mode=mode & ~UMASK, owner=self.user,
                                group=self.user if self.user != ROOT else ROOT,
                                parents=False)
        except DiskError:
            return SFTP_NO_SUCH_FILE
        return SFTP_OK

    def rmdir(self, path: str) -> int:
        full = self._path(path)
        node = self.disk.get(full, follow=False)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if node.kind != "dir" or self.disk.listdir(full):
            return SFTP_FAILURE
        if not self._dir_writable(full):
            return SFTP_PERMISSION_DENIED
        with self.system.lock:
            self.disk.remove(full, recursive=True)
        return SFTP_OK

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        full = self._path(path)
        node = self.disk.get(full)
        if node is None:
            return SFTP_NO_SUCH_FILE
        if self.user != ROOT and node.owner != self.user:
            return SFTP_PERMISSION_DENIED
        with self.system.lock:
            if attr.st_mode is not None:
                node.mode = attr.st_mode & 0o7777
            if attr.st_mtime is not None:
                node.mtime = float(attr.st_mtime)
            if attr.st_uid is not None and self.user != ROOT and \
                    attr.st_uid != _id(self.disk, node.owner, "/etc/passwd"):
                return SFTP_PERMISSION_DENIED
            self.disk._touch(self.disk.resolve(full))
        return SFTP_OK

    def symlink(self, target_path: str, path: str) -> int:
        full = self._path(path)
        if self.disk.get(full, follow=False) is not None:
            return SFTP_FAILURE
        if not self._dir_writable(full):
            return SFTP_PERMISSION_DENIED
        with self.system.lock:
            self.disk.symlink(target_path, full, owner=self.user)
        return SFTP_OK


class SftpSubsystem(paramiko.SFTPServer):
    """paramiko's SFTP server, ending its session as OpenSSH's sshd does: the channel
    gets exit-status 0 when sftp-server exits (scp reports failure without it)."""

    def finish_subsystem(self) -> None:
        super().finish_subsystem()
        chan = self.sock
        if chan is None:
            return
        try:
            chan.send_exit_status(0)
            chan.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass
