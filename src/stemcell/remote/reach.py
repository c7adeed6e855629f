"""Opening SSH to one of the run's instances, the same way for every step.

Addresses come from ``ctx.dialer`` (public IP on AWS, loopback ports in the
sandbox); marks go to the instance's timeline.

Host keys are *verified*: before trusting an instance's key the first time, the
console is polled (``GetConsoleOutput`` with ``Latest=True``) for cloud-init's
fingerprint block, for up to ``CONSOLE_WAIT`` modeled seconds. Only when it never
shows is the key pinned on first use, and that is said (a warning log line, and
the run's ``host_keys.pinned_on_first_use`` counter). A pinned instance is
re-checked against the console on each later connection. Keys are pinned under
the instance id, not the address: public IPs are reused within a run.
"""

from __future__ import annotations

import threading
from pathlib import Path

from stemcell.engine.context import Context
from stemcell.engine.events import SshOutput
from stemcell.engine.redact import StreamRedactor
from stemcell.engine.run_folder import RunFolder
from stemcell.remote.dialer import Target
from stemcell.remote.host_keys import PINNED, VERIFIED, console_text, parse_fingerprints
from stemcell.remote.ssh_client import OnLine, SshClient, connect

SSH_DEADLINE = 900.0
# Modeled seconds to wait for cloud-init's fingerprint block: longer than a buffered
# console's refresh (instance types without Latest=True, e.g. t2, post their console
# output at intervals of minutes: the sandbox models 300 s), so a key is not pinned
# on first use just because the console had not been posted yet.
CONSOLE_WAIT = 360.0
HOST_KEYS = "host_keys"  # the bag's {instance id: "verified" | "pinned"}


def stream_to(ctx: Context, instance_id: str) -> OnLine:
    """A line callback that streams a command's output as the instance's SshOutput events.

    Redacted at the source, with memory across lines (a key printed line by line
    is one secret), so no subscriber ever holds a secret.
    """
    redactor = StreamRedactor()

    def on_line(line: str, stream: str) -> None:
        clean = redactor.line((instance_id, stream), line)
        ctx.emit(SshOutput(instance_id=instance_id, line=clean, stream=stream))
    return on_line


def _console_fingerprints(ctx: Context, instance_id: str, wait: float) -> dict[str, str]:
    """Poll the console (modeled seconds, backing off) until it shows the fingerprints."""
    until = ctx.clock.now() + wait
    delay = 2.0
    while True:
        ctx.check_cancel()
        found = parse_fingerprints(console_text(ctx.cloud.ec2, instance_id))
        if found or ctx.clock.now() >= until:
            return found
        ctx.sleep(min(delay, max(0.05, until - ctx.clock.now())))
        delay = min(15.0, delay * 1.5)


def _record_trust(ctx: Context, instance_id: str, how: str) -> None:
    status = {VERIFIED: "verified", PINNED: "pinned"}.get(how)
    if status is None:
        return
    with ctx.store.lock:
        seen = dict(ctx.get(HOST_KEYS) or {})
        if seen.get(instance_id) == status:
            return
        seen[instance_id] = status
        ctx.put(HOST_KEYS, seen)
    if status == "pinned":
        ctx.log(f"{instance_id}: its console never showed the host key fingerprints within "
                f"{CONSOLE_WAIT:.0f} s; the key was pinned on first use (not verified)",
                "warning")


def known_hosts(ctx: Context) -> Path:
    return RunFolder(ctx.run_dir).known_hosts


def ssh_to(ctx: Context, instance_id: str, public_ip: str = "", private_ip: str = "",
           deadline: float = SSH_DEADLINE, cancel: threading.Event | None = None) -> SshClient:
    target = Target(instance_id=instance_id, public_ip=public_ip, private_ip=private_ip)
    address = ctx.require_dialer().ssh_address(target)

    trusted = (ctx.get(HOST_KEYS) or {}).get(instance_id)

    def fingerprints() -> dict[str, str]:
        if trusted == "verified":  # its pin was checked against the console already
            return {}
        # A first contact waits for the console; a pinned-on-first-use instance is
        # re-checked with one look (the console may show the keys by now).
        return _console_fingerprints(ctx, instance_id, 0.0 if trusted else CONSOLE_WAIT)

    client = connect(
        address,
        key_path=Path(ctx.need("key_path")),
        known_hosts=known_hosts(ctx),
        clock=ctx.clock,
        cancel=ctx.cancel if cancel is None else cancel,
        deadline=deadline,
        on_mark=lambda mark: ctx.mark(instance_id, mark),
        fingerprints=fingerprints,
        label=instance_id,
        log=ctx.log,
        pin_as=instance_id,
    )
    _record_trust(ctx, instance_id, client.trusted)
    return client
