"""Let the TAs in: their public keys go into the image, so every server has them."""

from __future__ import annotations

import re
import shlex

from stemcell.content.models import TaAccessParams
from stemcell.engine.context import Context
from stemcell.engine.errors import ConfigError, SkipStep, StepFailed
from stemcell.engine.step import BaseStep
from stemcell.remote.reach import ssh_to, stream_to

_PUBKEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|"
                     r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
                     r" [A-Za-z0-9+/]+=*( [^\r\n]*)?$")


def ta_keys(ctx: Context, params: TaAccessParams) -> list[str]:
    keys: list[str] = []
    for key in [*ctx.lab.ta_keys, *params.keys, *ctx.config.ta_keys]:
        key = key.strip()
        if not _PUBKEY.match(key):
            raise ConfigError(f"not an OpenSSH public key: {key[:40]!r}...",
                              hint="TA keys look like 'ssh-ed25519 AAAA... name'.")
        if key not in keys:
            keys.append(key)
    return keys


def append_script(keys: list[str]) -> str:
    """Idempotent: each key is added once, whatever how many times this runs."""
    lines = ["set -e", "umask 077", "mkdir -p ~/.ssh", "touch ~/.ssh/authorized_keys"]
    for key in keys:
        quoted = shlex.quote(key)
        lines.append(f"grep -qxF {quoted} ~/.ssh/authorized_keys || "
                     f"echo {quoted} >> ~/.ssh/authorized_keys")
    lines += ["chmod 700 ~/.ssh", "chmod 600 ~/.ssh/authorized_keys",
              "echo \"$(wc -l < ~/.ssh/authorized_keys) authorized keys\""]
    return "\n".join(lines) + "\n"


class GrantTaAccessStep(BaseStep):
    def run(self, ctx: Context) -> None:
        keys = ta_keys(ctx, self.spec.typed_params(TaAccessParams))
        if not keys:
            raise SkipStep("no TA keys configured (lab ta_keys, step params or --ta-key)")
        builder = ctx.need("builder")
        iid = builder["id"]
        with ssh_to(ctx, iid, builder["public_ip"], builder["private_ip"]) as ssh:
            # Runs as ubuntu (no sudo): ~ is /home/ubuntu, files stay ubuntu's own.
            status, last = ssh.exec("bash -s", stream_to(ctx, iid), stdin=append_script(keys))
        if status != 0:
            raise StepFailed(f"could not add the TA keys on {iid} (exit {status}): "
                             + " | ".join(last[-3:]))
        ctx.log(f"{len(keys)} TA key(s) in /home/ubuntu/.ssh/authorized_keys on {iid}")

    def cleanup(self, ctx: Context) -> None:
        return None
