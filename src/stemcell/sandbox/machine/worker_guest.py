"""The guest side of a guest's worker: the program supervisor that runs *inside*
the guest's sandbox (bubblewrap/unshare namespaces, see worker_sandbox.py).

Standard library only, and no import of stemcell: inside the sandbox this file is
the only piece of stemcell there is (bound read-only), run as
``python3 -I worker_guest.py``. It speaks length-prefixed JSON frames with the
host on its stdin/stdout (``worker_protocol.py`` is the host's half) and:

- keeps the guest's files (pushed by the host: ``put``) on the sandbox's private
  file systems and reports back what programs changed (``scan``);
- runs programs (``run``: ``python3 FILE`` / ``-c``; ``start``/``signal``: the
  ExecStart of a service) as child processes with resource limits, streaming their
  output back;
- serves WSGI requests (``wsgi``) through a mod_wsgi-like daemon child (this same
  file run with ``--wsgi``), killed and restarted when it hangs or dies.

Nothing from the host is trusted here either, and nothing sent to the host is
trusted there: the host parses frames as bounded JSON and applies file changes
to the guest's own disk model only.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

MAX_FRAME = 64 * 1024 * 1024
# What a scan sends back at most: bigger files are left out (and said so).
MAX_SYNC_FILE = 8 * 1024 * 1024
MAX_SYNC_TOTAL = 32 * 1024 * 1024
# More processes than this in the guest's pid namespace is a fork bomb.
MAX_PROCS = 96


def read_frame(fd: int) -> dict[str, Any] | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_FRAME:
        raise ValueError("frame too large")
    body = _read_exact(fd, size)
    if body is None:
        return None
    msg = json.loads(body)
    if not isinstance(msg, dict):
        raise ValueError("frame is not an object")
    return msg


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Channel:
    """Frames out to the host, one writer at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, separators=(",", ":")).encode()
        frame = struct.pack(">I", len(data)) + data
        with self.lock:
            view = memoryview(frame)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _private_fds() -> tuple[int, int]:
    """Move the protocol off fds 0/1 so that stray prints cannot corrupt it."""
    fin, fout = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    return fin, fout


# --- the guest's files ---------------------------------------------------------------

class Files:
    """The guest's files on the sandbox's private mounts, and what changed there."""

    def __init__(self, tops: list[str], root: str = "", hidden: list[str] | None = None) -> None:
        # Unisolated (no namespaces), the guest's folders live under ``root`` on the
        # host; isolated, root is "" and they are mounted where the guest has them.
        self.root = root
        self.tops = tops
        # path -> (kind, mtime_ns, size, mode, target) as last agreed with the host
        self.known: dict[str, tuple[str, int, int, int, str]] = {}
        self.devs: dict[str, int] = {}
        # The runtime's mounts (the host's Python under /root/.pyenv, say) and the
        # folders bwrap made to hold them: not the guest's files.
        self.hidden: set[str] = set()
        for path in hidden or []:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                self.hidden.add("/" + "/".join(parts[:i]))
        for top in tops:
            try:
                os.makedirs(root + top, exist_ok=True)
                self.devs[top] = os.lstat(root + top).st_dev
            except OSError:
                pass

    def _inside(self, path: str) -> bool:
        return path.startswith("/") and ".." not in path.split("/") and any(
            path == t or path.startswith(t + "/") for t in self.tops)

    @staticmethod
    def _stamp(path: str) -> tuple[str, int, int, int, str] | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return ("link", st.st_mtime_ns, st.st_size, 0o777, os.readlink(path))
        if stat.S_ISDIR(st.st_mode):
            return ("dir", 0, 0, stat.S_IMODE(st.st_mode), "")
        if stat.S_ISREG(st.st_mode):
            return ("file", st.st_mtime_ns, st.st_size, stat.S_IMODE(st.st_mode), "")
        return None

    def real(self, path: str) -> str:
        return self.root + path if self.root and path.startswith("/") else path

    def put(self, msg: dict[str, Any]) -> None:
        for path in msg.get("remove", []):
            if not self._inside(path) or path in self.tops:
                continue
            self._remove(self.real(path))
            for p in [k for k in self.known if k == path or k.startswith(path + "/")]:
                del self.known[p]
        for entry in msg.get("files", []):
            path, kind = entry["path"], entry["kind"]
            if not self._inside(path):
                continue
            try:
                self._put_one(self.real(path), kind, entry)
            except OSError:
                continue
            stamp = self._stamp(self.real(path))
            if stamp is not None:
                self.known[path] = stamp

    def _put_one(self, path: str, kind: str, entry: dict[str, Any]) -> None:
        mode = int(entry.get("mode", 0o644)) & 0o7777
        current = self._stamp(path)
        if current is not None and current[0] != kind:
            self._remove(path)
        if kind == "dir":
            os.makedirs(path, exist_ok=True)
            os.chmod(path, mode | 0o700)  # the supervisor keeps its way in
        elif kind == "link":
            if self.root:
                return  # unisolated, a guest's link would point into the host's tree
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if current is not None:
                self._remove(path)
            os.symlink(entry["target"], path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.stemcell-put"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, unb64(entry.get("data", "")))
            finally:
                os.close(fd)
            os.chmod(tmp, mode | 0o600)
            os.replace(tmp, path)

    @staticmethod
    def _remove(path: str) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISDIR(st.st_mode):
            for root, dirs, files in os.walk(path, topdown=False):
                for name in files:
                    try:
                        os.unlink(os.path.join(root, name))
                    except OSError:
                        pass
                for name in dirs:
                    full = os.path.join(root, name)
                    try:
                        if os.path.islink(full):
                            os.unlink(full)
                        else:
                            os.rmdir(full)
                    except OSError:
                        pass
            try:
                os.rmdir(path)
            except OSError:
                pass
        else:
            try:
                os.unlink(path)
            except OSError:
                pass

    def scan(self) -> dict[str, Any]:
        seen: dict[str, tuple[str, int, int, int, str]] = {}
        for top in self.tops:
            dev = self.devs.get(top)
            if dev is None:
                continue
            stack = [self.real(top)]
            cut = len(self.root)
            while stack:
                folder = stack.pop()
                try:
                    entries = list(os.scandir(folder))
                except OSError:
                    continue
                for dent in entries:
                    try:
                        st = dent.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if st.st_dev != dev:
                        continue  # a read-only bind (the Python runtime): not the guest's
                    if dent.path[cut:] in self.hidden:
                        continue
                    stamp = self._stamp(dent.path)
                    if stamp is None:
                        continue
                    seen[dent.path[cut:]] = stamp
                    if stamp[0] == "dir":
                        stack.append(dent.path)
        files: list[dict[str, Any]] = []
        skipped: list[str] = []
        total = 0
        for path in sorted(seen):
            stamp = seen[path]
            if self.known.get(path) == stamp:
                continue
            kind, _, size, mode, target = stamp
            entry: dict[str, Any] = {"path": path, "kind": kind, "mode": mode}
            if kind == "link":
                entry["target"] = target
            elif kind == "file":
                if size > MAX_SYNC_FILE or total + size > MAX_SYNC_TOTAL:
                    skipped.append(path)
                    continue
                try:
                    with open(self.real(path), "rb") as fh:
                        data = fh.read(MAX_SYNC_FILE + 1)
                except OSError:
                    continue
                total += len(data)
                entry["data"] = b64(data)
            files.append(entry)
            self.known[path] = stamp
        removed = sorted(p for p in self.known if p not in seen)
        for p in removed:
            del self.known[p]
        return {"files": files, "removed": removed, "skipped": skipped}


# --- child processes -------------------------------------------------------------------

def _limits(spec: dict[str, Any]) -> Any:
    import resource

    def apply() -> None:
        os.setsid()
        for name, key in (("as", resource.RLIMIT_AS), ("cpu", resource.RLIMIT_CPU),
                          ("fsize", resource.RLIMIT_FSIZE), ("nproc", resource.RLIMIT_NPROC),
                          ("nofile", resource.RLIMIT_NOFILE)):
            value = spec.get(name)
            if value:
                # CPU: SIGXCPU at the soft limit, SIGKILL a second later (setrlimit(2)).
                hard = int(value) + 1 if name == "cpu" else int(value)
                try:
                    resource.setrlimit(key, (int(value), hard))
                except (ValueError, OSError):
                    pass
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    return apply


class Supervisor:
    def __init__(self, chan: Channel, files: Files, limits: dict[str, Any]) -> None:
        self.chan = chan
        self.files = files
        self.limits = limits
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.early_signals: dict[str, int] = {}
        self.lock = threading.Lock()
        self.files_lock = threading.Lock()
        self.wsgi_lock = threading.Lock()
        self.wsgi_proc: subprocess.Popen[bytes] | None = None

    # programs -----------------------------------------------------------------------

    def _spawn(self, msg: dict[str, Any], limits: dict[str, Any]) -> subprocess.Popen[bytes]:
        env = {str(k): str(v) for k, v in dict(msg.get("env", {})).items()}
        cwd = self.files.real(str(msg.get("cwd") or "/"))
        if not os.path.isdir(cwd):
            cwd = self.files.real("/tmp")
        argv = [str(a) for a in msg["argv"]]
        if self.files.root:
            argv = [argv[0], *(self.files.real(a) if a.startswith("/") and
                               os.path.exists(self.files.real(a)) else a for a in argv[1:])]
        return subprocess.Popen(argv, cwd=cwd, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, close_fds=True,
                                preexec_fn=_limits(limits))

    def _pump(self, ident: str, proc: subprocess.Popen[bytes], stdin: bytes) -> None:
        def feed() -> None:
            assert proc.stdin is not None
            try:
                if stdin:
                    proc.stdin.write(stdin)
                proc.stdin.close()
            except OSError:
                pass

        def drain(stream: Any, name: str) -> None:
            fd = stream.fileno()
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.chan.send({"id": ident, "stream": name, "data": b64(chunk)})

        threads = [threading.Thread(target=feed, daemon=True),
                   threading.Thread(target=drain, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=drain, args=(proc.stderr, "err"), daemon=True)]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join()

    def run(self, msg: dict[str, Any], *, service: bool) -> None:
        ident = str(msg["id"])
        limits = dict(self.limits)
        limits.update(msg.get("limits", {}))
        try:
            proc = self._spawn(msg, limits)
        except OSError as exc:
            self.chan.send({"id": ident, "exit": 127 if isinstance(exc, FileNotFoundError)
                            else 126, "error": f"{exc.strerror}", "changes": self.scan()})
            return
        with self.lock:
            self.children[ident] = proc
            early = self.early_signals.pop(ident, None)
        if early is not None:  # stopped before it had started
            self._kill(proc, early)
        if service:
            self.chan.send({"id": ident, "started": proc.pid})
        timeout = msg.get("timeout")
        timer = None
        if timeout:
            timer = threading.Timer(float(timeout), self._kill, args=(proc, signal.SIGKILL))
            timer.daemon = True
            timer.start()
        self._pump(ident, proc, unb64(msg.get("stdin", "")))
        code = proc.wait()
        if timer is not None:
            timer.cancel()
        with self.lock:
            self.children.pop(ident, None)
        self.chan.send({"id": ident, "exit": code, "changes": self.scan()})

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            try:
                proc.send_signal(sig)
            except OSError:
                pass

    def signal(self, msg: dict[str, Any]) -> None:
        with self.lock:
            proc = self.children.get(str(msg["target"]))
            if proc is None:
                self.early_signals[str(msg["target"])] = int(msg.get("sig", signal.SIGTERM))
        if proc is not None:
            self._kill(proc, int(msg.get("sig", signal.SIGTERM)))
            if int(msg.get("sig", 15)) != signal.SIGKILL:
                grace = float(msg.get("grace", 5.0))
                threading.Timer(grace, self._kill, args=(proc, signal.SIGKILL)).start()

    # WSGI -------------------------------------------------------------------------------

    def wsgi(self, msg: dict[str, Any]) -> None:
        ident = str(msg["id"])
        timeout = float(msg.get("timeout", 30))
        with self.wsgi_lock:
            reply = self._wsgi_request(msg, timeout)
        reply["id"] = ident
        reply["changes"] = self.scan()
        self.chan.send(reply)

    def _wsgi_child(self) -> subprocess.Popen[bytes]:
        proc = self.wsgi_proc
        if proc is None or proc.poll() is not None:
            limits = dict(self.limits)
            limits.pop("cpu", None)  # a long-lived daemon: the per-request timeout bounds it
            proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), "--wsgi"],
                                    cwd="/", env=dict(os.environ), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    close_fds=True, preexec_fn=_limits(limits))
            self.wsgi_proc = proc
            threading.Thread(target=self._wsgi_stderr, args=(proc,), daemon=True).start()
        return proc

    def _wsgi_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.chan.send({"event": "wsgi-stderr", "data": b64(line[:8192])})

    def _wsgi_request(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        proc = self._wsgi_child()
        assert proc.stdin is not None and proc.stdout is not None
        request = dict(msg)
        request.pop("id", None)
        request["script"] = self.files.real(str(msg.get("script", "")))
        request["python_path"] = [self.files.real(str(p)) for p in msg.get("python_path", [])]
        data = json.dumps(request).encode()
        try:
            proc.stdin.write(struct.pack(">I", len(data)) + data)
            proc.stdin.flush()
        except OSError:
            self._reap_wsgi(proc)
            return {"error": "crashed", "text": "the WSGI daemon process went away"}
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        need = 4
        size = -1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._reap_wsgi(proc)
                return {"error": "timeout", "text": f"Timeout when reading response headers "
                        f"from daemon process: {timeout:g} s"}
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self._reap_wsgi(proc)
                return {"error": "crashed", "text": f"Truncated or oversized response headers "
                        f"received from daemon process (exit status {code})"}
            buf += chunk
            if size < 0 and len(buf) >= 4:
                (size,) = struct.unpack(">I", buf[:4])
                if size > MAX_FRAME:
                    self._reap_wsgi(proc)
                    return {"error": "crashed", "text": "response too large"}
                need = 4 + size
            if size >= 0 and len(buf) >= need:
                reply = json.loads(buf[4:need])
                return reply if isinstance(reply, dict) else {"error": "crashed", "text": "?"}

    def _reap_wsgi(self, proc: subprocess.Popen[bytes]) -> int:
        self._kill(proc, signal.SIGKILL)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = -9
        self.wsgi_proc = None
        return code

    # files ----------------------------------------------------------------------------

    def scan(self) -> dict[str, Any]:
        with self.files_lock:
            return self.files.scan()

    def put(self, msg: dict[str, Any]) -> None:
        with self.files_lock:
            self.files.put(msg)


def _watch_procs(limit: int) -> None:
    """A fork bomb is bounded by RLIMIT_NPROC where the kernel counts (not for a host
    root, whose processes it exempts): count our pid namespace's processes and kill
    everything but us when there are too many."""
    while True:
        time.sleep(0.02)
        try:
            count = sum(1 for n in os.listdir("/proc") if n.isdigit())
        except OSError:
            continue
        if count > limit:
            try:
                os.kill(-1, signal.SIGKILL)  # every process we may signal but us
            except OSError:
                pass


def supervise() -> int:
    fin, fout = _private_fds()
    chan = Channel(fout)
    hello = read_frame(fin)
    if hello is None or hello.get("op") != "hello":
        return 2
    files = Files([str(t) for t in hello.get("tops", [])], str(hello.get("root", "")),
                  [str(h) for h in hello.get("hidden", [])])
    sup = Supervisor(chan, files, dict(hello.get("limits", {})))
    max_procs = int(hello.get("max_procs", 0))
    if max_procs:  # only inside our own pid namespace: kill(-1) there hits the guest only
        threading.Thread(target=_watch_procs, args=(max_procs,), daemon=True).start()
    chan.send({"event": "ready", "pid": os.getpid(), "python": sys.version.split()[0]})

    def alive() -> None:  # the host restarts a worker it stops hearing from
        while True:
            time.sleep(1.0)
            chan.send({"event": "alive"})

    threading.Thread(target=alive, daemon=True).start()
    while True:
        msg = read_frame(fin)
        if msg is None:
            break
        op = msg.get("op")
        if op == "put":
            sup.put(msg)
            chan.send({"id": msg.get("id"), "ok": True})
        elif op == "scan":
            chan.send({"id": msg.get("id"), "changes": sup.scan()})
        elif op in ("run", "start"):
            threading.Thread(target=sup.run, args=(msg,), kwargs={"service": op == "start"},
                             daemon=True).start()
        elif op == "signal":
            sup.signal(msg)
        elif op == "wsgi":
            threading.Thread(target=sup.wsgi, args=(msg,), daemon=True).start()
        elif op == "warm":  # Apache starts with WSGI apps: start the daemon now
            def warm() -> None:
                with sup.wsgi_lock:
                    sup._wsgi_child()
            threading.Thread(target=warm, daemon=True).start()
        elif op == "ping":
            chan.send({"id": msg.get("id"), "ok": True})
    return 0


# --- the WSGI daemon (mod_wsgi daemon mode, one process, one request at a time) ----------

class _Errors(io.TextIOBase):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, s: str) -> int:
        if s.strip():
            self.lines.extend(s.rstrip("\n").splitlines())
        return len(s)

    def flush(self) -> None:
        pass


def _load(script: str, python_path: list[str], cache: dict[str, Any]) -> Any:
    try:
        st = os.stat(script)
    except OSError:
        raise LookupError(f"Target WSGI script not found or unable to stat: {script}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = cache.get(script)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    for folder in reversed([os.path.dirname(script), *python_path]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    with open(script, "rb") as fh:
        source = fh.read()
    name = "_mod_wsgi_" + str(abs(hash(script)))
    namespace: dict[str, Any] = {"__name__": name, "__file__": script}
    try:
        exec(compile(source, script, "exec"), namespace)
    except BaseException:
        raise RuntimeError(f"Failed to exec Python script file '{script}'.\n"
                           + traceback.format_exc()) from None
    app = namespace.get("application")
    if not callable(app):
        raise RuntimeError(f"Target WSGI script '{script}' does not contain WSGI "
                           "application 'application'.")
    cache[script] = (stamp, app)
    return app


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[list[str]], bytes]:
    state: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        if exc_info and state.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        state["status"] = str(status)
        state["headers"] = [[str(k), str(v)] for k, v in headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            if not isinstance(chunk, bytes):
                raise TypeError(f"sequence of byte string values expected, value of type "
                                f"{type(chunk).__name__} found")
            chunks.append(chunk)
            state["sent"] = True
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in state:
        raise RuntimeError("application did not call start_response")
    return state["status"], state["headers"], b"".join(chunks)


def serve_wsgi() -> int:
    fin, fout = _private_fds()
    chan = Channel(fout)
    cache: dict[str, Any] = {}
    while True:
        msg = read_frame(fin)
        if msg is None:
            return 0
        errors = _Errors()
        environ = dict(msg.get("environ", {}))
        environ["wsgi.version"] = (1, 0)
        environ["wsgi.input"] = io.BytesIO(unb64(msg.get("body", "")))
        environ["wsgi.errors"] = errors
        environ["mod_wsgi.version"] = (5, 0, 0)
        try:
            app = _load(str(msg["script"]), [str(p) for p in msg.get("python_path", [])], cache)
        except LookupError as exc:
            chan.send({"error": "not-found", "text": str(exc), "errors": errors.lines})
            continue
        except RuntimeError as exc:
            chan.send({"error": "load", "text": str(exc), "errors": errors.lines})
            continue
        try:
            status, headers, body = _call(app, environ)
        except BaseException:
            chan.send({"error": "exception", "text": traceback.format_exc(),
                       "errors": errors.lines})
            continue
        chan.send({"status": status, "headers": headers, "body": b64(body),
                   "errors": errors.lines})


# --- the unshare fallback: build the root bwrap would have built -------------------------

# pivot_root(2) has no glibc wrapper: its syscall number per architecture.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
                   "s390x": 217, "armv7l": 218, "i686": 217}
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_ST_RDONLY = 1
_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 24, 38, 47


def unshare_root(spec: dict[str, Any]) -> int:
    """Run as root of fresh user, mount, pid, net, IPC and UTS namespaces (``unshare
    -r -m -p -n -i -u -f``): mount a new root holding only the guest's folders and the
    read-only Python runtime, pivot into it, drop every capability, then stay as the
    namespace's init (reaping orphans) while the supervisor runs as its child."""
    import ctypes
    import platform

    libc = ctypes.CDLL(None, use_errno=True)

    def check(ret: int, what: str) -> None:
        if ret != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def mount(src: str, dst: str, fstype: str | None, flags: int, data: str | None) -> None:
        check(libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None,
                         ctypes.c_ulong(flags), data.encode() if data else None),
              f"mount {src} on {dst}")

    nr = _SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(f"pivot_root: unknown architecture {platform.machine()}")
    mount("none", "/", None, _MS_REC | _MS_PRIVATE, None)
    new = str(spec["mountpoint"])  # an empty folder the host made (and removes)
    mount("tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=16m")
    size = int(spec.get("size", 256 << 20))
    for top in spec["tops"]:
        os.makedirs(new + top, exist_ok=True)
        mount("tmpfs", new + top, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode=0755,size={size}")
    for link, target in spec.get("links", []):
        os.makedirs(os.path.dirname(new + link), exist_ok=True)
        if not os.path.lexists(new + link):
            os.symlink(target, new + link)

    def bind(src: str, dst: str, flags: int) -> None:
        # A remount in a user namespace must keep the flags the source mount has
        # locked (nosuid, nodev, noexec, atime: mount_namespaces(7)), so carry them over.
        have = os.statvfs(src).f_flag
        for st_bit, ms_bit in ((_ST_RDONLY, _MS_RDONLY), (2, _MS_NOSUID), (4, _MS_NODEV),
                               (8, _MS_NOEXEC), (1024, 1024), (2048, 2048),
                               (4096, 1 << 21)):
            if have & st_bit:
                flags |= ms_bit
        if os.path.isdir(src):
            os.makedirs(new + dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(new + dst), exist_ok=True)
            if not os.path.exists(new + dst):
                open(new + dst, "wb").close()
        mount(src, new + dst, None, _MS_BIND | _MS_REC, None)
        mount("none", new + dst, None, _MS_BIND | _MS_REMOUNT | flags, None)

    for path in spec.get("binds", []):
        bind(path, path, _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    for path in spec.get("masked", []):
        mount("tmpfs", new + path, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_RDONLY, "size=4k")
    bind(spec["script"], spec["guest_script"], _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    for link, target in spec.get("python_links", []):
        os.makedirs(os.path.dirname(new + link), exist_ok=True)
        if not os.path.lexists(new + link):
            os.symlink(target, new + link)
    os.makedirs(new + "/dev", exist_ok=True)
    for dev in ("null", "zero", "full", "random", "urandom"):
        bind("/dev/" + dev, "/dev/" + dev, _MS_NOSUID | _MS_NOEXEC)
    os.makedirs(new + "/proc", exist_ok=True)
    mount("proc", new + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
    os.makedirs(new + "/.old-root", exist_ok=True)
    check(libc.syscall(nr, new.encode(), (new + "/.old-root").encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/.old-root", _MNT_DETACH), "umount old root")
    os.rmdir("/.old-root")
    name = str(spec.get("hostname", "localhost")).encode()
    check(libc.sethostname(name, len(name)), "sethostname")
    # No way back: no new privileges, no capabilities (bounding, ambient, effective...).
    check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL

    class _Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class _Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = _Header(0x20080522, 0)
    data = (_Data * 2)()
    check(libc.capset(ctypes.byref(header), data), "capset")
    if spec.get("probe"):
        return 0 if os.listdir("/") and not os.path.exists("/.old-root") else 1
    child = os.fork()
    if child == 0:
        os.execve(sys.executable, [sys.executable, "-I", spec["guest_script"]],
                  {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                   "HOME": "/root"})
    while True:  # the namespace's init: reap everything, end with the supervisor
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        if pid == child:
            return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    if sys.argv[1:2] == ["--unshare-root"]:
        try:
            sys.exit(unshare_root(json.loads(sys.argv[2])))
        except OSError as exc:
            print(f"stemcell guest worker: cannot build its root: {exc}", file=sys.stderr)
            sys.exit(70)
    sys.exit(serve_wsgi() if sys.argv[1:] == ["--wsgi"] else supervise())
