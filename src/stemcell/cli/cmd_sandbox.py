"""``stemcell sandbox start|stop|status [--json]``: the background sandbox on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from stemcell import paths
from stemcell.remote.ssh_command import ssh_command
from stemcell.sandbox.info import (
    SandboxInfo,
    alive,
    info_path,
    log_path,
    pid_alive,
    read_info,
    remove_info,
)
from stemcell.sandbox.loopback_dialer import fetch_json

START_TIMEOUT = 60.0  # importing moto and binding takes a few seconds on a busy machine


@click.group()
def sandbox() -> None:
    """The embedded cloud (moto + simulated guests) as a background process."""


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _running() -> tuple[SandboxInfo | None, str]:
    """The live sandbox, or None and a note about a stale info file cleaned up."""
    info = read_info()
    if info is None:
        return None, ""
    if alive(info):
        return info, ""
    if pid_alive(info.pid):
        return None, f"note: sandbox pid {info.pid} is alive but its control API does not answer"
    remove_info(info.pid)
    return None, f"note: removed a stale sandbox info file (pid {info.pid} is gone)"


@sandbox.command()
@click.option("--speed", type=float, default=None,
              help="Modeled seconds per wall second (default: the sandbox default).")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoints as JSON.")
def start(speed: float | None, as_json: bool) -> None:
    """Start the sandbox in the background (loopback only) and print its endpoint."""
    if speed is not None and speed <= 0:
        raise click.UsageError("--speed must be positive")
    info, note = _running()
    if note:
        click.echo(note, err=True)
    if info is not None:
        other = speed is not None and speed != info.speed
        _emit(as_json, {"status": "already-running", **info.to_json()},
              f"sandbox already running (pid {info.pid}): EC2 endpoint {info.endpoint_url}, "
              f"speed {info.speed:g}x"
              + (f" (not {speed:g}x: `stemcell sandbox stop` first to change it)" if other
                 else ""))
        return
    stale = read_info()
    if stale is not None and pid_alive(stale.pid):
        click.echo("a sandbox process exists but does not answer; `stemcell sandbox stop` first",
                   err=True)
        raise SystemExit(1)
    info = _spawn(speed)
    _emit(as_json, {"status": "started", **info.to_json()},
          f"sandbox started (pid {info.pid})\n"
          f"  EC2/S3/ELBv2 endpoint: {info.endpoint_url}  (region us-east-1, any credentials)\n"
          f"  control API:           {info.control_url}\n"
          f"  speed:                 {info.speed:g}x (every figure is simulated)\n"
          f"  log:                   {info.log_file}")


def _spawn(speed: float | None) -> SandboxInfo:
    args = [sys.executable, "-m", "stemcell.sandbox.daemon"]
    if speed is not None:
        args += ["--speed", str(speed)]
    _rotate(log_path())
    log = open(log_path(), "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, env=dict(os.environ))
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            click.echo(f"the sandbox exited at start (code {proc.returncode}); "
                       f"last lines of {log_path()}:", err=True)
            click.echo(_tail(log_path()), err=True)
            raise SystemExit(1)
        info = read_info()
        if info is not None and info.pid == proc.pid and alive(info):
            return info
        time.sleep(0.1)
    proc.terminate()
    click.echo(f"the sandbox did not answer within {START_TIMEOUT:g} s; see {log_path()}",
               err=True)
    raise SystemExit(1)


def _rotate(path: Path, limit: int = 1_000_000) -> None:
    # One previous log is kept; a sandbox started daily must not grow it forever.
    try:
        if path.stat().st_size > limit:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def _tail(path: Any, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def stop(as_json: bool) -> None:
    """Stop the background sandbox and its guests."""
    info = read_info()
    if info is None:
        _emit(as_json, {"status": "not-running"}, "no sandbox running")
        return
    if not pid_alive(info.pid):
        remove_info(info.pid)
        _emit(as_json, {"status": "stale", "pid": info.pid},
              f"no sandbox running (removed a stale info file for pid {info.pid})")
        return
    try:
        fetch_json(info.control_url + "/shutdown", method="POST")
    except (OSError, ValueError):
        # Not answering: the pid is the one it wrote about itself.
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(info.pid):
        os.kill(info.pid, signal.SIGTERM)
        time.sleep(1)
    remove_info(info.pid)
    _emit(as_json, {"status": "stopped", "pid": info.pid}, f"sandbox stopped (pid {info.pid})")


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Print the EC2 endpoint, speed, uptime and where to dial each guest. Exit 1 if not running."""
    info, note = _running()
    if info is None:
        if note:
            click.echo(note, err=True)
        _emit(as_json, {"running": False},
              "no sandbox running (start one with `stemcell sandbox start`)")
        raise SystemExit(1)
    try:
        health = fetch_json(info.control_url + "/health")
        guests: dict[str, dict[str, Any]] = fetch_json(info.control_url + "/guests") or {}
    except (OSError, ValueError) as exc:  # it went away between the two looks
        click.echo(f"the sandbox (pid {info.pid}) stopped answering: {exc}", err=True)
        raise SystemExit(1) from None
    data = {"running": True, **info.to_json(), "uptime": health.get("uptime", 0.0),
            "guests": guests}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"sandbox running (pid {info.pid}), up {_duration(float(data['uptime']))}")
    click.echo(f"  EC2/S3/ELBv2 endpoint: {info.endpoint_url}  (region us-east-1, any credentials)")
    click.echo(f"  speed: {info.speed:g}x modeled time (every figure is simulated)")
    if not guests:
        click.echo("  no instances")
        return
    click.echo(f"  {len(guests)} instance(s):")
    for iid, guest in sorted(guests.items()):
        ssh_host, ssh_port = guest["ssh"]
        http_host, http_port = guest["http"]
        name = guest.get("tags", {}).get("Name", "")
        key, pinned = _key_file(guest)
        click.echo(f"  {iid} {name} [{guest.get('state', '?')}, guest {guest.get('phase', '?')}]"
                   f" public {guest.get('public_ip') or '-'} private {guest.get('private_ip')}")
        click.echo(f"      {ssh_command(ssh_host, ssh_port, key, pinned)}")
        click.echo(f"      http://{http_host}:{http_port}/")


def _key_file(guest: dict[str, Any]) -> tuple[str, Path | None]:
    """The private key a run saved for this instance (else a placeholder named for its key
    pair), and the run's known_hosts if it has pinned host keys."""
    run_id = guest.get("tags", {}).get("stemcell:run", "")
    if run_id and "/" not in run_id:
        folder = paths.run_dir(run_id) / "ssh"
        saved = folder / "id_ed25519"
        if saved.is_file():
            pinned = folder / "known_hosts"
            return str(saved), (pinned if pinned.is_file() else None)
    return f"{guest.get('key_name') or 'KEY'}.pem", None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


__all__ = ["info_path", "sandbox"]
