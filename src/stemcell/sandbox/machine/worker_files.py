"""The guest's files between its disk model and its worker, both ways.

``push`` sends what changed on the guest's disk since the last push (a ``put``
frame); ``apply`` brings back what the worker's programs wrote (a ``scan``'s
changes). Inside the worker one uid runs every program, so the guest's own
permissions are applied here on the way back: a write is kept if a user whose
program ran since the last sync may make it on Ubuntu (``Disk.can_write``);
otherwise it is refused and the disk's version goes back at the next push.
Files only root may read (host keys, ``/etc/shadow``, ``/root``) are never sent.

Everything in ``apply`` comes from the guest and is hostile: paths are normalised
and kept to the guest's folders, types checked, and it changes the guest's own
disk model only, never a host file.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from typing import Any

from stemcell.sandbox.machine import worker_sandbox
from stemcell.sandbox.machine.disk import ROOT, Disk, DiskError, Node, norm
from stemcell.sandbox.machine.system import System

# Folders of the guest left out of the worker's view (big, and no program's business).
SKIPPED = ("/var/log/journal", "/var/lib/apt", "/var/lib/dpkg", "/var/cache")
# Whose reading decides whether a file is shown to guest programs at all: a file
# only root may read (host keys, /etc/shadow, /root) stays out of the worker.
VIEWERS = ("www-data", "ubuntu")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    if not isinstance(text, str):
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _allowed(disk: Disk, node: Node, user: str, bit: int) -> bool:
    if node.owner == user:
        return bool(node.mode & (bit << 6))
    if disk.member(user, node.group):
        return bool(node.mode & (bit << 3))
    return bool(node.mode & bit)




class FileSync:
    """What the worker has of the guest's disk, and the way back."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._pushed: dict[str, tuple[str, object, int, str]] = {}
        self._pushed_version = -1
        self._sync_lock = threading.Lock()
        self._push_lock = threading.Lock()
        self._writers: dict[str, int] = {}  # guest users of running programs (count)
        self._recent_writers: set[str] = set()

    def reset(self) -> None:
        """A fresh worker has nothing: the next push sends everything."""
        with self._sync_lock:
            self._pushed = {}
            self._pushed_version = -1

    def _visible(self, path: str, node: Node) -> bool:
        """Would a guest user other than root see this file? (Else it stays out.)"""
        disk = self.system.disk
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts)):
            anc = disk.nodes.get("/" + "/".join(parts[:i]))
            if anc is None or anc.kind != "dir":
                continue
            if not any(_allowed(disk, anc, u, 0o1) for u in VIEWERS):
                return False
        if node.kind == "file":
            return any(_allowed(disk, node, u, 0o4) for u in VIEWERS)
        return True

    @staticmethod
    def _in_view(path: str) -> bool:
        return any(path == t or path.startswith(t + "/") for t in worker_sandbox.GUEST_TOPS) \
            and not any(path == s or path.startswith(s + "/") for s in SKIPPED)

    def push(self, send: Callable[[dict[str, Any]], None]) -> None:
        """Send (a ``put`` frame) the guest's disk changes since the last push — all of
        it the first time after reset()."""
        system = self.system
        # Lock order everywhere: push lock, then the guest's lock, then the sync lock.
        with self._push_lock:
            with system.lock, self._sync_lock:
                disk = system.disk
                if disk.version == self._pushed_version:
                    return
                files: list[dict[str, Any]] = []
                current: dict[str, tuple[str, object, int, str]] = {}
                for path, node in list(disk.nodes.items()):
                    if not self._in_view(path) or path in worker_sandbox.GUEST_TOPS:
                        continue
                    if not self._visible(path, node):
                        continue
                    key = (node.kind, node.data if node.kind == "file" else None, node.mode,
                           node.target)
                    current[path] = key
                    old = self._pushed.get(path)
                    if old is not None and old[0] == key[0] and old[1] is key[1] and \
                            old[2] == key[2] and old[3] == key[3]:
                        continue
                    entry: dict[str, Any] = {"path": path, "kind": node.kind,
                                             "mode": node.mode}
                    if node.kind == "file":
                        entry["data"] = b64(node.data)
                    elif node.kind == "link":
                        entry["target"] = node.target
                    files.append(entry)
                removed = [p for p in self._pushed if p not in current]
                self._pushed = current
                self._pushed_version = disk.version
            files.sort(key=lambda e: (e["kind"] != "dir", e["path"]))
            if files or removed:
                send({"op": "put", "id": "put", "files": files,
                      "remove": sorted(removed, reverse=True)})

    def apply(self, changes: object, users: set[str]) -> list[str]:
        """Bring what programs wrote back to the guest's disk; returns the paths refused
        (a program running as www-data cannot write /etc on Ubuntu either)."""
        if not isinstance(changes, dict):
            return []
        refused: list[str] = []
        system = self.system
        with system.lock, self._sync_lock:
            disk = system.disk
            owner = ROOT if ROOT in users else (sorted(users)[0] if users else "")
            for entry in changes.get("files", []) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                    continue
                path = norm(entry["path"])
                kind = entry.get("kind")
                if not self._in_view(path) or path in worker_sandbox.GUEST_TOPS or \
                        kind not in ("file", "dir", "link"):
                    continue
                if not users or not any(disk.can_write(path, u) for u in users):
                    refused.append(path)
                    self._pushed.pop(path, None)  # the next push puts the disk's back
                    self._pushed_version = -1
                    continue
                mode = int(entry.get("mode", 0o644)) & 0o7777 \
                    if isinstance(entry.get("mode"), int) else 0o644
                try:
                    node = disk.get(path, follow=False)
                    if node is not None and node.kind != kind:
                        disk.remove(path, recursive=True)
                        node = None
                    if kind == "dir":
                        if node is None:
                            disk.mkdir(path, mode=mode, owner=owner)
                        else:
                            node.mode = mode
                    elif kind == "link":
                        disk.symlink(str(entry.get("target", "")), path, force=True,
                                     owner=owner)
                    else:
                        fresh = node is None
                        disk.write(path, unb64(entry.get("data")), mode=mode,
                                   owner=owner if fresh else None,
                                   group=owner if fresh else None, parents=True)
                except DiskError:
                    refused.append(path)
                    continue
                new = disk.nodes.get(path)
                if new is not None:
                    self._pushed[path] = (new.kind, new.data if new.kind == "file" else None,
                                          new.mode, new.target)
            for path in changes.get("removed", []) or []:
                if not isinstance(path, str):
                    continue
                path = norm(path)
                if not self._in_view(path) or path in worker_sandbox.GUEST_TOPS:
                    continue
                if path not in self._pushed and disk.get(path, follow=False) is None:
                    continue
                if not users or not any(disk.can_write(path, u) for u in users):
                    refused.append(path)
                    self._pushed.pop(path, None)
                    self._pushed_version = -1
                    continue
                if disk.get(path, follow=False) is not None:
                    try:
                        disk.remove(path, recursive=True)
                    except DiskError:
                        pass
                for p in [k for k in self._pushed if k == path or k.startswith(path + "/")]:
                    del self._pushed[p]
            if self._pushed_version != -1:
                self._pushed_version = disk.version
        return refused

    def writer(self, user: str, delta: int) -> None:
        """A program of ``user`` starts (+1) or ends (-1): whose writes to accept."""
        with self._sync_lock:
            self._writers[user] = self._writers.get(user, 0) + delta
            if self._writers[user] <= 0:
                del self._writers[user]
            self._recent_writers.add(user)

    def users(self) -> set[str]:
        """The users whose programs ran since the last call (their writes count)."""
        with self._sync_lock:
            users = set(self._writers) | self._recent_writers
            self._recent_writers = set(self._writers)
            return users
