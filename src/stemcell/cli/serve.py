"""``stemcell serve``: the same app in a browser (textual-serve), on loopback only."""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path

import click

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


@click.command()
@click.option("--port", type=click.IntRange(1024, 65535), default=8000, show_default=True)
@click.option("--replay", "recording", type=click.Path(exists=True, dir_okay=False),
              help="Serve a replay of this recording instead of the lab.")
def serve(port: int, recording: str | None) -> None:
    """Serve the app at http://127.0.0.1:PORT (each browser tab runs its own app)."""
    from textual_serve.server import Server

    # textual-serve starts one process per browser session with this command.
    argv = [sys.executable, "-m", "stemcell"]
    argv += ["replay", recording] if recording else []
    command = " ".join(shlex.quote(a) for a in argv)
    click.echo(f"serving on http://127.0.0.1:{port}  (Ctrl+C stops)", err=True)
    with tempfile.TemporaryDirectory(prefix="stemcell-serve-") as tmp:
        templates = local_templates(Path(tmp) / "templates")
        Server(command, host="127.0.0.1", port=port, title="stemcell",
               templates_path=templates).serve()
