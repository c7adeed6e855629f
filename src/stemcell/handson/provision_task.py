"""Install the stack on the builder over SSH: the profile's bake script, run by the student.

stemcell writes the bake script into the run folder; the student pipes it to
``sudo bash -s`` over ssh. The step is verified by its checks (Apache installed,
enabled, running, port 80, the stem cell marker), run over SSH on the builder.
"""

from __future__ import annotations

from typing import Any

from stemcell.engine.context import Context
from stemcell.engine.run_folder import write_private
from stemcell.engine.student_desk import Brief, Progress
from stemcell.handson.task_base import (
    TaskBase,
    all_passed,
    files_dir,
    host_of,
    q,
    ssh_words,
    waiting,
)


class Task(TaskBase):
    script_name = "bake.sh"

    def script(self, ctx: Context) -> str:
        return str(ctx.profile.bake_script)

    def run_as(self) -> str:
        return "sudo bash -s"

    def goal(self, ctx: Context) -> str:
        return ("Install the common stack on the builder over SSH: wait for its first boot "
                "to finish, then run the profile's bake script as root.")

    def brief(self, ctx: Context) -> Brief:
        builder = ctx.need("builder")
        path = files_dir(ctx) / self.script_name
        write_private(path, self.script(ctx))
        ssh = ssh_words(ctx, builder["id"], builder["public_ip"], builder["private_ip"])
        return Brief(
            goal=self.goal(ctx),
            commands=[f"{ssh} cloud-init status --wait",
                      f"{ssh} {q(self.run_as())} < {q(path)}"],
            console="No console way: SSH is the way in (EC2 Instance Connect works too, "
                    f"then paste {path}).",
            notes=["The first ssh trusts the server's host key on first use: compare it with "
                   "the fingerprints in `aws ec2 get-console-output --instance-id "
                   f"{builder['id']}`."],
        )

    def look(self, ctx: Context) -> Progress:
        builder = ctx.need("builder")
        iid = builder["id"]
        if not self.due(ctx):
            return Progress(done=False, found=f"builder {iid}", lines=self._last_lines)
        lines = self.check_host(ctx, host_of(ctx, iid, "builder"), extra=self.extra(ctx))
        self._last_lines = lines
        if not lines:
            return waiting(f"builder {iid}", "the step's checks", "this step has no checks")
        return Progress(done=all_passed(lines), found=f"builder {iid}", lines=lines)

    def extra(self, ctx: Context) -> list[Any]:
        return []
