"""The app in a browser: textual-serve on loopback, behind a token, one app per tab.

textual-serve alone answers anyone who can reach its port, and its websocket
drives a full app for any page that opens it — including a hostile page in the
same browser (browsers let any origin open a websocket to 127.0.0.1). So
``GuardedServer`` wraps textual-serve's aiohttp app:

- every route lives under ``/<token>/`` (``secrets.token_urlsafe``): the page,
  its static files, downloads and the websocket; any request whose first path
  segment is not the token (compared in constant time) gets 403. A path rather
  than a query parameter, because textual-serve's page script appends
  ``?width=..&height=..`` to the websocket URL it is given.
- the websocket also refuses any ``Origin`` but the served one
  (``http://127.0.0.1:PORT`` or ``http://localhost:PORT``): a page from
  another origin that learnt the token still cannot open it;
- the ``Host`` header must name the loopback port (no DNS-rebinding name);
- at most ``max_sessions`` apps run at once (503 beyond);
- it binds 127.0.0.1 only, logs no request line (the path carries the token),
  and the page loads nothing from outside hosts; answers say ``no-referrer``
  (the token never travels in a Referer), may not be framed, and are not cached.

textual-serve's file downloads (``App.deliver_*``, unused by stemcell) would
break: its page script builds their URL without the token, so they get 403.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import shlex
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

log = logging.getLogger(__name__)

MAX_SESSIONS = 4
# textual-serve's page asks Google for a web font; nothing here may reach outside.
_REMOTE_LINK = re.compile(r"<link[^>]*https?://(?!127\.0\.0\.1|localhost)[^>]*>", re.S)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def local_templates(target: Path) -> Path:
    """textual-serve's page template with every remote <link> removed."""
    import textual_serve

    source = Path(textual_serve.__file__).parent / "templates"
    target.mkdir(parents=True, exist_ok=True)
    for page in source.glob("*.html"):
        (target / page.name).write_text(_REMOTE_LINK.sub("", page.read_text("utf-8")), "utf-8")
    return target


class GuardedServer(Server):
    """textual-serve's server with a token, an Origin check and a session cap."""

    def __init__(self, command: str, port: int, token: str, *, templates_path: Path,
                 max_sessions: int = MAX_SESSIONS, title: str = "stemcell") -> None:
        super().__init__(command, host="127.0.0.1", port=port, title=title,
                         templates_path=templates_path)
        if len(token) < 16:
            raise ValueError("the serve token must be a long random string")
        self.token = token
        self.max_sessions = max_sessions
        self.sessions = 0
        self.origins = frozenset({f"http://127.0.0.1:{port}", f"http://localhost:{port}"})
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})

    @property
    def url(self) -> str:
        """The one URL that opens the app (it carries the token)."""
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        prefix = f"/{self.token}"
        app.add_routes([
            web.get(prefix + "/", self.handle_index, name="index"),
            web.get(prefix + "/ws", self._websocket, name="websocket"),
            web.get(prefix + "/download/{key}", self.handle_download, name="download"),
            web.static(prefix + "/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        app.on_response_prepare.append(_private_headers)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host", "") not in self.hosts:
            return _forbidden("this server answers only on its loopback address")
        first = request.raw_path.split("?", 1)[0].lstrip("/").split("/", 1)[0]
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            return _forbidden("open the URL `stemcell serve` printed (it carries the token)")
        return await handler(request)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        if origin not in self.origins:
            return _forbidden("websocket from a foreign origin refused")
        if self.sessions >= self.max_sessions:
            return web.Response(status=503, text=f"at most {self.max_sessions} sessions at "
                                                 "once; close a tab and reload")
        self.sessions += 1
        try:
            return await self.handle_websocket(request)
        finally:
            self.sessions -= 1

    async def on_startup(self, app: web.Application) -> None:
        return None  # the CLI prints the tokened URL; textual-serve's banner would not

    def serve(self, debug: bool = False) -> None:
        """Serve until Ctrl+C (SIGINT/SIGTERM), with no access log (paths carry the token)."""
        self.debug = debug
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        web.run_app(self._make_app(), host="127.0.0.1", port=self.port, access_log=None,
                    print=lambda *args: None)


async def _private_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"


def _forbidden(reason: str) -> web.Response:
    return web.Response(status=403, text=f"403 Forbidden: {reason}\n")


def app_command(recording: str | None = None) -> str:
    """The command textual-serve starts once per browser session."""
    argv = [sys.executable, "-m", "stemcell"]
    argv += ["replay", recording] if recording else []
    return " ".join(shlex.quote(a) for a in argv)


def serve_app(port: int, recording: str | None = None, *, token: str | None = None,
              max_sessions: int = MAX_SESSIONS,
              announce: Callable[[str], None] = print) -> None:
    """Serve the lab (or a replay of ``recording``) on 127.0.0.1:PORT until Ctrl+C.

    ``announce`` receives the tokened URL once the server is set up.
    """
    with tempfile.TemporaryDirectory(prefix="stemcell-serve-") as tmp:
        server = GuardedServer(app_command(recording), port, token or new_token(),
                               templates_path=local_templates(Path(tmp) / "templates"),
                               max_sessions=max_sessions)
        announce(server.url)
        server.serve()
