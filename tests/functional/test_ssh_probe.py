"""The HTTP probe against a loopback server: status and body, or a ProbeError."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stemcell.remote.http_probe import ProbeError, get, try_get


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"worker: ready\n" if self.path == "/worker/status" else b"nope"
        self.send_response(200 if self.path == "/worker/status" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def test_status_and_body_then_errors() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    assert get(str(host), port, "/worker/status") == (200, "worker: ready\n")
    assert get(str(host), port, "/missing")[0] == 404
    server.shutdown()
    server.server_close()
    with pytest.raises(ProbeError, match=r"GET http://127\.0\.0\.1"):
        get("127.0.0.1", port, "/", timeout=1)
    assert try_get("127.0.0.1", port, "/", timeout=1) is None


def test_silent_server_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts (kernel backlog) but never answers
    port = listener.getsockname()[1]
    with pytest.raises(ProbeError):
        get("127.0.0.1", port, "/", timeout=0.3)
    listener.close()
