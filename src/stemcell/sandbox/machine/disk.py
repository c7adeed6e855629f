"""The guest's disk: files, directories, symlinks, packages, systemd units.

A disk is plain data so that CreateImage can copy it and an instance launched
from the baked AMI finds Apache already installed. Paths are absolute POSIX
paths; symlinks are resolved the way the kernel does (intermediate components
always, the last one unless asked not to).
"""

from __future__ import annotations

import base64
import copy as _copy
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

NodeKind = Literal["file", "dir", "link"]

ROOT = "root"


class DiskError(OSError):
    """A file-system error phrased like coreutils would (``No such file or directory``)."""


class DiskClock:
    """Where a disk reads the time for the mtimes it stamps: the host's clock until a
    running guest adopts the disk (``System`` hands it its wall clock, so ``ls -l`` after
    ``touch`` agrees with ``date``). A copy (an image) starts again from the host's."""

    def __init__(self) -> None:
        self._now: Callable[[], float] = time.time

    def use(self, now: Callable[[], float]) -> None:
        self._now = now

    def __call__(self) -> float:
        return self._now()

    def __deepcopy__(self, memo: dict[int, Any]) -> DiskClock:
        return DiskClock()


@dataclass
class Node:
    kind: NodeKind
    mode: int = 0o644
    owner: str = ROOT
    group: str = ROOT
    data: bytes = b""
    target: str = ""  # symlinks only
    mtime: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "mode": self.mode, "owner": self.owner,
                               "group": self.group, "mtime": self.mtime}
        if self.kind == "file":
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.kind == "link":
            out["target"] = self.target
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        return cls(kind=d["kind"], mode=int(d["mode"]), owner=d["owner"], group=d["group"],
                   data=base64.b64decode(d.get("data", "")), target=d.get("target", ""),
                   mtime=float(d.get("mtime", 0.0)))


def norm(path: str, cwd: str = "/") -> str:
    if not path.startswith("/"):
        path = posixpath.join(cwd, path)
    out = posixpath.normpath(path)
    # POSIX keeps a leading '//' but Linux treats it as '/'.
    return "/" + out.lstrip("/")


@dataclass
class Disk:
    nodes: dict[str, Node] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # name -> version
    units: dict[str, bool] = field(default_factory=dict)  # unit -> enabled
    apt_updated: bool = False
    # Bytes packages put on disk beyond the files we model (their Installed-Size).
    installed_bytes: int = 0
    release: str = "24.04"
    arch: str = "x86_64"
    # Bumped on every change of the tree, so readers can cache what they derive.
    version: int = field(default=0, compare=False)
    etc_version: int = field(default=0, compare=False)  # changes under /etc only
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    clock: DiskClock = field(default_factory=DiskClock, compare=False, repr=False)

    def __post_init__(self) -> None:
        if "/" not in self.nodes:
            self.nodes["/"] = Node("dir", 0o755)

    # --- serialisation -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "arch": self.arch,
            "apt_updated": self.apt_updated,
            "installed_bytes": self.installed_bytes,
            "packages": dict(self.packages),
            "units": dict(self.units),
            "nodes": {p: n.to_json() for p, n in sorted(self.nodes.items())},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Disk:
        return cls(
            nodes={p: Node.from_json(n) for p, n in d["nodes"].items()},
            packages=dict(d.get("packages", {})),
            units={k: bool(v) for k, v in d.get("units", {}).items()},
            apt_updated=bool(d.get("apt_updated", False)),
            installed_bytes=int(d.get("installed_bytes", 0)),
            release=d.get("release", "24.04"),
            arch=d.get("arch", "x86_64"),
        )

    def copy(self) -> Disk:
        return _copy.deepcopy(self)

    @classmethod
    def ubuntu(cls, release: str = "24.04", arch: str = "x86_64") -> Disk:
        from stemcell.sandbox.machine.disk_image import fresh_ubuntu

        return fresh_ubuntu(release, arch)

    # --- lookups -------------------------------------------------------------------

    def resolve(self, path: str, *, follow: bool = True, cwd: str = "/") -> str:
        """The real path of ``path`` (symlinks followed), whether it exists or not."""
        path = norm(path, cwd)
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for i, part in enumerate(parts):
            nxt = posixpath.join(cur, part)
            last = i == len(parts) - 1
            hops = 0
            node = self.nodes.get(nxt)
            while node is not None and node.kind == "link" and (follow or not last):
                hops += 1
                if hops > 40:
                    raise DiskError(f"{path}: Too many levels of symbolic links")
                nxt = norm(node.target, cur)
                if nxt != "/":
                    nxt = self.resolve(nxt, follow=False)
                node = self.nodes.get(nxt)
            cur = nxt
        return cur

    def get(self, path: str, *, follow: bool = True) -> Node | None:
        return self.nodes.get(self.resolve(path, follow=follow))

    def exists(self, path: str) -> bool:
        return self.get(path) is not None

    def is_dir(self, path: str) -> bool:
        node = self.get(path)
        return node is not None and node.kind == "dir"

    def is_file(self, path: str) -> bool:
        node = self.get(path)
        return node is not None and node.kind == "file"

    def read(self, path: str) -> bytes:
        node = self.get(path)
        if node is None:
            raise DiskError(f"{path}: No such file or directory")
        if node.kind == "dir":
            raise DiskError(f"{path}: Is a directory")
        return node.data

    def read_text(self, path: str) -> str:
        return self.read(path).decode("utf-8", "replace")

    def listdir(self, path: str) -> list[str]:
        real = self.resolve(path)
        node = self.nodes.get(real)
        if node is None:
            raise DiskError(f"{path}: No such file or directory")
        if node.kind != "dir":
            raise DiskError(f"{path}: Not a directory")
        prefix = real.rstrip("/") + "/"
        # list() copies the keys atomically: other threads (the web server's logs) may
        # add files while we look.
        return sorted({p[len(prefix):] for p in list(self.nodes)
                       if p.startswith(prefix) and p != real and "/" not in p[len(prefix):]})

    def walk(self, path: str) -> list[str]:
        """Every path at or below ``path`` (not following symlinks), parents first."""
        real = self.resolve(path, follow=False)
        prefix = real.rstrip("/") + "/"
        return sorted(p for p in list(self.nodes) if p == real or p.startswith(prefix))

    # --- permissions ---------------------------------------------------------------

    def member(self, user: str, group: str) -> bool:
        if group == user:
            return True
        node = self.nodes.get("/etc/group")
        if node is None:
            return False
        for line in node.data.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[0] == group:
                return user in fields[3].split(",")
        return False

    def _allowed(self, node: Node, user: str, bit: int) -> bool:
        if user == ROOT:
            return True
        if node.owner == user:
            return bool(node.mode & (bit << 6))
        if self.member(user, node.group):
            return bool(node.mode & (bit << 3))
        return bool(node.mode & bit)

    def can_write(self, path: str, user: str) -> bool:
        """May ``user`` create, replace or remove ``path``? (write on the file or its dir)"""
        if user == ROOT:
            return True
        node = self.get(path)
        if node is not None and node.kind == "file":
            return self._allowed(node, user, 0o2)
        parent = self.get(posixpath.dirname(self.resolve(path)))
        return parent is not None and self._allowed(parent, user, 0o2)

    def can_read(self, path: str, user: str) -> bool:
        node = self.get(path)
        return node is not None and self._allowed(node, user, 0o4)

    # --- mutations (no permission checks: callers decide who may) ------------------

    def _touch(self, path: str) -> None:
        self.version += 1
        if path.startswith("/etc"):
            self.etc_version += 1

    def mkdir(self, path: str, *, mode: int = 0o755, owner: str = ROOT, group: str | None = None,
              parents: bool = True) -> None:
        self._touch(norm(path))
        real = self.resolve(path)
        if real in self.nodes:
            if self.nodes[real].kind != "dir":
                raise DiskError(f"cannot create directory '{path}': File exists")
            return
        parent = posixpath.dirname(real)
        if parent not in self.nodes:
            if not parents:
                raise DiskError(f"cannot create directory '{path}': No such file or directory")
            self.mkdir(parent, mode=0o755, owner=owner, group=group)
        elif self.nodes[parent].kind != "dir":
            raise DiskError(f"cannot create directory '{path}': Not a directory")
        self.nodes[real] = Node("dir", mode, owner, group or owner, mtime=self.clock())

    def write(self, path: str, data: bytes | str, *, mode: int | None = None,
              owner: str | None = None, group: str | None = None, append: bool = False,
              parents: bool = False) -> None:
        self._touch(norm(path))
        if isinstance(data, str):
            data = data.encode("utf-8")
        real = self.resolve(path)
        node = self.nodes.get(real)
        if node is not None and node.kind == "dir":
            raise DiskError(f"{path}: Is a directory")
        parent = posixpath.dirname(real)
        pnode = self.nodes.get(parent)
        if pnode is None:
            if not parents:
                raise DiskError(f"{path}: No such file or directory")
            self.mkdir(parent)
        elif pnode.kind != "dir":
            raise DiskError(f"{path}: Not a directory")
        if node is None:
            o = owner or ROOT
            node = Node("file", 0o644 if mode is None else mode, o, group or o,
                        mtime=self.clock())
            self.nodes[real] = node
        else:
            if mode is not None:
                node.mode = mode
            if owner is not None:
                node.owner = owner
            if group is not None:
                node.group = group
        node.data = node.data + data if append else data
        node.mtime = self.clock()

    def symlink(self, target: str, path: str, *, force: bool = False,
                owner: str = ROOT) -> None:
        self._touch(norm(path))
        real = self.resolve(path, follow=False)
        if real in self.nodes and not force:
            raise DiskError(f"failed to create symbolic link '{path}': File exists")
        parent = posixpath.dirname(real)
        if parent not in self.nodes:
            raise DiskError(f"failed to create symbolic link '{path}': No such file or directory")
        self.nodes[real] = Node("link", 0o777, owner, owner, target=target,
                                mtime=self.clock())

    def remove(self, path: str, *, recursive: bool = False) -> None:
        self._touch(norm(path))
        real = self.resolve(path, follow=False)
        node = self.nodes.get(real)
        if node is None:
            raise DiskError(f"cannot remove '{path}': No such file or directory")
        if node.kind == "dir":
            if real == "/":
                raise DiskError("it is dangerous to operate recursively on '/'")
            if not recursive:
                raise DiskError(f"cannot remove '{path}': Is a directory")
            for p in self.walk(real):
                del self.nodes[p]
            return
        del self.nodes[real]

    def rename(self, src: str, dst: str) -> None:
        self._touch(norm(src))
        self._touch(norm(dst))
        s = self.resolve(src, follow=False)
        if s not in self.nodes:
            raise DiskError(f"cannot stat '{src}': No such file or directory")
        d = self.resolve(dst)
        if d in self.nodes and self.nodes[d].kind == "dir":
            d = posixpath.join(d, posixpath.basename(s))
        if posixpath.dirname(d) not in self.nodes:
            raise DiskError(f"cannot move '{src}' to '{dst}': No such file or directory")
        moved = {p: self.nodes.pop(p) for p in self.walk(s)}
        if d in self.nodes and self.nodes[d].kind == "dir":
            self.remove(d, recursive=True)
        for p, n in moved.items():
            self.nodes[d + p[len(s):]] = n

    def used_bytes(self) -> int:
        """Bytes in use beyond the base image's own (files modeled + packages installed)."""
        return sum(len(n.data) for n in list(self.nodes.values())) + self.installed_bytes
