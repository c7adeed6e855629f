"""Key pair: the student makes an ed25519 key here and imports its public half.

Recognised by name (``stemcell-<run>``) with one DescribeKeyPairs a tick; the
private key must sit in the run folder with mode 0600, where every later
command (ssh -i) and stemcell's own checks look for it.
"""

from __future__ import annotations

from pathlib import Path

from stemcell.engine.context import Context
from stemcell.engine.run_folder import RunFolder
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.task_base import TaskBase, adopt, q, waiting


def key_path(ctx: Context) -> Path:
    return RunFolder(ctx.run_dir).key


class Task(TaskBase):
    def brief(self, ctx: Context) -> Brief:
        name = f"stemcell-{ctx.run_id}"
        path = key_path(ctx)
        return Brief(
            goal=f"Make an ed25519 key pair on your machine and import its public half "
                 f"into EC2 as {name}; the private half never leaves {path.parent}.",
            commands=[
                f"mkdir -p -m 700 {q(path.parent)}",
                f"ssh-keygen -q -t ed25519 -N '' -C {q(name)} -f {q(path)}",
                f"aws ec2 import-key-pair --key-name {q(name)} "
                f"--public-key-material fileb://{q(str(path) + '.pub')}",
            ],
            console=f"EC2 console > Key pairs > Actions > Import key pair: name it {name} "
                    f"and paste the contents of {path}.pub.",
        )

    def look(self, ctx: Context) -> Progress:
        name = f"stemcell-{ctx.run_id}"
        pairs = ctx.cloud.ec2.describe_key_pairs(
            Filters=[{"Name": "key-name", "Values": [name]}]).get("KeyPairs", [])
        if not pairs:
            return waiting("", f"a key pair named {name} in EC2",
                           "not imported yet (aws ec2 import-key-pair)", "key-imported")
        pair = pairs[0]
        path = key_path(ctx)
        adopt(ctx, "key_pair", pair["KeyPairId"], name, path=str(path))
        lines = [CheckLine("key-imported", f"key pair {name} is in EC2", "passed")]
        if not path.is_file():
            lines.append(CheckLine(
                "private-key-here", f"the private key is at {path}", "failed",
                "no private key there, so nobody can log in with this key pair",
                f"Make the key with ssh-keygen -f {path}, then import its .pub again "
                f"(delete the key pair first: aws ec2 delete-key-pair --key-name {name})."))
        elif path.stat().st_mode & 0o077:
            lines.append(CheckLine(
                "private-key-private", "only you can read the private key (mode 0600)",
                "failed", f"{path} is readable by others (mode "
                f"{path.stat().st_mode & 0o777:o})", f"chmod 600 {path}"))
        else:
            lines.append(CheckLine("private-key-private",
                                   "only you can read the private key (mode 0600)", "passed"))
        done = all(line.status == "passed" for line in lines)
        if done:
            ctx.put("key_name", name)
            ctx.put("key_path", str(path))
        return Progress(done=done, found=f"key pair {pair['KeyPairId']}", lines=lines)
