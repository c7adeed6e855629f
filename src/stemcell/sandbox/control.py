"""The sandbox's control API: where guests are and what time it is.

A tiny JSON server on 127.0.0.1 (stdlib, one thread per request):

- ``GET /health``   -> {"ok": true, "pid", "account_id", "endpoint_url", "speed", "uptime", ...}
- ``GET /clock``    -> {"speed", "wall_epoch", "epoch"}: rebuild the same ScaledClock
- ``GET /guests``   -> {instance_id: {"public_ip", "private_ip", "ssh": [host, port],
                        "http": [host, port], "phase", "state", "image_id", "key_name", "tags"}}
- ``POST /shutdown`` -> {"ok": true}: only a background daemon accepts it (else 403)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ControlSource(Protocol):
    def health(self) -> dict[str, Any]: ...

    def clock_info(self) -> dict[str, float]: ...

    def guests(self) -> dict[str, dict[str, Any]]: ...


class _Handler(BaseHTTPRequestHandler):
    server: _ControlHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
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
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
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

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the terminal belongs to the TUI


class _ControlHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    source: ControlSource
    on_shutdown: Callable[[], None] | None


class ControlServer:
    def __init__(self, source: ControlSource,
                 on_shutdown: Callable[[], None] | None = None) -> None:
        self._server = _ControlHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.source = source
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
