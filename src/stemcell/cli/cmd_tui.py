"""``stemcell`` with no subcommand: the terminal app (start screen, lab, replay)."""

from __future__ import annotations

from stemcell.engine.context import RunConfig


def open_app(lab: str | None = None, profile: str | None = None, backend: str | None = None,
             region: str | None = None, aws_profile: str | None = None,
             speed: float | None = None, faults: str = "") -> None:
    """Open the app with the start screen pre-filled from the options given."""
    if faults:
        import click

        from stemcell.sandbox.faults import FaultSpec, FaultSpecError

        try:
            FaultSpec.parse(faults)
        except FaultSpecError as exc:
            click.echo(f"error: --faults: {exc}", err=True)
            raise SystemExit(2) from None
    # Imported here so `stemcell --help` and the subcommands never pay for Textual.
    from stemcell.tui.launch import open_app as launch

    config = RunConfig()
    if lab:
        config.lab = lab
    if profile:
        config.profile = profile
    if backend:
        config.backend = backend
    if region:
        config.region = region
    config.aws_profile = aws_profile
    config.speed = speed
    config.faults = faults
    launch(config)
