"""``stemcell serve``: the same app in a browser (textual-serve), on loopback only."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=click.IntRange(1024, 65535), default=8000, show_default=True)
@click.option("--replay", "recording", type=click.Path(exists=True, dir_okay=False),
              help="Serve a replay of this recording instead of the lab.")
def serve(port: int, recording: str | None) -> None:
    """Serve the app at http://127.0.0.1:PORT (each browser tab runs its own app)."""
    from stemcell.tui.serve import serve_app

    click.echo(f"serving on http://127.0.0.1:{port}  (Ctrl+C stops)", err=True)
    serve_app(port, recording)
