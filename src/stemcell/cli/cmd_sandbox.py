"""``stemcell sandbox start|stop|status [--json]|env``: the background sandbox on loopback.

The sandbox is an account of its own: its credentials live in its 0600 info
file, its API checks SigV4 against them and its control API wants its token.
``env`` prints them as ``export`` lines for ``eval "$(stemcell sandbox env)"``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from stemcell import paths
from stemcell.engine.errors import StemcellError
from stemcell.remote.ssh_command import ssh_command
from stemcell.sandbox.credentials import aws_env
from stemcell.sandbox.info import (
    SandboxInfo,
    UnsafeInfoFile,
    alive,
    info_path,
    log_path,
    pid_alive,
    read_info,
    remove_info,
)
from stemcell.sandbox.loopback_dialer import fetch_json

START_TIMEOUT = 60.0  # importing moto and binding takes a few seconds on a busy machine
REGION = "us-east-1"


def _read() -> SandboxInfo | None:
    """The info file, or exit 2 when it is not safely the user's own."""
    try:
        return read_info()
    except UnsafeInfoFile as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        raise SystemExit(2) from None


@click.group()
def sandbox() -> None:
    """The embedded cloud (moto + simulated guests) as a background process."""


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _running() -> tuple[SandboxInfo | None, str]:
    """The live sandbox, or None and a note about a stale info file cleaned up."""
    info = _read()
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
@click.option("--faults", default="", metavar="SPEC",
              help="Inject AWS-like faults, e.g. throttle=0.3,capacity=1,seed=7 "
              "(docs/sandbox.md lists them).")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoints as JSON.")
def start(speed: float | None, faults: str, as_json: bool) -> None:
    """Start the sandbox in the background (loopback only) and print its endpoint."""
    from stemcell.sandbox.faults import FaultSpec, FaultSpecError

    if speed is not None and speed <= 0:
        raise click.UsageError("--speed must be positive")
    try:
        spec = FaultSpec.parse(faults)
    except FaultSpecError as exc:
        click.echo(f"error: --faults: {exc}", err=True)
        raise SystemExit(2) from None
    info, note = _running()
    if note:
        click.echo(note, err=True)
    if info is not None:
        other = speed is not None and speed != info.speed
        if faults and spec.render() != FaultSpec.parse(info.faults).render():
            click.echo(f"error: the running sandbox (pid {info.pid}) has faults "
                       f"{info.faults or 'none'!r}, not {spec.render()!r}: "
                       "`stemcell sandbox stop` first", err=True)
            raise SystemExit(2)
        _emit(as_json, {"status": "already-running", **info.to_json()},
              f"sandbox already running (pid {info.pid}): EC2 endpoint {info.endpoint_url}, "
              f"speed {info.speed:g}x"
              + (f" (not {speed:g}x: `stemcell sandbox stop` first to change it)" if other
                 else ""))
        return
    stale = _read()
    if stale is not None and pid_alive(stale.pid):
        click.echo("a sandbox process exists but does not answer; `stemcell sandbox stop` first",
                   err=True)
        raise SystemExit(1)
    info = _spawn(speed, spec.render())
    _emit(as_json, {"status": "started", **info.to_json()},
          f"sandbox started (pid {info.pid})\n"
          f"  EC2/S3/ELBv2 endpoint: {info.endpoint_url}  (region {REGION}, its own "
          "credentials: eval \"$(stemcell sandbox env)\")\n"
          f"  control API:           {info.control_url}  (bearer token in {info_path()})\n"
          f"  speed:                 {info.speed:g}x (every figure is simulated)\n"
          + (f"  faults:                {info.faults}\n" if info.faults else "")
          + f"  log:                   {info.log_file}")


def _spawn(speed: float | None, faults: str = "") -> SandboxInfo:
    args = [sys.executable, "-m", "stemcell.sandbox.daemon"]
    if speed is not None:
        args += ["--speed", str(speed)]
    if faults:
        args += ["--faults", faults]
    _rotate(log_path())
    log = open(log_path(), "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, env=_daemon_env())
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            click.echo(f"the sandbox exited at start (code {proc.returncode}); "
                       f"last lines of {log_path()}:", err=True)
            click.echo(_tail(log_path()), err=True)
            raise SystemExit(1)
        info = _read()
        if info is not None and info.pid == proc.pid and alive(info):
            return info
        time.sleep(0.1)
    proc.terminate()
    click.echo(f"the sandbox did not answer within {START_TIMEOUT:g} s; see {log_path()}",
               err=True)
    raise SystemExit(1)


def _daemon_env() -> dict[str, str]:
    """The daemon's environment: the user's, minus every AWS_* variable.

    The sandbox is an account of its own; the user's real keys, tokens and
    profiles have no business in a process that runs students' code.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _rotate(path: Path, limit: int = 1_000_000) -> None:
    # One previous log is kept; a sandbox started daily must not grow it forever.
    try:
        if path.stat().st_size > limit:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def _tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def stop(as_json: bool) -> None:
    """Stop the background sandbox and its guests."""
    info = _read()
    if info is None:
        _emit(as_json, {"status": "not-running"}, "no sandbox running")
        return
    if not pid_alive(info.pid):
        remove_info(info.pid)
        _emit(as_json, {"status": "stale", "pid": info.pid},
              f"no sandbox running (removed a stale info file for pid {info.pid})")
        return
    try:
        fetch_json(info.control_url + "/shutdown", info.control_token, method="POST")
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
        health = fetch_json(info.control_url + "/health", info.control_token)
        guests: dict[str, dict[str, Any]] = fetch_json(info.control_url + "/guests",
                                                       info.control_token) or {}
    except (OSError, ValueError) as exc:  # it went away between the two looks
        click.echo(f"the sandbox (pid {info.pid}) stopped answering: {exc}", err=True)
        raise SystemExit(1) from None
    data = {"running": True, **info.to_json(), "uptime": health.get("uptime", 0.0),
            "guests": guests}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"sandbox running (pid {info.pid}), up {_duration(float(data['uptime']))}")
    click.echo(f"  EC2/S3/ELBv2 endpoint: {info.endpoint_url}  (region {REGION}; "
               "credentials: eval \"$(stemcell sandbox env)\")")
    click.echo(f"  speed: {info.speed:g}x modeled time (every figure is simulated)")
    injected = (health.get("faults") or {}).get("injected") or {}
    so_far = ", ".join(f"{k} {v}" for k, v in sorted(injected.items()))
    click.echo(f"  faults: {info.faults or 'none'}"
               + (f" (injected so far: {so_far})" if injected else ""))
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
        login = ssh_command(ssh_host, ssh_port, key, pinned,
                            host_key_alias=iid if pinned else None)
        click.echo(f"      {login}")
        click.echo(f"      http://{http_host}:{http_port}/")


@sandbox.command()
def env() -> None:
    """Print `export` lines that point the AWS CLI, boto3 and Terraform at the sandbox.

    Use as: eval "$(stemcell sandbox env)". Exit 2 when no background sandbox runs.
    """
    info, note = _running()
    if note:
        click.echo(note, err=True)
    if info is None or info.credentials is None:
        click.echo("error: no background sandbox is running; start one with "
                   "`stemcell sandbox start`, then eval \"$(stemcell sandbox env)\"", err=True)
        raise SystemExit(2)
    # A session token or profile left in the shell would be sent along with the
    # sandbox's key (and refused, as AWS refuses a token that is not the key's).
    click.echo("unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE")
    for name, value in aws_env(info.endpoint_url, info.credentials, REGION).items():
        click.echo(f"export {name}={shlex.quote(value)}")


def _key_file(guest: dict[str, Any]) -> tuple[str, Path | None]:
    """The private key a run saved for this instance (else a placeholder named for its key
    pair), and the run's known_hosts if it has pinned host keys."""
    run_id = guest.get("tags", {}).get("stemcell:run", "")
    try:  # a tag is whatever a caller wrote: only a valid run id names a folder
        folder = paths.run_folder(run_id) if run_id else None
    except StemcellError:
        folder = None
    if folder is not None:
        saved = folder.key
        if saved.is_file():
            pinned = folder.known_hosts
            return str(saved), (pinned if pinned.is_file() else None)
    return f"{guest.get('key_name') or 'KEY'}.pem", None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


__all__ = ["info_path", "sandbox"]
