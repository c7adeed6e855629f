"""The app in a browser: textual-serve on loopback, one app process per browser tab."""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path

# textual-serve's page asks Google for a web font; nothing here may reach outside.
_REMOTE_LINK = re.compile(r"<link[^>]*https?://(?!127\.0\.0\.1|localhost)[^>]*>", re.S)


def local_templates(target: Path) -> Path:
    """textual-serve's page template with every remote <link> removed."""
    import textual_serve

    source = Path(textual_serve.__file__).parent / "templates"
    target.mkdir(parents=True, exist_ok=True)
    for page in source.glob("*.html"):
        (target / page.name).write_text(_REMOTE_LINK.sub("", page.read_text("utf-8")), "utf-8")
    return target


def serve_app(port: int, recording: str | None = None) -> None:
    """Serve the lab (or a replay of ``recording``) at http://127.0.0.1:PORT until Ctrl+C."""
    from textual_serve.server import Server

    # textual-serve starts one process per browser session with this command.
    argv = [sys.executable, "-m", "stemcell"]
    argv += ["replay", recording] if recording else []
    command = " ".join(shlex.quote(a) for a in argv)
    with tempfile.TemporaryDirectory(prefix="stemcell-serve-") as tmp:
        templates = local_templates(Path(tmp) / "templates")
        Server(command, host="127.0.0.1", port=port, title="stemcell",
               templates_path=templates).serve()
