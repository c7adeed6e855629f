"""The guest's SSH server: paramiko, public-key auth against authorized_keys on
the guest's disk, exec requests and interactive shells running the interpreter."""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from stemcell.engine.clock import NO_HOLD, Clock, WallClock, release_later
from stemcell.sandbox.machine.sftp_disk import DiskSftp, SftpSubsystem
from stemcell.sandbox.machine.shell import IO, Shell, ShellExit
from stemcell.sandbox.machine.syntax import ParseError, parse

if TYPE_CHECKING:
    from stemcell.sandbox.machine.system import System

LOGIN_USER = "ubuntu"
LOG_CHANNEL = "stemcell.sandbox.guest.sshd"
# paramiko logs client disconnects as errors with tracebacks; they must never reach
# the terminal (the TUI owns it), so the server transports log to a silent channel.
_log = logging.getLogger(LOG_CHANNEL)
_log.addHandler(logging.NullHandler())
_log.propagate = False


def authorized(system: System, username: str, key: paramiko.PKey) -> bool:
    if username != LOGIN_USER:
        return False
    path = f"/home/{username}/.ssh/authorized_keys"
    disk = system.disk
    if not disk.is_file(path):
        return False
    blob = key.asbytes()
    for line in disk.read_text(path).splitlines():
        fields = line.split()
        # Options before the key type are allowed in authorized_keys.
        for i, f in enumerate(fields[:-1]):
            if f.startswith(("ssh-", "ecdsa-", "sk-")):
                try:
                    if base64.b64decode(fields[i + 1]) == blob:
                        return True
                except ValueError:
                    pass
                break
    return False


class _Server(paramiko.ServerInterface):
    def __init__(self, system: System, peer: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.system = system
        self.peer = peer
        self.requests: dict[int, dict[str, Any]] = {}
        self.ready: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def _slot(self, chan: paramiko.Channel) -> dict[str, Any]:
        with self.lock:
            self.ready.setdefault(chan.get_id(), threading.Event())
            return self.requests.setdefault(chan.get_id(), {"env": {}})

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if authorized(self.system, username, key):
            self._journal_login(username, key)
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def _journal_login(self, username: str, key: paramiko.PKey) -> None:
        # OpenSSH 9.6's auth log lines (the fingerprint of a public key is not a secret).
        digest = hashlib.sha256(key.asbytes()).digest()
        fp = "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
        kind = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA"}.get(key.get_name(), "ECDSA")
        system = self.system
        pid = system.processes.next_pid()
        system.journal.append("ssh.service", f"Accepted publickey for {username} from "
                              f"{self.peer[0]} port {self.peer[1]} ssh2: {kind} {fp}",
                              ident="sshd", pid=pid, when=system.now())
        system.journal.append("ssh.service", f"pam_unix(sshd:session): session opened for "
                              f"user {username}(uid=1000) by {username}(uid=0)",
                              ident="sshd", pid=pid, when=system.now())

    def check_auth_none(self, username: str) -> int:
        return AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return AUTH_FAILED  # PasswordAuthentication no, as in the cloud image

    def check_channel_pty_request(self, channel: paramiko.Channel, term: bytes, width: int,
                                  height: int, pixelwidth: int, pixelheight: int,
                                  modes: bytes) -> bool:
        slot = self._slot(channel)
        slot["pty"] = True
        slot["size"] = [width or 80, height or 24]
        return True

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes,
                                  value: bytes) -> bool:
        self._slot(channel)["env"][_s(name)] = _s(value)
        return True

    def check_channel_window_change_request(self, channel: paramiko.Channel, width: int,
                                            height: int, pixelwidth: int,
                                            pixelheight: int) -> bool:
        size = self._slot(channel).get("size")
        if isinstance(size, list):
            size[:] = [width or 80, height or 24]
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        slot = self._slot(channel)
        slot["exec"] = _s(command)
        # The command is host work from now on: held before the client hears "started"
        # (it stops counting as busy then), so modeled time never runs at --speed in
        # between. The channel's thread takes the work over (SshServer._channel).
        slot["hold"] = self.system.clock.hold()
        self.ready[channel.get_id()].set()
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        slot = self._slot(channel)
        slot["shell"] = True
        self.ready[channel.get_id()].set()
        return True

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        # sshd_config's `Subsystem sftp`: paramiko starts the handler registered on the
        # transport (SshServer.serve) in its own thread.
        if name != "sftp":
            return False
        slot = self._slot(channel)
        slot["subsystem"] = name
        self.ready[channel.get_id()].set()
        return super().check_channel_subsystem_request(channel, name)


# How long (wall seconds) a finished command still counts as host work: the client
# reads the exit status a moment after it is sent.
RETURN_GRACE = 0.05


def _s(b: bytes | str) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


class SshServer:
    """Serves SSH connections for one guest; tracks them so they can be closed."""

    def __init__(self, system: System, host_key: Callable[[], paramiko.PKey],
                 alive: Callable[[], bool]) -> None:
        self.system = system
        self._host_key = host_key
        self.alive = alive
        self._transports: set[paramiko.Transport] = set()
        self._sessions: set[threading.Event] = set()
        self._lock = threading.Lock()

    def serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.set_log_channel(LOG_CHANNEL)
        transport.local_version = "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5"
        transport.add_server_key(self._host_key())
        transport.set_subsystem_handler("sftp", SftpSubsystem, DiskSftp, self.system,
                                        LOGIN_USER)
        try:
            peer = conn.getpeername()[:2]
        except OSError:
            peer = ("127.0.0.1", 0)
        server = _Server(self.system, (str(peer[0]), int(peer[1])))
        with self._lock:
            self._transports.add(transport)
        try:
            transport.start_server(server=server)
            while transport.is_active() and self.alive():
                chan = transport.accept(timeout=1.0)
                if chan is None:
                    continue
                threading.Thread(target=self._channel, args=(server, chan), daemon=True,
                                 name="guest-ssh-channel").start()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            with self._lock:
                self._transports.discard(transport)
            transport.close()

    def close_all(self) -> None:
        with self._lock:
            transports = list(self._transports)
            sessions = list(self._sessions)
        for ev in sessions:
            ev.set()
        for t in transports:
            t.close()

    def _channel(self, server: _Server, chan: paramiko.Channel) -> None:
        slot = server._slot(chan)
        if not server.ready[chan.get_id()].wait(10):
            chan.close()
            return
        if "subsystem" in slot:
            return  # the SFTP server thread owns this channel
        cancel = threading.Event()
        with self._lock:
            self._sessions.add(cancel)
        # The session's processes, as `ps` shows an OpenSSH login on Ubuntu 24.04.
        table = self.system.processes
        tty = "?"
        if slot.get("pty"):
            with self._lock:  # the lowest free pts number, as the kernel hands them out
                used = {p.tty for p in table.list()}
                tty = next(f"pts/{n}" for n in range(len(used) + 1) if f"pts/{n}" not in used)
                slot["tty"] = tty
        now = self.system.now()
        sshd = next((p.pid for p in table.list() if p.unit == "ssh.service"), 1)
        priv = table.spawn(f"sshd: {LOGIN_USER} [priv]", user="root", ppid=sshd, started=now,
                           vsz_kb=14428, rss_kb=8960)
        conn = table.spawn(f"sshd: {LOGIN_USER}@{tty if tty != '?' else 'notty'}",
                           user=LOGIN_USER, ppid=priv.pid, started=now, vsz_kb=14688,
                           rss_kb=6656, stat="S")
        login = table.spawn("-bash" if "shell" in slot else f"bash -c {slot.get('exec', '')}",
                            user=LOGIN_USER, ppid=conn.pid, started=now, vsz_kb=8780,
                            rss_kb=5504, tty=tty, stat="Ss" if tty == "?" else "Ss+")
        try:
            if "exec" in slot:
                with self.system.clock.busy():
                    slot.pop("hold", NO_HOLD).release()
                    self._exec(chan, slot["exec"], bool(slot.get("pty")), slot["env"], cancel)
                    # The client wakes a moment after the exit status: hold the clock at
                    # wall speed that long instead of letting it run at --speed.
                    release_later(self.system.clock.hold(), RETURN_GRACE)
            else:
                Interactive(self.system, chan, slot["env"], cancel,
                            slot.get("size") or [80, 24], tty).run()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            slot.pop("hold", NO_HOLD).release()
            for proc in (login, conn, priv):
                table.kill(proc.pid)
            with self._lock:
                self._sessions.discard(cancel)
            try:
                chan.close()
            except (OSError, EOFError):
                pass

    def _exec(self, chan: paramiko.Channel, command: str, pty: bool, env: dict[str, str],
              cancel: threading.Event) -> None:
        shell = Shell(self.system, user=LOGIN_USER, env=_safe_env(env))
        shell.cancel = cancel
        # The client's data up to EOF is the command's stdin, read only if it is wanted
        # (`sudo bash -s` with the bake script); other commands never wait for it.
        def stdin() -> bytes:
            return _read_to_eof(chan, cancel)

        def out(b: bytes) -> None:
            chan.sendall(b.replace(b"\n", b"\r\n") if pty else b)

        def err(b: bytes) -> None:
            if pty:
                chan.sendall(b.replace(b"\n", b"\r\n"))
            else:
                chan.sendall_stderr(b)

        code = shell.run(command, IO(stdin, out, err))
        chan.send_exit_status(code)
        try:
            chan.shutdown_write()
        except (OSError, EOFError):
            pass


def _read_to_eof(chan: paramiko.Channel, cancel: threading.Event) -> bytes:
    data = []
    chan.settimeout(0.2)
    try:
        while not cancel.is_set():
            try:
                chunk = chan.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data.append(chunk)
    finally:
        chan.settimeout(None)
    return b"".join(data)


def _safe_env(env: dict[str, str]) -> dict[str, str]:
    # sshd's AcceptEnv LANG LC_* only.
    return {k: v for k, v in env.items() if k == "LANG" or k.startswith("LC_")}


class Interactive:
    """A login shell on a pty: prompt, echo, line editing, Ctrl-C, Ctrl-D, exit."""

    def __init__(self, system: System, chan: paramiko.Channel, env: dict[str, str],
                 cancel: threading.Event, size: list[int] | None = None,
                 tty: str = "pts/0") -> None:
        self.system = system
        self.chan = chan
        self.cancel = cancel
        self.shell = Shell(system, user=LOGIN_USER, env={**_safe_env(env), "TERM": "xterm"},
                           name="-bash")
        self.shell.cancel = threading.Event()
        self.shell.interactive = True
        self._buf = bytearray()
        self._eof = False
        self._interrupt = self.shell.cancel
        self.terminal = PtyTerminal(chan, size or [80, 24], self._buf, tty, system.clock)
        self.shell.terminal = self.terminal

    def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.chan.sendall(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def prompt(self, cont: bool = False) -> str:
        if cont:
            return "> "
        sh = self.shell
        home = sh.env.get("HOME", "")
        cwd = "~" + sh.cwd[len(home):] if home and (sh.cwd == home or
                                                     sh.cwd.startswith(home + "/")) else sh.cwd
        sign = "#" if sh.user == "root" else "$"
        return f"{sh.user}@{self.system.hostname}:{cwd}{sign} "

    def banner(self) -> str:
        from stemcell.sandbox.machine.system import KERNEL

        disk = self.system.disk
        pretty = next((ln.split("=", 1)[1].strip('"') for ln in disk.read_text(
            "/etc/os-release").splitlines() if ln.startswith("PRETTY_NAME=")),
            "Ubuntu 24.04.1 LTS") if disk.is_file("/etc/os-release") else "Ubuntu"
        machine = "aarch64" if disk.arch in ("arm64", "aarch64") else "x86_64"
        return (f"Welcome to {pretty} (GNU/Linux {KERNEL} {machine})\n\n"
                " * Documentation:  https://help.ubuntu.com\n"
                " * Management:     https://landscape.canonical.com\n\n"
                f"  System information as of {_now(self.system)}\n\n"
                f"  IPv4 address for ens5: {self.system.private_ip}\n\n"
                "This is a stemcell sandbox guest: commands are simulated (see "
                "docs/sandbox-guest.md);\nanything else would run on AWS.\n\n")

    def read_line(self, prompt: str) -> str | None:
        """Read one edited line; None on Ctrl-D at an empty line or disconnect."""
        self.send(prompt)
        line = bytearray()
        while True:
            if self.cancel.is_set():
                return None
            if self._buf:
                data = bytes(self._buf)
                self._buf.clear()
            elif self._eof:
                return None
            else:
                try:
                    self.chan.settimeout(0.5)
                    data = self.chan.recv(1024)
                except TimeoutError:
                    continue
            if not data:
                return None
            i = 0
            while i < len(data):
                c = data[i]
                i += 1
                if c in (13, 10):
                    if c == 13 and i < len(data) and data[i] == 10:
                        i += 1  # CR LF is one Enter
                    # Keep what was typed ahead (pasted or piped lines) for the next read.
                    self._buf[:0] = data[i:]
                    self.send("\r\n")
                    return line.decode("utf-8", "replace")
                if c == 3:  # Ctrl-C
                    self.send("^C\r\n")
                    line.clear()
                    self.send(prompt)
                elif c == 4:  # Ctrl-D
                    if not line:
                        return None
                elif c in (127, 8):
                    if line:
                        # Drop a whole UTF-8 character.
                        while line and (line[-1] & 0xC0) == 0x80:
                            line.pop()
                        if line:
                            line.pop()
                        self.chan.sendall(b"\b \b")
                elif c == 27:  # escape sequences (arrows...) are ignored
                    if i < len(data) and data[i] in (ord("["), ord("O")):
                        i += 1
                        while i < len(data) and not (64 <= data[i] <= 126):
                            i += 1
                        i += 1
                elif c == 21:  # Ctrl-U
                    self.chan.sendall(b"\b \b" * len(line.decode("utf-8", "replace")))
                    line.clear()
                elif c >= 32 or c == 9:
                    line.append(c)
                    self.chan.sendall(bytes([c]))

    def _watch_ctrl_c(self, stop: threading.Event) -> None:
        # While a command runs, Ctrl-C in the input stream interrupts it.
        while not stop.is_set() and not self.cancel.is_set():
            try:
                self.chan.settimeout(0.1)
                data = self.chan.recv(1024)
            except TimeoutError:
                continue
            except (OSError, EOFError):
                return
            if not data:
                self._eof = True  # the client closed its input; lines typed ahead still run
                self.terminal.closed()
                return
            if self.terminal.is_raw:
                self.terminal.feed(data)
                continue
            if 3 in data:
                self._interrupt.set()
                self.send("^C")
            else:
                self._buf.extend(data)
        if self.cancel.is_set():
            self._interrupt.set()  # the guest is going down: stop the running command
            self.terminal.closed()

    def run(self) -> None:
        self.send(self.banner())
        pending = ""
        while not self.cancel.is_set():
            line = self.read_line(self.prompt(bool(pending)))
            if line is None:
                if not pending:
                    self.send("logout\r\n")
                    break
                pending = ""
                continue
            script = pending + line + "\n"
            try:
                parse(script)
            except ParseError as exc:
                if "end of file" in str(exc) or "EOF" in str(exc):
                    pending = script
                    continue
            pending = ""
            if not script.strip():
                continue
            stop = threading.Event()
            watcher = threading.Thread(target=self._watch_ctrl_c, args=(stop,), daemon=True)
            watcher.start()
            try:
                self.shell.errexit = False
                with self.system.clock.busy():
                    self.shell.run(script, IO(b"", self.send, self.send))
            except ShellExit as exc:
                stop.set()
                watcher.join()
                if exc.code == 130 and not self.system.cancel.is_set():
                    self._interrupt.clear()
                    self.send("\r\n")
                    continue
                if not self.system.cancel.is_set() and self.shell.pop_user():
                    self.send("logout\r\n")
                    continue
                self.send("logout\r\n")
                self.chan.send_exit_status(exc.code)
                return
            finally:
                stop.set()
                watcher.join()
            if self._interrupt.is_set():
                self._interrupt.clear()
                self.send("\r\n")
        self.chan.send_exit_status(self.shell.status)


class PtyTerminal:
    """The session's PTY as a full-screen program sees it (shell.Terminal): while raw,
    the Ctrl-C watcher hands every keystroke over instead of interpreting it."""

    def __init__(self, chan: paramiko.Channel, size: list[int], typed_ahead: bytearray,
                 name: str = "pts/0", clock: Clock | None = None) -> None:
        self.chan = chan
        self.clock: Clock = clock or WallClock()
        self.name = name
        self._size = size
        self._typed_ahead = typed_ahead
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self.is_raw = False
        self._gone = False

    def raw(self, on: bool) -> None:
        if on and self._typed_ahead:
            # Keys sent right after the command line arrived with it.
            self._queue.put(bytes(self._typed_ahead))
            self._typed_ahead.clear()
        self.is_raw = on

    def feed(self, data: bytes) -> None:
        self._queue.put(data)

    def closed(self) -> None:
        self._gone = True
        self._queue.put(None)

    def read(self, timeout: float) -> bytes | None:
        try:
            with self.clock.idle():  # an editor waiting for a key is not host work
                data = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None if self._gone else b""
        return data

    def write(self, data: bytes) -> None:
        self.chan.sendall(data)

    def size(self) -> tuple[int, int]:
        return self._size[0], self._size[1]


def _now(system: System) -> str:
    import time

    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(system.wall_now()))
