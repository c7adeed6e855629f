"""Open the terminal app for a run configuration and turn its outcome into an exit code."""

from __future__ import annotations

from stemcell.engine.context import RunConfig


def open_app(config: RunConfig) -> None:
    """Run the app (start screen pre-filled from ``config``) until the student quits."""
    from stemcell.tui.app import StemcellApp

    app = StemcellApp(config)
    app.run()
    if app.return_code not in (None, 0):
        raise SystemExit(app.return_code)
