"""The guest's HTTP server: real HTTP/1.1 on its loopback port, answered by web.py."""

from __future__ import annotations

import http.server
import socket
from collections.abc import Callable
from typing import Any

from stemcell.sandbox.machine.web import WebServer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    web: WebServer
    alive: Callable[[], bool]
    guest_port = 80

    def version_string(self) -> str:
        return self.web.banner()

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are logged to the guest's access.log, never to our terminal.
        pass

    def _serve(self) -> None:
        if not self.alive():
            self.close_connection = True
            return
        with self.web.system.clock.busy():  # answering is host work
            self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        resp = self.web.handle(self.command, self.path, dict(self.headers.items()), body,
                               client=self.client_address[0], port=self.guest_port)
        self.send_response_only(resp.status, resp.reason or None)
        has_len = False
        for k, v in resp.headers:
            if k.lower() == "content-length":
                has_len = True
            self.send_header(k, v)
        if not has_len:
            self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if resp.body:
            self.wfile.write(resp.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _serve


def serve_connection(conn: socket.socket, web: WebServer, alive: Callable[[], bool],
                     port: int = 80) -> None:
    handler = type("GuestHandler", (_Handler,), {"web": web, "alive": staticmethod(alive),
                                                 "guest_port": port})
    conn.settimeout(30)
    try:
        handler(conn, conn.getpeername(), None)
    except (OSError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
