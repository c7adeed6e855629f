"""The sandbox's control API: where guests are and what time it is.

A tiny JSON server on 127.0.0.1 (stdlib, one thread per request). Every route
needs ``Authorization: Bearer <control token>`` (the token is in the sandbox's
0600 info file, or held by the process that started it): 401 without it, 403
with a wrong one, compared in constant time. Loopback is shared by every user
of the machine; the token is what makes the API its owner's.

- ``GET /health``   -> {"ok": true, "pid", "account_id", "endpoint_url", "speed", "uptime", ...}
- ``GET /clock``    -> {"speed", "now", "rate", "epoch"}: the modeled time (shared_clock.py)
- ``POST /clock``   {"op": "hold", "pid"} | {"op": "release", "id"} | {"op": "sleep", "until",
                     "wall"}: a run in another process working or waiting on this clock
- ``GET /guests``   -> {instance_id: {"public_ip", "private_ip", "ssh": [host, port],
                        "http": [host, port], "phase", "state", "image_id", "key_name", "tags"}}
- ``POST /shutdown`` -> {"ok": true}: only a background daemon accepts it (else 403)
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ControlSource(Protocol):
    def health(self) -> dict[str, Any]: ...

    def clock_info(self) -> dict[str, float]: ...
    def clock_call(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def guests(self) -> dict[str, dict[str, Any]]: ...


class _Handler(BaseHTTPRequestHandler):
    server: _ControlHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without NODELAY, Nagle holds the body
        # until the client's delayed ACK, 40 ms per answer on a kept-alive connection
        # (a run in another process reads the clock over it hundreds of times).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _authorized(self) -> bool:
        """Check the bearer token; answer 401/403 and return False when it is not right."""
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        # A refused caller's body is never read: drop the connection after the answer.
        self.close_connection = True
        if scheme.lower() != "bearer" or not given.strip():
            self._reply(401, {"error": "the control API needs its bearer token"},
                        {"WWW-Authenticate": 'Bearer realm="stemcell-sandbox"'})
            return False
        if not hmac.compare_digest(given.strip().encode(), self.server.token.encode()):
            self._reply(403, {"error": "wrong control token"})
            return False
        self.close_connection = False
        return True

    def do_GET(self) -> None:
        if not self._authorized():
            return
        routes: dict[str, Callable[[], Any]] = {
            "/health": self.server.source.health,
            "/clock": self.server.source.clock_info,
            "/guests": self.server.source.guests,
        }
        route = routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._reply(404, {"error": f"no such path: {self.path}"})
            return
        try:
            self._reply(200, route())
        except Exception as exc:  # report, never kill the control thread
            log.exception("control API %s failed", self.path)
            self._reply(500, {"error": str(exc)})

    def do_POST(self) -> None:
        if not self._authorized():
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 65536:
            self.close_connection = True
            self._reply(413, {"error": "no body this large is expected"})
            return
        raw = self.rfile.read(length) if length else b""
        if self.path == "/clock":
            self._clock_call(raw)
            return
        if self.path != "/shutdown":
            self._reply(404, {"error": f"no such path: {self.path}"})
            return
        on_shutdown = self.server.on_shutdown
        if on_shutdown is None:
            self._reply(403, {"error": "this sandbox belongs to the process that started it"})
            return
        self._reply(200, {"ok": True})
        # Reply first: shutting down stops this very server.
        threading.Thread(target=on_shutdown, name="sandbox-shutdown", daemon=True).start()

    def _clock_call(self, raw: bytes) -> None:
        try:
            body = json.loads(raw.decode() or "{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            answer = self.server.source.clock_call(body)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            self._reply(400, {"error": str(exc)})
            return
        except Exception as exc:  # report, never drop the caller's connection unanswered
            log.exception("control API clock call failed")
            self._reply(500, {"error": str(exc)})
            return
        self._reply(200, answer)

    def do_PUT(self) -> None:
        self._other_method()

    def do_DELETE(self) -> None:
        self._other_method()

    def do_HEAD(self) -> None:
        self._other_method()

    def _other_method(self) -> None:
        if self._authorized():
            self.close_connection = True  # its body, if any, is not read
            self._reply(405, {"error": f"{self.command} is not allowed"})

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the terminal belongs to the TUI


class _ControlHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    source: ControlSource
    token: str
    on_shutdown: Callable[[], None] | None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr (a client that hung up, say): the
        # TUI owns the terminal, so it goes to the log instead.
        log.debug("control API request from %s failed", client_address, exc_info=True)


class ControlServer:
    def __init__(self, source: ControlSource, token: str,
                 on_shutdown: Callable[[], None] | None = None) -> None:
        if len(token) < 16:
            raise ValueError("the control token must be a long random string")
        self._server = _ControlHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.source = source
        self._server.token = token
        self._server.on_shutdown = on_shutdown
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="sandbox-control", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
