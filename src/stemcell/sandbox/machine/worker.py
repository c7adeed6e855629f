"""A guest's worker, host side: one isolated process per guest that runs the
guest's programs (WSGI apps, ``python3 FILE``/``-c``, Python services), never
stemcell's own process.

The worker starts lazily (first program) and is reused; ``worker_sandbox.py``
walls it off (namespaces, no host files but a read-only Python), and
``worker_guest.py`` is what runs inside. Files go both ways: the guest's disk is
pushed into the worker before each program runs (and every half second while a
service runs), and what programs wrote comes back to the disk, checked against
the permissions of the guest user the program runs as. A worker that crashes or
hangs costs the one request (502/504) and is restarted at the next; it never
takes the sandbox down.

Every frame from the worker is hostile input: bounded JSON, paths normalised and
kept to the guest's folders, applied to the guest's own disk model only.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import logging
import os
import posixpath
import queue
import re
import select
import shlex
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stemcell.sandbox.machine import worker_guest, worker_sandbox
from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.system import System
from stemcell.sandbox.machine.worker_files import FileSync, b64, unb64
from stemcell.sandbox.machine.worker_units import (
    is_python,
    restarts,
    runs_in_worker,
    service_spec,
)

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024 * 1024
START_TIMEOUT = 60.0  # wall seconds for the worker to say it is ready (a loaded machine)
REQUEST_TIMEOUT = 30.0  # wall seconds per WSGI request (mod_wsgi's request-timeout)
SYNC_INTERVAL = 0.5  # wall seconds between file syncs while a service runs
MAX_PROCS = 96  # processes in one guest's pid namespace before it counts as a fork bomb
# Resource limits of a program (setrlimit(2)); services and the WSGI daemon have no
# CPU limit (they live long), the per-request timeout bounds a request instead.
PROGRAM_LIMITS: dict[str, int] = {"as": 1 << 30, "cpu": 300, "fsize": 256 << 20,
                                  "nproc": 256, "nofile": 1024}



_STATUS = re.compile(r"[1-9][0-9]{2} [^\r\n\0]*")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SPAWNER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="guest-worker-spawn")


class WorkerError(Exception):
    """The worker could not do it: ``kind`` is "timeout", "crashed" or "start"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class WsgiReply:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    errors: list[str] = field(default_factory=list)


class WsgiAppError(Exception):
    """The app failed: ``kind`` is "not-found", "load" or "exception"; text for the log."""

    def __init__(self, kind: str, text: str, errors: list[str]) -> None:
        super().__init__(text)
        self.kind = kind
        self.errors = errors


def _frame(msg: dict[str, Any]) -> bytes:
    data = json.dumps(msg, separators=(",", ":")).encode()
    return struct.pack(">I", len(data)) + data


@dataclass
class _Service:
    unit: str
    ident: str
    user: str
    pid: int  # in the guest's process table
    argv: list[str] = field(default_factory=list)
    cwd: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    restart: str = "no"  # Restart= (systemd.service(5))
    restart_sec: float = 0.1  # RestartSec=
    stopping: bool = False
    proc: subprocess.Popen[bytes] | None = None  # the worker process running it
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)


class GuestWorker:
    """One guest's worker process: spawn, protocol, file sync, lifecycle."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._proc: subprocess.Popen[bytes] | None = None
        self._private: str = ""  # unisolated only: where the guest's folders live
        self._mountpoint: str = ""  # unshare only: the empty folder its root is mounted on
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._ids = itertools.count(1)
        # request id -> (its answers, the worker process it was sent to)
        self._pending: dict[str, tuple[queue.Queue[dict[str, Any]],
                                       subprocess.Popen[bytes]]] = {}
        self._pending_lock = threading.Lock()
        self._services: dict[str, _Service] = {}
        self._by_ident: dict[str, _Service] = {}
        self.files = FileSync(system)
        self._restarts: dict[str, list[float]] = {}  # unit -> modeled auto-restart times
        self._last_heard = time.monotonic()
        self._closed = False
        self._sync_thread: threading.Thread | None = None
        self.on_wsgi_stderr: Callable[[str], None] | None = None
        self.starts = 0  # how many times a worker process was started (tests, bench)
        self.last_start_seconds = 0.0

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def isolation(self) -> worker_sandbox.Isolation:
        return worker_sandbox.isolation()  # probed once per process

    def prestart(self) -> None:
        """Start the worker process now, in the background (no-op if it runs)."""
        if self.running or self._closed:
            return

        def start() -> None:
            try:
                self._send(self._ensure(), {"op": "warm"})
            except WorkerError as exc:
                log.warning("guest worker: %s", exc)

        threading.Thread(target=start, daemon=True,
                         name=f"worker-prestart-{self.system.instance_id}").start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ensure(self) -> subprocess.Popen[bytes]:
        with self._start_lock:
            if self._closed:
                raise WorkerError("start", "the guest is going down")
            proc = self._proc
            if proc is not None and proc.poll() is None:
                return proc
            return self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        t0 = time.monotonic()
        script = worker_guest.__file__
        iso = self.isolation
        if iso.kind == "unshare":
            import tempfile

            self._remove_mountpoint()
            self._mountpoint = tempfile.mkdtemp(prefix="stemcell-guest-root-")
            argv = worker_sandbox.unshare_command(mountpoint=self._mountpoint,
                                                  hostname=self.system.hostname,
                                                  script=script)
        if iso.isolated:
            if iso.kind == "bwrap":
                argv = worker_sandbox.bwrap_command(hostname=self.system.hostname,
                                                    script=script)
            root = ""
            max_procs = MAX_PROCS
            rt = worker_sandbox.runtime()
            hidden = [*rt.binds, *rt.masked, *(link for link, _ in rt.links)]
        else:
            import tempfile

            if not self._private:
                self._private = tempfile.mkdtemp(prefix="stemcell-guest-")
            argv = worker_sandbox.unisolated_command(script)
            root = self._private
            max_procs = 0
            hidden = []
            note = f"guest {self.system.instance_id}: {iso.reason}"
            log.warning(note)
            self.system.journal.append("stemcell-worker", f"UNISOLATED: {iso.reason}")
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/root"} \
            if not iso.isolated else {}
        # bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread*
        # that forked it ends (prctl(2)): spawn from one thread that lives as long as we do.
        proc = _SPAWNER.submit(subprocess.Popen, argv, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               close_fds=True, start_new_session=True).result()
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self._last_heard = time.monotonic()
        self._proc = proc
        self.files.reset()
        ready: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(proc, ready), daemon=True,
                         name=f"worker-{self.system.instance_id}").start()
        threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True).start()
        self._send(proc, {"op": "hello", "tops": list(worker_sandbox.GUEST_TOPS),
                          "root": root, "limits": {"as": PROGRAM_LIMITS["as"],
                                                   "fsize": PROGRAM_LIMITS["fsize"],
                                                   "nproc": PROGRAM_LIMITS["nproc"],
                                                   "nofile": PROGRAM_LIMITS["nofile"]},
                          "max_procs": max_procs, "hidden": hidden})
        try:
            msg = ready.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self._kill(proc)
            raise WorkerError("start", "the guest's worker did not start") from None
        if msg.get("event") != "ready":
            self._kill(proc)
            raise WorkerError("start", "the guest's worker could not start: "
                              + str(msg.get("text", ""))[:500])
        self.starts += 1
        self.last_start_seconds = time.monotonic() - t0
        return proc

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw[:2000].decode("utf-8", "replace").rstrip()
            if line:
                self.system.journal.append("stemcell-worker", line)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        try:
            proc.kill()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def close(self) -> None:
        """Stop everything the worker runs (guest shutdown or termination)."""
        with self._start_lock:
            self._closed = True
            proc = self._proc
            self._proc = None
        for svc in list(self._services.values()):
            self.system.processes.kill(svc.pid)
        self._services.clear()
        self._by_ident.clear()
        if proc is not None:
            self._kill(proc)
        self._remove_mountpoint()
        if self._private:
            import shutil

            shutil.rmtree(self._private, ignore_errors=True)
            self._private = ""

    def _remove_mountpoint(self) -> None:
        if self._mountpoint:
            try:
                os.rmdir(self._mountpoint)  # empty on the host: the mounts were the worker's
            except OSError:
                pass
            self._mountpoint = ""

    def reopen(self) -> None:
        """After a stop: the next program may start a worker again (next boot)."""
        self._closed = False

    # --- protocol ------------------------------------------------------------------------

    def _send(self, proc: subprocess.Popen[bytes], msg: dict[str, Any]) -> None:
        assert proc.stdin is not None
        data = memoryview(_frame(msg))
        # The worker may be stopped (SIGSTOP by its own programs) or stuck: never block
        # on its pipe for longer than a request may take.
        deadline = time.monotonic() + REQUEST_TIMEOUT
        with self._write_lock:
            try:
                fd = proc.stdin.fileno()
                while data:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._kill(proc)
                        raise WorkerError("timeout", "the guest's worker stopped reading")
                    _, ready, _ = select.select([], [fd], [], left)
                    if ready:
                        try:
                            n = os.write(fd, data[:65536])
                        except BlockingIOError:
                            continue
                        data = data[n:]
            except (OSError, ValueError) as exc:
                raise WorkerError("crashed", "the guest's worker went away") from exc

    def _read(self, proc: subprocess.Popen[bytes], ready: queue.Queue[dict[str, Any]]) -> None:
        assert proc.stdout is not None
        stream = proc.stdout
        while True:
            try:
                head = stream.read(4)
                if len(head) < 4:
                    break
                (size,) = struct.unpack(">I", head)
                if size > MAX_FRAME:
                    break
                body = stream.read(size)
                if len(body) < size:
                    break
                msg = json.loads(body)
            except (OSError, ValueError, RecursionError):  # hostile frames end the worker
                break
            if not isinstance(msg, dict):
                break
            try:
                self._dispatch(msg, ready)
            except Exception:  # a malformed answer costs that answer, not the reader
                log.warning("guest worker: bad frame ignored", exc_info=True)
        # The worker is gone: every waiter learns it, every service has ended.
        self._kill(proc)
        ready.put({"event": "gone"})
        with self._pending_lock:
            waiters = [q for q, owner in self._pending.values() if owner is proc]
        for q in waiters:
            q.put({"gone": True})
        for svc in list(self._services.values()):
            if svc.ident in self._by_ident and svc.proc is proc:
                self._service_exit(svc, -9)

    def _dispatch(self, msg: dict[str, Any], ready: queue.Queue[dict[str, Any]]) -> None:
        self._last_heard = time.monotonic()
        event = msg.get("event")
        if event == "alive":
            return
        if event == "ready":
            ready.put(msg)
            return
        if event == "wsgi-stderr":
            line = unb64(msg.get("data")).decode("utf-8", "replace").rstrip()
            if line and self.on_wsgi_stderr is not None:
                self.on_wsgi_stderr(line)
            return
        ident = str(msg.get("id", ""))
        svc = self._by_ident.get(ident)
        if svc is not None:
            self._service_frame(svc, msg)
            return
        with self._pending_lock:
            entry = self._pending.get(ident)
        if entry is not None:
            entry[0].put(msg)

    def _call(self, msg: dict[str, Any]) -> tuple[str, queue.Queue[dict[str, Any]]]:
        proc = self._ensure()
        ident = f"r{next(self._ids)}"
        q: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._pending_lock:
            self._pending[ident] = (q, proc)
        try:
            self.files.push(lambda msg: self._send(proc, msg))
            self._send(proc, {**msg, "id": ident})
        except BaseException:
            self._done(ident)
            raise
        return ident, q

    def _done(self, ident: str) -> None:
        with self._pending_lock:
            self._pending.pop(ident, None)

    def sync(self) -> None:
        """Both ways, now: the disk's changes in, the programs' changes out."""
        if not self.running:
            return
        try:
            ident, q = self._call({"op": "scan"})
        except WorkerError:
            return
        try:
            msg = q.get(timeout=REQUEST_TIMEOUT)
        except queue.Empty:
            return
        finally:
            self._done(ident)
        self.files.apply(msg.get("changes"), self.files.users())

    def _sync_loop(self) -> None:
        while self._services and not self._closed:
            time.sleep(SYNC_INTERVAL)
            if self.running and self._silent():
                self._restart()  # its services end (code=killed) with it
                continue
            try:
                self.sync()
            except Exception:  # a sync must never end the loop that keeps services in step
                log.exception("guest worker sync")

    # --- WSGI -----------------------------------------------------------------------------

    def wsgi(self, script: str, python_path: list[str], environ: dict[str, Any], body: bytes,
             *, timeout: float | None = None) -> WsgiReply:
        """One request through the guest's WSGI daemon (mod_wsgi daemon mode, as www-data)."""
        limit = REQUEST_TIMEOUT if timeout is None else timeout
        safe_env = {k: v for k, v in environ.items() if isinstance(v, (str, int, float, bool))}
        self.files.writer("www-data", 1)
        try:
            ident, q = self._call({"op": "wsgi", "script": script, "python_path": python_path,
                                   "environ": safe_env, "body": b64(body), "timeout": limit})
            try:
                msg = q.get(timeout=limit + 5)
            except queue.Empty:
                self._restart()
                raise WorkerError("timeout", "the guest's worker did not answer") from None
            finally:
                self._done(ident)
        finally:
            self.files.writer("www-data", -1)
        if msg.get("gone"):
            raise WorkerError("crashed", "the guest's worker went away")
        self.files.apply(msg.get("changes"), self.files.users() | {"www-data"})
        errors = [str(x)[:4000] for x in msg.get("errors", []) or [] if isinstance(x, str)]
        err = msg.get("error")
        if err in ("timeout", "crashed"):
            raise WorkerError(str(err), str(msg.get("text", ""))[:2000])
        if err:
            raise WsgiAppError(str(err), str(msg.get("text", ""))[:20000], errors)
        status = str(msg.get("status", ""))
        headers = [(str(h[0]), str(h[1])) for h in msg.get("headers", []) or []
                   if isinstance(h, list) and len(h) == 2]
        # mod_wsgi refuses what would split the response: a status that is not
        # "NNN reason", header names that are not tokens, CR/LF anywhere.
        bad = not _STATUS.fullmatch(status) or any(
            not _TOKEN.fullmatch(k) or "\r" in v or "\n" in v or "\0" in v
            for k, v in headers)
        if bad:
            raise WsgiAppError("exception", f"ValueError: invalid status or header returned "
                               f"by WSGI application: {status[:80]!r}", errors)
        return WsgiReply(status, headers, unb64(msg.get("body")), errors)

    def _silent(self) -> bool:
        """Has the worker stopped talking (it says it is alive every second)?"""
        return time.monotonic() - self._last_heard > max(REQUEST_TIMEOUT, 5.0)

    def _restart(self) -> None:
        with self._start_lock:
            proc = self._proc
            self._proc = None
        if proc is not None:
            self._kill(proc)

    # --- programs -------------------------------------------------------------------------

    def run(self, argv: list[str], *, user: str, cwd: str, env: dict[str, str],
            stdin: bytes = b"", out: Callable[[bytes], None],
            err: Callable[[bytes], None], cancel: threading.Event | None = None,
            limits: dict[str, int] | None = None, timeout: float | None = None) -> int:
        """Run a program to its end, streaming its output; returns its exit status as a
        shell reports it (128+N for a signal)."""
        system = self.system
        proc_entry = system.processes.spawn(shlex.join(argv), user=user, started=system.now())
        self.files.writer(user, 1)
        try:
            ident, q = self._call({"op": "run", "argv": argv, "cwd": cwd,
                                   "env": _program_env(env, user, system.hostname),
                                   "stdin": b64(stdin), "limits": limits or PROGRAM_LIMITS,
                                   "timeout": timeout})
            try:
                while True:
                    try:
                        msg = q.get(timeout=0.2)
                    except queue.Empty:
                        if self._silent():
                            self._restart()  # stopped or stuck: its programs go with it
                            err(b"Killed\n")
                            return 137
                        if cancel is not None and cancel.is_set():
                            self._signal(ident, 2)
                            cancel = None
                        continue
                    if msg.get("gone"):
                        err(b"Killed\n")
                        return 137
                    stream = msg.get("stream")
                    if stream == "out":
                        out(unb64(msg.get("data")))
                    elif stream == "err":
                        err(unb64(msg.get("data")))
                    elif "exit" in msg:
                        refused = self.files.apply(msg.get("changes"), self.files.users() | {user})
                        if refused:  # one uid inside: say what Ubuntu would have refused
                            err(f"{argv[0]}: the guest kept no writes {user} may not make on "
                                f"Ubuntu (Permission denied): {' '.join(refused[:5])}\n"
                                .encode())
                        code = msg.get("exit")
                        if msg.get("error"):
                            err(f"{argv[0]}: {msg['error']}\n".encode())
                        if not isinstance(code, int):
                            return 1
                        return 128 - code if code < 0 else code
            finally:
                self._done(ident)
        finally:
            self.files.writer(user, -1)
            system.processes.kill(proc_entry.pid)

    def _signal(self, ident: str, sig: int) -> None:
        proc = self._proc
        if proc is not None:
            try:
                self._send(proc, {"op": "signal", "target": ident, "sig": sig, "grace": 2.0})
            except WorkerError:
                pass

    # --- services ------------------------------------------------------------------------

    def start_service(self, unit: str, argv: list[str], *, user: str, cwd: str = "/",
                      env: dict[str, str] | None = None, restart: str = "no",
                      restart_sec: float = 0.1) -> None:
        """Start a unit's ExecStart program in the worker (systemctl start)."""
        if unit in self._services:
            return
        system = self.system
        # The real program replaces the unit's modeled process (processes.start_unit).
        system.processes.stop_unit(unit)
        proc_entry = system.processes.spawn(shlex.join(argv), user=user, started=system.now(),
                                            unit=unit)
        ident = f"s{next(self._ids)}"
        svc = _Service(unit, ident, user, proc_entry.pid, argv=list(argv), cwd=cwd,
                       env=dict(env or {}), restart=restart, restart_sec=restart_sec)
        self._services[unit] = svc
        self._by_ident[ident] = svc
        self.files.writer(user, 1)
        try:
            proc = self._ensure()
            svc.proc = proc
            self.files.push(lambda msg: self._send(proc, msg))
            self._send(proc, {"op": "start", "id": ident, "argv": argv, "cwd": cwd,
                              "env": _program_env(env or {}, user, system.hostname),
                              "limits": {k: v for k, v in PROGRAM_LIMITS.items() if k != "cpu"}})
        except WorkerError as exc:
            self._service_exit(svc, 1, str(exc))
            return
        if svc.stopping:  # systemctl stop came while the worker was starting
            self._signal(ident, 15)
        if self._sync_thread is None or not self._sync_thread.is_alive():
            self._sync_thread = threading.Thread(target=self._sync_loop, daemon=True,
                                                 name=f"worker-sync-{system.instance_id}")
            self._sync_thread.start()

    def stop_service(self, unit: str) -> None:
        svc = self._services.get(unit)
        if svc is None:
            return
        svc.stopping = True
        self._signal(svc.ident, 15)

    def _service_frame(self, svc: _Service, msg: dict[str, Any]) -> None:
        stream = msg.get("stream")
        if stream in ("out", "err"):
            buf = svc.out if stream == "out" else svc.err
            buf.extend(unb64(msg.get("data")))
            while b"\n" in buf:
                line, _, rest = bytes(buf).partition(b"\n")
                buf[:] = rest
                self.system.journal.append(svc.unit, line[:4000].decode("utf-8", "replace"),
                                           pid=svc.pid, ident=_program_name(svc.argv))
            if len(buf) > 4000:
                self.system.journal.append(svc.unit, bytes(buf[:4000]).decode("utf-8",
                                                                              "replace"),
                                           pid=svc.pid, ident=_program_name(svc.argv))
                buf.clear()
        elif "exit" in msg:
            self.files.apply(msg.get("changes"), self.files.users() | {svc.user})
            code = msg.get("exit")
            self._service_exit(svc, code if isinstance(code, int) else 1,
                               str(msg.get("error", "") or ""))

    def _service_exit(self, svc: _Service, code: int, error: str = "") -> None:
        if self._by_ident.pop(svc.ident, None) is None:
            return
        self._services.pop(svc.unit, None)
        self.files.writer(svc.user, -1)
        system = self.system
        system.processes.kill(svc.pid)
        for buf in (svc.out, svc.err):
            if buf:
                system.journal.append(svc.unit, bytes(buf).decode("utf-8", "replace"),
                                      pid=svc.pid)
        if error:
            system.journal.append(svc.unit, error, pid=svc.pid)
        # What systemd logs when a main process ends (systemd.exec(5) exit codes).
        if code < 0:
            system.journal.append(svc.unit, f"{svc.unit}: Main process exited, code=killed, "
                                  f"status={-code}/{_SIGNALS.get(-code, 'SIG' + str(-code))}")
        else:
            system.journal.append(svc.unit, f"{svc.unit}: Main process exited, "
                                  f"code=exited, status={code}/"
                                  f"{'SUCCESS' if code == 0 else 'FAILURE'}")
        stopping = svc.stopping or not system.is_active(svc.unit)
        failed = not stopping and code != 0
        result = "signal" if code < 0 else "exit-code"
        system.journal.append(svc.unit, f"{svc.unit}: " + (
            f"Failed with result '{result}'." if failed else "Deactivated successfully."))
        if not stopping and restarts(svc.restart, code) and not self._closed:
            threading.Thread(target=self._auto_restart, args=(svc,), daemon=True).start()
        elif system.is_active(svc.unit) and not stopping:
            # The program ended on its own: the unit is no longer active.
            threading.Thread(target=_unit_ended, args=(system, svc.unit, failed),
                             daemon=True).start()


    def _auto_restart(self, svc: _Service) -> None:
        """Restart= as systemd does it: after RestartSec=, at most StartLimitBurst=5
        starts in StartLimitIntervalSec=10s (systemd.unit(5)), then the unit fails."""
        system = self.system
        now = system.now()
        starts = [t for t in self._restarts.get(svc.unit, []) if now - t < 10.0]
        if len(starts) >= 5:
            system.journal.append(svc.unit, f"{svc.unit}: Start request repeated too quickly.")
            system.journal.append(svc.unit, f"{svc.unit}: Failed with result "
                                  "'start-limit-hit'.")
            _unit_ended(system, svc.unit, True)
            return
        self._restarts[svc.unit] = [*starts, now]
        if not system.clock.sleep(svc.restart_sec, system.cancel) or \
                not system.is_active(svc.unit) or svc.unit in self._services:
            return
        system.journal.append(svc.unit, f"{svc.unit}: Scheduled restart job, restart counter "
                              f"is at {len(starts) + 1}.")
        self.start_service(svc.unit, svc.argv, user=svc.user, cwd=svc.cwd, env=svc.env,
                           restart=svc.restart, restart_sec=svc.restart_sec)


_SIGNALS = {9: "KILL", 15: "TERM", 2: "INT", 11: "SEGV", 6: "ABRT", 24: "XCPU", 25: "XFSZ"}


def _unit_ended(system: System, unit: str, failed: bool) -> None:
    try:
        system.unit_ended(unit, failed)
    except Exception:  # the unit may be gone with the guest
        return


def _program_env(env: dict[str, str], user: str, hostname: str) -> dict[str, str]:
    """The environment a guest program gets: the guest's own, never the host's."""
    home = "/root" if user == ROOT else ("/var/www" if user == "www-data" else f"/home/{user}")
    base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
            "HOSTNAME": hostname}
    for key, value in env.items():
        if key.startswith(("STEMCELL_", "AWS_")) or not key.isidentifier():
            continue  # the brief's scrub: nothing named like the host's secrets
        base[key] = value
    base["HOME"] = env.get("HOME", home) if env.get("HOME", "").startswith("/") else home
    return base


_workers_lock = threading.Lock()
_prewarmed = threading.Event()
_ATTR = "_stemcell_guest_worker"  # kept on the System: it lives and goes with the guest


def worker_for(system: System) -> GuestWorker:
    """The guest's worker (created on first use; its process starts with the first program)."""
    with _workers_lock:
        w: GuestWorker | None = getattr(system, _ATTR, None)
        if w is None:
            w = GuestWorker(system)
            setattr(system, _ATTR, w)
        return w


def started_worker(system: System) -> GuestWorker | None:
    with _workers_lock:
        return getattr(system, _ATTR, None)


def attach(system: System) -> None:
    """Run a unit's Python ExecStart in the guest's worker while the unit is active."""

    def changed(unit: str, active: bool) -> None:
        if unit == "apache2.service":
            if active and _serves_wsgi(system):
                # mod_wsgi starts its daemon processes with Apache, not at the first
                # request: so does the guest's worker (in the background).
                worker_for(system).prestart()
            return
        spec = service_spec(system, unit)
        if spec is None or not runs_in_worker(system, spec.argv):
            return
        argv = spec.argv if is_python(spec.argv) else ["/usr/bin/python3", *spec.argv]
        worker = worker_for(system)
        if active:
            # Off the caller's thread: systemctl (or the boot) does not wait for the
            # worker's first start, as systemd does not wait for a simple service.
            worker.reopen()
            threading.Thread(target=worker.start_service, args=(unit, argv),
                             kwargs={"user": spec.user, "cwd": spec.cwd, "env": spec.env,
                                     "restart": spec.restart,
                                     "restart_sec": spec.restart_sec},
                             daemon=True).start()
        else:
            worker.stop_service(unit)

    system.on_service_change.append(changed)
    if not _prewarmed.is_set():
        _prewarmed.set()
        prewarm()


def _serves_wsgi(system: System) -> bool:
    from stemcell.sandbox.machine import apache_server

    try:
        cfg = apache_server.read_config(system.disk)
    except Exception:  # a broken config is Apache's to report, not ours
        return False
    return "wsgi" in cfg.modules and bool(cfg.wsgi)


def prewarm() -> None:
    """Find what isolation this machine gives and what the Python runtime needs once,
    in the background, so the first guest program does not pay for it."""
    threading.Thread(target=_prewarm, daemon=True, name="guest-worker-prewarm").start()


def _prewarm() -> None:
    if worker_sandbox.isolation().isolated:
        worker_sandbox.runtime()


def reopen(system: System) -> None:
    """The guest boots (again): programs may start a worker."""
    w = started_worker(system)
    if w is not None:
        w.reopen()


def shutdown(system: System) -> None:
    """The guest goes down: every program it runs ends."""
    w = started_worker(system)
    if w is not None:
        w.close()


def _program_name(argv: list[str]) -> str:
    """journald's SYSLOG_IDENTIFIER for a service's output: its program's name (comm)."""
    return posixpath.basename(argv[0]) if argv else "python3"
