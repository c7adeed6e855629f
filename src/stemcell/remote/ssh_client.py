"""An SSH client for booting servers: knock until it answers, verify, run, stream.

A booting EC2 instance first ignores connections (the network is not up: the
connect or the banner read times out), then refuses them (network up, sshd not
yet), then talks SSH. ``connect`` knocks until a deadline in *modeled* seconds,
reports the first refusal (``tcp_refused``) and the first banner
(``ssh_accepting``) through a callback, verifies the host key
(``host_keys.verify``) and authenticates with the run's key. It peeks at the
banner without consuming it, so the first byte is observed at the moment it
arrives and paramiko still reads the whole banner itself.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import paramiko

from stemcell.engine.clock import Clock
from stemcell.engine.errors import Interrupted, StemcellError
from stemcell.engine.redact import StreamRedactor
from stemcell.engine.sanitise import sanitise, sanitise_line
from stemcell.remote import host_keys
from stemcell.remote.answer_wait import wait_for_answer
from stemcell.remote.watchdog import Watchdog

OnLine = Callable[[str, str], None]  # (line, "stdout" | "stderr")
OnMark = Callable[[str], None]

LAST_LINES = 20
# A remote server controls how much it sends. One line longer than this is cut
# into pieces (a newline-free flood must not grow a buffer without bound), and
# ``run`` keeps at most MAX_OUTPUT bytes of a command's output, then stops it.
MAX_LINE = 64 * 1024
MAX_OUTPUT = 1_000_000
TRUNCATED = f"[stemcell: output truncated after {MAX_OUTPUT // 1_000_000} MB]"


class OutputLimit(Exception):
    """Raised from a line callback to stop a command that sent too much."""

# paramiko logs a peer's reset from its own thread; with no handler configured,
# Python would print that on stderr, under the TUI. Errors reach us as exceptions.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class SshError(StemcellError):
    """SSH did not work out: never answered, refused the key, or broke."""


class SshTimeout(SshError):
    """The server never accepted SSH before the deadline."""


class SshAuthFailed(SshError):
    """The server answered but did not accept the run's key."""


def load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(str(path))
    except (OSError, paramiko.SSHException) as exc:
        raise SshError(f"cannot read the SSH key {path}: {exc}") from None


def _knock(address: tuple[str, int], clock: Clock,
           attempt: float) -> tuple[str, socket.socket | None]:
    """One attempt: 'hang' (nothing), 'refused' (reset/refused) or 'banner' (+socket)."""
    try:
        # A dropped SYN hangs connect on EC2 (the wall clock there); loopback never does.
        sock = socket.create_connection(address, timeout=max(0.05, attempt / clock.speed))
    except ConnectionRefusedError:
        return "refused", None
    except ConnectionResetError:
        return "refused", None
    except OSError:  # timeout, unreachable: the network is not there yet
        return "hang", None
    try:
        if not wait_for_answer(sock, clock, attempt):
            sock.close()
            return "hang", None
        first = sock.recv(1, socket.MSG_PEEK)
    except (ConnectionResetError, BrokenPipeError):
        sock.close()
        return "refused", None
    except OSError:
        sock.close()
        return "hang", None
    if not first:  # closed before a banner: same as refused for our purposes
        sock.close()
        return "refused", None
    sock.settimeout(None)
    return "banner", sock


def connect(
    address: tuple[str, int],
    *,
    key_path: Path,
    known_hosts: Path,
    clock: Clock,
    cancel: threading.Event,
    deadline: float = 900.0,
    user: str = "ubuntu",
    on_mark: OnMark | None = None,
    fingerprints: Callable[[], dict[str, str]] | None = None,
    label: str = "",
    attempt: float = 2.0,
    retry: float = 0.5,
    handshake_wall: float = 20.0,
    log: Callable[[str], None] | None = None,
    watchdog: Watchdog | None = None,
    accept_new: bool = True,
    pin_as: str | None = None,
) -> SshClient:
    """Knock until SSH answers (``deadline`` modeled seconds), then verify and log in.

    ``watchdog`` (the checker's per-host deadline) is handed every socket and
    transport, and closes them when the host's time is up, whatever call is
    blocked. ``accept_new=False`` refuses a host with neither a pinned key nor a
    console fingerprint (OpenSSH's ``StrictHostKeyChecking=yes``). ``pin_as``
    names the host in known_hosts (an instance id; default the address).

    ``fingerprints`` (the console's, possibly polling for a while) is asked once,
    at the first SSH banner, with no socket held open meanwhile: a server drops a
    client that sits silent past its login grace time.
    """
    console: dict[str, str] | None = None
    pkey = load_key(key_path)
    who = label or f"{address[0]}:{address[1]}"
    until = clock.now() + deadline
    last = "no answer"
    auth_failures = 0
    while True:
        if cancel.is_set():
            raise Interrupted()
        if watchdog is not None and watchdog.expired:
            raise SshTimeout(
                f"{who} did not accept SSH within the host's deadline of "
                f"{watchdog.seconds:.0f} s (last: {last})",
                hint="Check the security group allows port 22 from your address and "
                "look at the instance's console output.")
        outcome, sock = _knock(address, clock, attempt)
        if outcome == "refused":
            last = "connection refused"
            if on_mark:
                on_mark("tcp_refused")
        elif outcome == "banner" and sock is not None:
            if on_mark:
                on_mark("ssh_accepting")
            if fingerprints is not None and console is None:
                sock.close()
                console = _ask_console(fingerprints, who, log)
                continue  # knock again at once, now knowing what to expect
            if watchdog is not None:
                watchdog.watch(sock)
            try:
                # An instance id is pinned bare (no port), as OpenSSH's HostKeyAlias
                # looks it up: `ssh -o HostKeyAlias=i-... -o UserKnownHostsFile=...`.
                pin = (pin_as, 22) if pin_as else address
                return _handshake(sock, pkey, user, pin,
                                  known_hosts, console or {}, who, handshake_wall, clock,
                                  cancel, log, watchdog, accept_new)
            except paramiko.AuthenticationException as exc:
                # cloud-init may not have written authorized_keys yet; a wrong key
                # never gets better, so give up after a few tries.
                auth_failures += 1
                last = f"key not accepted ({exc})"
                if auth_failures >= 3:
                    raise SshAuthFailed(
                        f"{who} does not accept the key {key_path.name} for user {user}",
                        hint="Was the instance launched with this run's key pair?") from None
            except host_keys.HostKeyMismatch:
                raise
            except (paramiko.SSHException, EOFError, OSError) as exc:
                last = f"SSH handshake failed ({exc or type(exc).__name__})"
                if watchdog is not None and watchdog.expired:
                    raise SshTimeout(f"{who}: the host's deadline passed during the SSH "
                                     f"handshake ({watchdog.seconds:.0f} s)") from None
        else:
            last = "no answer (connection timed out)"
        if clock.now() >= until:
            raise SshTimeout(
                f"{who} did not accept SSH within {deadline:.0f} s (last: {last})",
                hint="Check the security group allows port 22 from your address and "
                "look at the instance's console output.")
        if not clock.sleep(retry, cancel):
            raise Interrupted()


def _ask_console(fingerprints: Callable[[], dict[str, str]], who: str,
                 log: Callable[[str], None] | None) -> dict[str, str]:
    try:
        return fingerprints()
    except (Interrupted, KeyboardInterrupt):
        raise
    except Exception as exc:  # the console is advisory; pinning is the stated fallback
        if log:
            log(f"could not read console fingerprints for {who}: {exc}")
        return {}


def _handshake(
    sock: socket.socket, pkey: paramiko.PKey, user: str, address: tuple[str, int],
    known_hosts: Path, expected: dict[str, str], who: str,
    wall: float, clock: Clock, cancel: threading.Event, log: Callable[[str], None] | None,
    watchdog: Watchdog | None = None, accept_new: bool = True,
) -> SshClient:
    transport = paramiko.Transport(sock)
    if watchdog is not None:
        watchdog.watch(transport)
    try:
        transport.banner_timeout = wall
        transport.handshake_timeout = wall
        transport.auth_timeout = wall
        transport.start_client(timeout=wall)
        key = transport.get_remote_server_key()
        how = host_keys.verify(key, address[0], address[1], known_hosts, expected, who,
                               accept_new=accept_new)
        if log:
            log(f"host key of {who} ({host_keys.sha256_fingerprint(key)}): {how}")
        transport.auth_publickey(user, pkey)
        if not transport.is_authenticated():
            raise paramiko.AuthenticationException("not authenticated")
    except BaseException:
        transport.close()
        raise
    return SshClient(transport, who, clock, cancel, watchdog, how)


class SshClient:
    def __init__(self, transport: paramiko.Transport, label: str, clock: Clock,
                 cancel: threading.Event, watchdog: Watchdog | None = None,
                 trusted: str = "") -> None:
        self.transport = transport
        self.label = label
        self.clock = clock
        self.cancel = cancel
        self.watchdog = watchdog
        self.trusted = trusted  # how the host key was trusted (host_keys.verify)

    def __enter__(self) -> SshClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def exec(
        self,
        command: str,
        on_line: OnLine | None = None,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        progress: bool = True,
    ) -> tuple[int, list[str]]:
        """Run ``command``; stream each output line; return (exit status, last lines).

        ``timeout`` is in modeled seconds. Cancellation closes the channel (the
        remote command gets SIGHUP) and raises ``Interrupted``. Every line is
        sanitised (no terminal controls) and redacted (a private key printed line
        by line is one secret) before anyone sees it; a line longer than
        ``MAX_LINE`` bytes is cut. With ``progress`` (for output shown live), a line
        redrawn with ``\r`` keeps only its last drawing; without it (``run``: logs
        and files read back) every character is kept.
        """
        last: deque[str] = deque(maxlen=LAST_LINES)
        pending = {"stdout": b"", "stderr": b""}
        redactor = StreamRedactor()

        def emit(stream: str, line: bytes) -> None:
            text = line.decode("utf-8", "replace")
            # Shown live, a progress bar's \r keeps its last frame; read back, every
            # character stays (sanitise drops the \r itself, a terminal control).
            if not progress:  # read back: every character, a bare \r as a line break
                text = text.rstrip("\r").replace("\r", "\n")
            text = redactor.line((self.label, stream),
                                 sanitise_line(text) if progress else sanitise(text))
            last.append(text)
            if on_line is not None:
                on_line(text, stream)

        def feed(stream: str, data: bytes) -> None:
            buf = pending[stream] + data
            *lines, rest = buf.split(b"\n")
            for line in lines:
                while len(line) > MAX_LINE:
                    emit(stream, line[:MAX_LINE])
                    line = line[MAX_LINE:]
                emit(stream, line)
            while len(rest) > MAX_LINE:
                emit(stream, rest[:MAX_LINE])
                rest = rest[MAX_LINE:]
            pending[stream] = rest

        try:
            chan = self.transport.open_session(timeout=30)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if self.watchdog is not None and self.watchdog.expired:
                raise SshTimeout(f"{self.label}: the host's deadline passed "
                                 f"({self.watchdog.seconds:.0f} s)") from None
            raise SshError(f"{self.label}: cannot open an SSH session ({exc})") from None
        until = None if timeout is None else self.clock.now() + timeout
        try:
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin.encode())
                chan.shutdown_write()
            while True:
                if self.cancel.is_set():
                    raise Interrupted()
                if until is not None and self.clock.now() > until:
                    raise SshError(f"{self.label}: {command.split()[0]!r} still running after "
                                   f"{timeout:.0f} s; gave up")
                busy = False
                while chan.recv_ready():
                    feed("stdout", chan.recv(65536))
                    busy = True
                while chan.recv_stderr_ready():
                    feed("stderr", chan.recv_stderr(65536))
                    busy = True
                if chan.exit_status_ready() and not chan.recv_ready() \
                        and not chan.recv_stderr_ready():
                    break
                if chan.closed and not busy:
                    break
                if not busy:
                    # Waiting on the guest's command: not host work (engine/clock.py).
                    with self.clock.idle():
                        select.select([chan], [], [], 0.05)
            for stream, rest in pending.items():
                if rest:
                    emit(stream, rest)
            if not chan.exit_status_ready() and self.watchdog is not None \
                    and self.watchdog.expired:  # closed under us, not finished
                raise SshTimeout(f"{self.label}: the host's deadline passed "
                                 f"({self.watchdog.seconds:.0f} s)")
            status = chan.recv_exit_status() if chan.exit_status_ready() else -1
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if self.watchdog is not None and self.watchdog.expired:
                raise SshTimeout(f"{self.label}: the host's deadline passed "
                                 f"({self.watchdog.seconds:.0f} s)") from None
            raise SshError(f"{self.label}: SSH connection lost ({exc})") from None
        finally:
            with contextlib.suppress(Exception):
                chan.close()
        return status, list(last)

    def run(self, command: str, *, stdin: str | None = None,
            timeout: float | None = None) -> tuple[int, str, str]:
        """Run and collect: (exit status, stdout, stderr), at most ``MAX_OUTPUT`` bytes.

        Past the cap the command is stopped (its channel closed), the status is -1
        and stdout ends with a line saying it was truncated.
        """
        out: list[str] = []
        err: list[str] = []
        kept = [0]

        def keep(line: str, stream: str) -> None:
            kept[0] += len(line) + 1
            if kept[0] > MAX_OUTPUT:
                raise OutputLimit()
            (out if stream == "stdout" else err).append(line)

        try:
            status, _ = self.exec(command, keep, stdin=stdin, timeout=timeout, progress=False)
        except OutputLimit:
            out.append(TRUNCATED)
            status = -1
        return status, "\n".join(out), "\n".join(err)
