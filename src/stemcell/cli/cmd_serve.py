"""``stemcell serve``: the same app in a browser (textual-serve), on loopback, behind a token."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=click.IntRange(1024, 65535), default=8000, show_default=True)
@click.option("--replay", "recording", type=click.Path(exists=True, dir_okay=False),
              help="Serve a replay of this recording instead of the lab.")
@click.option("--max-sessions", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Browser tabs that may run the app at once (each runs its own app).")
def serve(port: int, recording: str | None, max_sessions: int) -> None:
    """Serve the app on http://127.0.0.1:PORT behind a printed one-time token.

    Only the printed URL opens it: every request without its token gets 403, and
    the app's websocket accepts only pages served from that same address.
    """
    from stemcell.tui.serve import serve_app

    def announce(url: str) -> None:
        # The URL is the key: printed for the user who started it, logged nowhere.
        click.echo(f"open {url}")
        click.echo(f"(loopback only; at most {max_sessions} sessions; Ctrl+C stops)", err=True)

    serve_app(port, recording, max_sessions=max_sessions, announce=announce)
