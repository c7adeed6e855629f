"""Launch the role servers by hand: setup #2 from the stem cell image, setup #1 from Ubuntu.

stemcell writes each role's user data (its boot or install script, with a fresh
presigned URL for the role's bundle) into the run folder, mode 0600; the
student passes it with ``--user-data file://...``. An instance is recognised by
its user data (one DescribeInstances a tick, then DescribeInstanceAttribute
once per new instance): that names the role, whatever image it came from.

An instance from the wrong image (setup #2 launched from plain Ubuntu is the
classic one) is adopted too, so cleanup takes it, but it does not count: the
step stays open with the image check's hint until one from the right image
runs. The right ones are watched from the moment they run (the measure step's
watchers) and checked over SSH once their boot has finished.
"""

from __future__ import annotations

import base64
from typing import Any

from stemcell.cloud.run_instances import address_of
from stemcell.content.models import LaunchRolesParams, StepSpec
from stemcell.engine.context import Context
from stemcell.engine.instance_records import role_servers, set_addresses, track
from stemcell.engine.run_folder import write_private
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.instance_view import InstanceSeen, mine_elsewhere, state_of
from stemcell.handson.launch_words import candidates, run_instances_command
from stemcell.handson.task_base import (
    TaskBase,
    files_dir,
    host_of,
)
from stemcell.steps.step_launch_roles import user_data
from stemcell.steps.step_measure_boots import watch


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except ValueError:
        return value


class Task(TaskBase):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.seen = InstanceSeen()
        self.expected: dict[str, str] = {}  # role -> user data
        self.role_of: dict[str, str] = {}  # instance -> role ("" = not one of ours)
        self.told: set[str] = set()

    # --- what to type -------------------------------------------------------------------
    def setup(self) -> int:
        return self.spec.typed_params(LaunchRolesParams).setup

    def image(self, ctx: Context) -> str:
        return str(ctx.need("image_id") if self.setup() == 2 else ctx.need("base_image_id"))

    def count(self, ctx: Context) -> int:
        count = self.spec.typed_params(LaunchRolesParams).count
        return count * max(1, int(ctx.config.repeat or 1))

    def brief(self, ctx: Context) -> Brief:
        self.seen.start(ctx)
        setup, image = self.setup(), self.image(ctx)
        folder = files_dir(ctx) / "user-data"
        commands = []
        for role in self.spec.typed_params(LaunchRolesParams).roles:
            text = user_data(ctx, role, setup)
            self.expected[role] = text
            path = folder / f"setup{setup}-{role}.sh"
            write_private(path, text)
            commands.append(run_instances_command(ctx, image, f"stemcell-{role}-setup{setup}",
                                                  count=self.count(ctx),
                                                  user_data_path=str(path)))
        what = "your stem cell image" if setup == 2 else "the plain Ubuntu image"
        return Brief(
            goal=f"Setup #{setup}: launch each role ({', '.join(self.expected)}) from {what} "
                 f"{image}, each with its own user data file from {folder}.",
            commands=commands,
            console=f"EC2 console > Launch instance, once per role: image {image}, key pair "
                    f"{ctx.need('key_name')}, security group {ctx.need('security_group_id')}, "
                    f"Advanced details > User data: the role's file from {folder}.",
            notes=["The user data files hold presigned links to your bundles: they are "
                   "private to you (mode 0600) and expire."],
        )

    # --- what the student did -----------------------------------------------------------
    def _role(self, ctx: Context, iid: str) -> str:
        if iid not in self.role_of:
            reply = ctx.cloud.ec2.describe_instance_attribute(InstanceId=iid,
                                                              Attribute="userData")
            text = _decode(str(reply.get("UserData", {}).get("Value") or "")).strip()
            self.role_of[iid] = next((r for r, data in self.expected.items()
                                      if data.strip() == text), "")
        return self.role_of[iid]

    def look(self, ctx: Context) -> Progress:
        setup, image, count = str(self.setup()), self.image(ctx), self.count(ctx)
        by_role: dict[str, list[dict[str, Any]]] = {role: [] for role in self.expected}
        for inst in candidates(ctx):
            iid = inst["InstanceId"]
            if mine_elsewhere(ctx, iid, self.step_id):
                continue
            role = self._role(ctx, iid)
            if role:
                self.seen.adopt(ctx, inst, role=role, setup=setup,
                                name=f"stemcell-{role}-setup{setup}")
                by_role[role].append(inst)
        lines: list[CheckLine] = []
        ready: dict[str, list[dict[str, Any]]] = {}
        for role, insts in by_role.items():
            right = [i for i in insts if i.get("ImageId") == image][:count]
            wrong = [i for i in insts if i.get("ImageId") != image]
            if len(right) < count:
                lines += self._not_yet(ctx, role, right, wrong, image, count)
                continue
            pending = [i["InstanceId"] for i in right if state_of(i) != "running"]
            if pending:
                lines.append(CheckLine(f"{role}:running", f"{role}: running", "waiting",
                                       f"{', '.join(pending)} still pending"))
                continue
            ready[role] = right
            for inst in wrong:
                self._tell_wrong(ctx, inst)
        self._remember(ctx, ready, setup, image)
        lines += self._check(ctx, ready, image)
        done = len(ready) == len(self.expected) and all(ln.status == "passed" for ln in lines)
        found = ", ".join(f"{r} {i['InstanceId']}" for r, insts in by_role.items()
                          for i in insts)
        return Progress(done=done, found=found, lines=lines)

    def _not_yet(self, ctx: Context, role: str, right: list[dict[str, Any]],
                 wrong: list[dict[str, Any]], image: str, count: int) -> list[CheckLine]:
        if not wrong:
            return [CheckLine(f"{role}:launched", f"{role}: {count} server(s) from {image} "
                              "with the role's user data", "waiting",
                              f"{len(right)} so far" if right else "none launched yet")]
        inst = wrong[0]
        iid = inst["InstanceId"]
        lines = [CheckLine(f"{role}:{ln.id}", f"{role}: {ln.description}", ln.status, ln.why,
                           ln.hint)
                 for ln in self.check_host(ctx, host_of(ctx, iid, role, ami=image),
                                           cloud_only=True)]
        if not any(ln.status == "failed" for ln in lines):
            lines.append(CheckLine(
                f"{role}:right-image", f"{role}: launched from {image}", "failed",
                f"{iid} runs from {inst.get('ImageId')}, not {image}",
                f"Launch the role again from {image} (terminate {iid}: aws ec2 "
                f"terminate-instances --instance-ids {iid})."))
        return lines

    def _tell_wrong(self, ctx: Context, inst: dict[str, Any]) -> None:
        iid = inst["InstanceId"]
        if iid not in self.told:
            self.told.add(iid)
            ctx.log(f"{iid} (from {inst.get('ImageId')}) does not count; it is the run's "
                    f"now and cleanup terminates it. To stop paying for it sooner: "
                    f"aws ec2 terminate-instances --instance-ids {iid}", "warning")

    def _remember(self, ctx: Context, ready: dict[str, list[dict[str, Any]]], setup: str,
                  image: str) -> None:
        """Running servers of the right image: the run's role servers, watched from now on."""
        fresh = []
        with ctx.store.lock:
            known = role_servers(ctx.state)
            for role, insts in ready.items():
                for inst in insts:
                    iid = inst["InstanceId"]
                    if iid not in known:
                        fresh.append(iid)
                        track(ctx.state, iid, role, setup, image)
                        set_addresses(ctx.state, iid, **address_of(inst))
            if fresh:
                ctx.store.save()
        if fresh and ctx.dialer is not None:
            watch(ctx, fresh)

    def _check(self, ctx: Context, ready: dict[str, list[dict[str, Any]]],
               image: str) -> list[CheckLine]:
        """The step's checks on each ready server, once its boot finished (throttled)."""
        if not ready or not self.spec.checks:
            return []
        # The measure step's watchers (started when each server ran) know when its
        # boot finished: checking before that would only fail.
        ids = [i["InstanceId"] for insts in ready.values() for i in insts]
        watches = {w.instance_id: w for w in watch(ctx, ids)} if ctx.dialer is not None else {}
        booting = [iid for iid in ids if iid in watches and watches[iid].wait_returned is None
                   and not watches[iid].done.is_set()]
        if booting:
            return [CheckLine("booted", "the servers finished booting (cloud-init done)",
                              "waiting", f"still booting: {', '.join(booting)}")]
        if not self.due(ctx):
            return self._last_lines
        lines = []
        for role, insts in ready.items():
            for inst in insts:
                host = host_of(ctx, inst["InstanceId"], role, ami=image)
                lines += [CheckLine(f"{role}:{ln.id}", f"{role}: {ln.description}", ln.status,
                                    ln.why, ln.hint) for ln in self.check_host(ctx, host)]
        self._last_lines = lines
        return lines
