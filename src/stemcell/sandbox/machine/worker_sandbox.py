"""How a guest's worker is walled off from the host: the command line that starts
``worker_guest.py`` inside unprivileged user, mount, pid, network, IPC and UTS
namespaces.

Linux with bubblewrap (``bwrap``, Debian package ``bubblewrap``): a new root of
empty file systems holding only

- one size-limited tmpfs per guest folder the worker keeps in sync with the
  guest's disk (``/etc``, ``/home``, ``/opt``, ``/root``, ``/run``, ``/srv``,
  ``/tmp``, ``/var``);
- read-only: the host's Python interpreter, the shared libraries it and its
  extension modules load (found with ``ldd``), its standard library (without
  ``site-packages``) and ``worker_guest.py`` itself;
- a private ``/proc`` (the guest's own processes) and a minimal ``/dev``;
- a network namespace with nothing but its own loopback: no route to the host's
  127.0.0.1 (WSGI requests come over the worker's stdin/stdout pipe).

No host environment passes (``--clearenv``), capabilities are dropped, no new
privileges can be gained (bwrap sets ``PR_SET_NO_NEW_PRIVS``), nested user
namespaces are disabled, the sandbox dies with its parent.

Without bwrap, ``unshare`` (util-linux) makes the same namespaces and
``worker_guest.py --unshare-root`` builds the same root itself (tmpfs mounts,
read-only binds, ``pivot_root``, the old root detached), then sets
``PR_SET_NO_NEW_PRIVS`` and drops every capability before the supervisor starts.
Without either (or off Linux) the worker runs unisolated — a separate process with
a scrubbed environment and limits, but the host's files in view — and stemcell
says so (``isolation()``). See docs/security.md ("Guest code isolation").
"""

from __future__ import annotations

import functools
import glob
import json
import os
import posixpath
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass

# The guest folders a worker sees (each its own tmpfs, synced with the guest's disk).
GUEST_TOPS = ("/etc", "/home", "/opt", "/root", "/run", "/srv", "/tmp", "/var")
TMPFS_SIZE = 256 * 1024 * 1024  # per folder: a full guest cannot fill the host's memory

GUEST_SCRIPT = "/usr/lib/stemcell/worker_guest.py"
GUEST_PYTHON = "/usr/bin/python3"

ENV_FORCE = "STEMCELL_GUEST_ISOLATION"  # "none" forces the unisolated worker (tests, debug)


@dataclass(frozen=True)
class Isolation:
    kind: str  # "bwrap" | "unshare" | "none"
    reason: str  # why (for the log line / note when unisolated)

    @property
    def isolated(self) -> bool:
        return self.kind != "none"


@functools.lru_cache(maxsize=4)
def _probe(prefer: str) -> Isolation:
    if not sys.platform.startswith("linux"):
        return Isolation("none", f"guest code cannot be isolated on {sys.platform} "
                         "(needs Linux namespaces)")
    why = []
    if prefer != "unshare":
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            why.append("bubblewrap (bwrap) is not installed")
        else:
            err = _try([bwrap, *_namespace_args(), "--ro-bind", "/", "/", "--", "true"])
            if err is None:
                return Isolation("bwrap", "bubblewrap: user, mount, pid, network, IPC and "
                                 "UTS namespaces")
            why.append(f"bwrap cannot create namespaces here ({err})")
    if prefer != "bwrap":
        if shutil.which("unshare") is None:
            why.append("unshare (util-linux) is not installed")
        else:
            mountpoint = tempfile.mkdtemp(prefix="stemcell-guest-root-")
            try:
                err = _try(unshare_command(mountpoint=mountpoint, hostname="probe",
                                           script=_guest_script(), probe=True))
            finally:
                _remove_mountpoint(mountpoint)
            if err is None:
                return Isolation("unshare", "unshare: user, mount, pid, network, IPC and UTS "
                                 "namespaces (no bubblewrap)")
            why.append(f"unshare cannot build the guest's root here ({err})")
    return Isolation("none", "; ".join(why) + ": guest code would run unisolated "
                     "(apt-get install bubblewrap)")


def _try(argv: list[str]) -> str | None:
    """None if the command ran and exited 0, else why not."""
    try:
        probe = subprocess.run(argv, capture_output=True, timeout=30, check=False, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if probe.returncode == 0:
        return None
    return probe.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit {probe.returncode}"


def _guest_script() -> str:
    from stemcell.sandbox.machine import worker_guest

    return worker_guest.__file__


def _remove_mountpoint(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def isolation() -> Isolation:
    """What this machine gives guest code: bubblewrap, else unshare, else none.
    ``STEMCELL_GUEST_ISOLATION=none|unshare|bwrap`` forces a choice (tests, debugging)."""
    forced = os.environ.get(ENV_FORCE, "").lower()
    if forced == "none":
        return Isolation("none", f"{ENV_FORCE}=none: guest code runs unisolated")
    return _probe(forced if forced in ("bwrap", "unshare") else "")


def _namespace_args() -> list[str]:
    return ["--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--clearenv"]


def _expose(path: str, links: dict[str, str], binds: list[str]) -> None:
    """Bind ``path`` at the same place, recreating the symlinks on the way there
    (merged /usr: /lib -> usr/lib, the loader's /lib64 link, ...)."""
    for _ in range(40):
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for i, part in enumerate(parts):
            nxt = posixpath.join(cur, part)
            if os.path.islink(nxt):
                target = os.readlink(nxt)
                links.setdefault(nxt, target)
                path = posixpath.normpath(posixpath.join(cur, target, *parts[i + 1:]))
                break
            cur = nxt
        else:
            if os.path.exists(path) and path not in binds:
                binds.append(path)
            return


@dataclass(frozen=True)
class Runtime:
    """The host's Python as a guest sees it: what to bind, and where."""

    executable: str
    stdlib: str
    links: tuple[tuple[str, str], ...]
    binds: tuple[str, ...]
    masked: tuple[str, ...]  # folders hidden under an empty tmpfs (site-packages)


@functools.lru_cache(maxsize=1)
def runtime() -> Runtime:
    exe = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    # The base interpreter's paths, not a virtualenv's (its site-packages are the host's).
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix,
                                      "platbase": sys.base_exec_prefix})
    stdlib = os.path.realpath(paths["stdlib"])
    platstdlib = os.path.realpath(paths.get("platstdlib", stdlib))
    dynload = [f for d in {stdlib, platstdlib}
               for f in glob.glob(os.path.join(d, "lib-dynload", "*.so"))
               if not os.path.basename(f).startswith("_tkinter")]  # no display in a guest
    libs = _shared_libraries([exe, *dynload])
    links: dict[str, str] = {}
    binds: list[str] = []
    for path in [exe, *libs, stdlib, platstdlib]:
        _expose(path, links, binds)
    masked = tuple(p for p in {os.path.join(stdlib, "site-packages"),
                               os.path.join(platstdlib, "site-packages"),
                               os.path.join(stdlib, "dist-packages")} if os.path.isdir(p))
    return Runtime(exe, stdlib, tuple(links.items()), tuple(binds), masked)


def _shared_libraries(files: list[str]) -> list[str]:
    """Every shared library (and the loader) the files need, as ldd resolves them."""
    if not files:
        return []
    try:
        out = subprocess.run(["ldd", *files], capture_output=True, text=True, timeout=60,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found: list[str] = []
    for line in out.splitlines():
        line = line.strip()
        cand = ""
        if "=>" in line:
            cand = line.split("=>", 1)[1].strip().split(" (", 1)[0].strip()
        elif line.startswith("/") and " (" in line:
            cand = line.split(" (", 1)[0].strip()
        if cand.startswith("/") and cand not in found:
            found.append(cand)
    return found


def bwrap_command(*, hostname: str, script: str) -> list[str]:
    """The bwrap command line for one guest's worker."""
    rt = runtime()
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, *_namespace_args(), "--hostname", hostname,
            "--uid", "1000", "--gid", "1000",
            "--proc", "/proc", "--dev", "/dev"]
    for top in GUEST_TOPS:
        args += ["--size", str(TMPFS_SIZE), "--perms", "0755", "--tmpfs", top]
    for link, target in rt.links:
        args += ["--symlink", target, link]
    for path in rt.binds:
        args += ["--ro-bind", path, path]
    for path in rt.masked:
        args += ["--tmpfs", path]
    args += ["--ro-bind", script, GUEST_SCRIPT]
    if rt.executable != GUEST_PYTHON:
        args += ["--symlink", rt.executable, GUEST_PYTHON]
    name = os.path.basename(rt.executable)
    if name.startswith("python3.") and f"/usr/bin/{name}" != rt.executable:
        args += ["--symlink", rt.executable, f"/usr/bin/{name}"]
    args += ["--chdir", "/", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/root",
             "--", GUEST_PYTHON, "-I", GUEST_SCRIPT]
    return args


def unshare_command(*, mountpoint: str, hostname: str, script: str,
                    probe: bool = False) -> list[str]:
    """The unshare command line: util-linux makes the namespaces, worker_guest.py
    (``--unshare-root``) builds the root bwrap would have built and drops privileges."""
    rt = runtime()
    links = list(rt.links)
    if rt.executable != GUEST_PYTHON:
        links.append((GUEST_PYTHON, rt.executable))
    spec = {"mountpoint": mountpoint, "tops": list(GUEST_TOPS), "size": TMPFS_SIZE,
            "links": [list(x) for x in rt.links], "binds": list(rt.binds),
            "masked": list(rt.masked), "script": script, "guest_script": GUEST_SCRIPT,
            "python_links": [[link, target] for link, target in links
                             if (link, target) not in rt.links],
            "hostname": hostname, "probe": probe}
    return [shutil.which("unshare") or "unshare", "--user", "--map-root-user", "--mount",
            "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child",
            rt.executable, "-I", script, "--unshare-root", json.dumps(spec)]


def unisolated_command(script: str) -> list[str]:
    return [os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable),
            "-I", script]
