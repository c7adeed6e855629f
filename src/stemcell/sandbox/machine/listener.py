"""A loopback listener that answers like an EC2 instance's port in each boot phase.

``dark``: the guest's network is not up. The kernel here still completes the
TCP handshake, so we hold the connection and send nothing: the client's banner
read times out, as a dropped SYN makes `connect` hang on EC2.
``refuse``: network up, service down. Reset at once (SO_LINGER 0 then close),
the loopback analogue of EC2's RST / "connection refused".
``serve``: hand the socket to the real server.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

HOLD_SECONDS = 120.0  # wall seconds a dark connection is kept before we drop it


class PhasedListener:
    def __init__(self, name: str, state: Callable[[], str],
                 serve: Callable[[socket.socket], None]) -> None:
        self.name = name
        self._state = state
        self._serve = serve
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.25)
        self.port: int = self.sock.getsockname()[1]
        self._held: list[tuple[float, socket.socket]] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"guest-{name}-accept",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                self._reap()
                continue
            except OSError:
                break
            if self._closed.is_set():
                reset(conn)
                break
            state = self._state()
            if state == "serve":
                conn.settimeout(None)
                threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                 name=f"guest-{self.name}-conn").start()
            elif state == "refuse":
                reset(conn)
            else:
                self._held.append((time.monotonic(), conn))
            self._reap()

    def _reap(self) -> None:
        now = time.monotonic()
        keep = []
        for since, conn in self._held:
            if now - since > HOLD_SECONDS:
                _close(conn)
            else:
                keep.append((since, conn))
        self._held = keep

    def drop_held(self) -> None:
        held, self._held = self._held, []
        for _, conn in held:
            _close(conn)

    def close(self) -> None:
        self._closed.set()
        _close(self.sock)
        self._thread.join(timeout=2)
        self.drop_held()


def reset(conn: socket.socket) -> None:
    """Close with an RST rather than a FIN."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close(conn)


def _close(conn: socket.socket) -> None:
    try:
        conn.close()
    except OSError:
        pass
