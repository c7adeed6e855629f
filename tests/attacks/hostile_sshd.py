"""A student's server gone bad: a real SSH server (paramiko) on 127.0.0.1.

``behaviour`` decides what every exec request gets:

- ``"escapes"``: answers with terminal control sequences (OSC 52 clipboard write,
  window title, clear screen, colours, C1 CSI, bidi override) around plain text;
- ``"hang"``: accepts the session, then never answers the exec request;
- ``"flood"``: answers at once and then sends output without end (no newline in
  some of it, so a line buffer would grow too);
- ``"ok"``: a well-behaved server (``echo``-like answers).

It accepts any public key for ``ubuntu`` (the attack is on the checker, not on
authentication) and uses the host key it is given, so tests can swap keys.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import paramiko

# A hostile server's connections end abruptly by design; keep paramiko quiet about it.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

ESCAPES = (
    "before "
    "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52: write the TA's clipboard
    "\x1b]0;owned\x1b\\"  # OSC 0: retitle the window
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b[8mhidden\x1b[0m"  # conceal
    "\x9b31m"  # 8-bit CSI
    "\u202eevil\u202c"  # bidi override
    "\x07\x08\x7f"
    " after"
)


class _Interface(paramiko.ServerInterface):
    def __init__(self, behaviour: str, stop: threading.Event) -> None:
        self.behaviour = behaviour
        self.stop = stop

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL if username == "ubuntu" else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else \
            paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if self.behaviour == "hang":
            # Never answer: paramiko replies only after this returns.
            self.stop.wait()
            return False
        threading.Thread(target=self._answer, args=(channel,), daemon=True).start()
        return True

    def _answer(self, channel: paramiko.Channel) -> None:
        time.sleep(0.02)  # let paramiko send the exec request's success first
        try:
            if self.behaviour == "flood":
                chunk = (b"A" * 4000 + b"\n") * 15 + b"B" * 60000  # some very long lines
                while not self.stop.is_set() and not channel.closed:
                    channel.sendall(chunk)
                return
            text = ESCAPES if self.behaviour == "escapes" else "fine"
            channel.sendall((text + "\n").encode())
            channel.sendall_stderr((text + "\n").encode())
            channel.send_exit_status(0)
            channel.shutdown_write()
            channel.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass


class HostileSshd:
    def __init__(self, behaviour: str, host_key: paramiko.PKey | None = None) -> None:
        self.behaviour = behaviour
        self.host_key = host_key or paramiko.Ed25519Key.from_private_key(_fresh_ed25519())
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port: int = self.sock.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            self.transports.append(transport)
            try:
                transport.start_server(server=_Interface(self.behaviour, self.stop))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for t in self.transports:
            t.close()


def _fresh_ed25519():  # type: ignore[no-untyped-def]
    import io

    return io.StringIO(pem())


def pem(kind: str = "ed25519") -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode()


def rsa_host_key() -> paramiko.PKey:
    import io

    return paramiko.RSAKey.from_private_key(io.StringIO(pem("rsa")))
