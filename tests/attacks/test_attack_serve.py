"""A web page in the same browser (or another local user) goes for `stemcell serve`.

The server wraps textual-serve (``tui/serve.GuardedServer``): token on every
route, Origin check on the websocket, a session cap, loopback only. The
in-process tests drive it with a cheap stand-in app; the browser test runs the
real ``stemcell serve`` in Debian's headless Chromium.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from stemcell.tui.serve import GuardedServer, local_templates, new_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Stays up until textual-serve's "quit" meta packet arrives on its stdin.
STAND_IN = f"{sys.executable} -c \"import sys; sys.stdin.buffer.read(1)\""
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, server: GuardedServer) -> None:
        self.server = server
        self.port = server.port
        self.token = server.token
        self.origin = f"http://127.0.0.1:{server.port}"

    def ws(self, token: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/{token or self.token}/ws?width=80&height=24"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    server = GuardedServer(STAND_IN, free_port(), new_token(), max_sessions=2,
                           templates_path=local_templates(tmp_path / "templates"))
    runner = web.AppRunner(await server._make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", server.port)
    await site.start()
    try:
        yield Served(server)
    finally:
        # Let closed sessions finish stopping their app processes first.
        deadline = time.monotonic() + 30
        while server.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await runner.cleanup()


async def _get(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_every_request_without_the_token_is_403(served: Served) -> None:
    base = served.origin
    for path in ("/", "/ws", "/static/js/textual.js", "/download/x", f"/{served.token}x/",
                 f"/{served.token[:-1]}/", f"/{served.token.upper()}/static/css/xterm.css",
                 f"/x/{served.token}/", "/favicon.ico"):
        status, body = await _get(base + path)
        assert status == 403, path
        assert served.token not in body
    async with aiohttp.ClientSession() as http, http.get(f"{base}/{served.token}/") as answer:
        status, page = answer.status, await answer.text()
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert status == 200 and "textual" in page.lower()
    # The page's websocket and static URLs carry the token; nothing points outside.
    assert f"ws://127.0.0.1:{served.port}/{served.token}/ws" in page
    assert f"/{served.token}/static/" in page and "googleapis" not in page
    assert (await _get(f"{base}/{served.token}/static/js/textual.js"))[0] == 200


async def test_a_foreign_host_name_is_refused(served: Served) -> None:
    # DNS rebinding: a hostile name resolving to 127.0.0.1 still sends its own Host.
    status, _ = await _get(f"{served.origin}/{served.token}/", Host="evil.example:80")
    assert status == 403


async def test_the_websocket_wants_the_token_and_the_served_origin(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for url, origin in ((served.ws("not-the-token-at-all-000"), served.origin),
                            (served.ws(), "http://127.0.0.1:1"),
                            (served.ws(), "http://evil.example"),
                            (served.ws(), f"http://localhost.evil.example:{served.port}"),
                            (served.ws(), "null")):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, headers={"Origin": origin})
            assert refused.value.status == 403, (url, origin)
        with pytest.raises(aiohttp.WSServerHandshakeError) as no_origin:
            await http.ws_connect(served.ws())
        assert no_origin.value.status == 403
        for origin in (served.origin, f"http://localhost:{served.port}"):
            ws = await http.ws_connect(served.ws(), headers={"Origin": origin})
            assert not ws.closed
            await ws.close()


async def test_sessions_beyond_the_cap_get_503_until_one_closes(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(served.ws(), headers={"Origin": served.origin})
        second = await http.ws_connect(served.ws(), headers={"Origin": served.origin})
        with pytest.raises(aiohttp.WSServerHandshakeError) as full:
            await http.ws_connect(served.ws(), headers={"Origin": served.origin})
        assert full.value.status == 503
        await first.close()
        deadline = time.monotonic() + 30
        while served.server.sessions >= 2:
            assert time.monotonic() < deadline, "the closed session was never released"
            await asyncio.sleep(0.05)
        third = await http.ws_connect(served.ws(), headers={"Origin": served.origin})
        await third.close()
        await second.close()


# -- the real thing, in a real browser ---------------------------------------------------

@pytest.fixture
def stemcell_serve(_isolated: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, STEMCELL_HOME=str(_isolated)))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("open http://127.0.0.1:"), line
        url = line.split()[1]
        deadline = time.monotonic() + 60
        while True:
            try:
                with NO_PROXY.open(url, timeout=5) as response:
                    assert response.status == 200
                break
            except (OSError, urllib.error.URLError):
                assert proc.poll() is None, "stemcell serve exited"
                assert time.monotonic() < deadline, "stemcell serve did not answer"
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class _Hostile(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: object) -> None:
        return None


# Records every byte the app sends the page's terminal, so the test can read
# what xterm.js draws (its canvas holds no DOM text).
_RECORD_TERMINAL = """
(() => {
  const Original = window.WebSocket;
  window.__terminal = "";
  window.WebSocket = function (url, protocols) {
    const socket = new Original(url, protocols);
    const decoder = new TextDecoder();
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        window.__terminal += decoder.decode(new Uint8Array(event.data), {stream: true});
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Original.prototype;
})();
"""
_SCREEN_TEXT = """
(needle) => window.__terminal
  .replace(/\\x1b\\[[0-9;?:]*[ -\\/]*[@-~]/g, "")
  .replace(/\\x1b[\\]P_^][^\\x07\\x1b]*(\\x07|\\x1b\\\\)/g, "")
  .includes(needle)
"""
_TRY_WEBSOCKET = """
(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onopen = () => { socket.close(); resolve("opened"); };
  socket.onerror = () => resolve("refused");
  setTimeout(() => resolve("timeout"), 20000);
})
"""


def test_a_real_browser_runs_the_app_and_a_foreign_page_cannot(
        stemcell_serve: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; CI has it)")
    from playwright.sync_api import sync_playwright

    url, _ = stemcell_serve
    port = int(url.split(":")[2].split("/")[0])
    token = url.rstrip("/").rsplit("/", 1)[1]
    ws_url = f"ws://127.0.0.1:{port}/{token}/ws?width=80&height=24"

    hostile = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    hostile_url = f"http://127.0.0.1:{hostile.server_address[1]}/"
    _Hostile.page = b"<!doctype html><title>cat pictures</title>"
    threading.Thread(target=hostile.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_ARGS)
            try:
                page = context.new_page()
                page.add_init_script(_RECORD_TERMINAL)
                page.goto(url)
                # The start screen, drawn by the app through the websocket.
                page.wait_for_function(_SCREEN_TEXT, arg="Start the lab", timeout=180_000)
                page.wait_for_selector("body.-first-byte", timeout=30_000)
                # The same websocket from the served page opens ...
                assert page.evaluate(_TRY_WEBSOCKET, ws_url) == "opened"
                # ... and from another loopback origin, token and all, it does not.
                foreign = context.new_page()
                foreign.goto(hostile_url)
                assert foreign.evaluate(_TRY_WEBSOCKET, ws_url) == "refused"
                # Nor can that page read the app's page (no CORS): fetch fails opaque.
                leaked = foreign.evaluate(
                    "(u) => fetch(u).then(r => r.text()).catch(() => 'blocked')", url)
                assert leaked == "blocked"
                # And without the token the page itself is refused.
                status = page.evaluate(
                    "(u) => fetch(u).then(r => r.status)", f"http://127.0.0.1:{port}/")
                assert status == 403
            finally:
                context.close()
    finally:
        hostile.shutdown()
        hostile.server_close()
