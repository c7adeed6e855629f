"""What every hands-on task shares: quoting, adopting, running the step's checks.

Adopting a student's resource is what makes it the run's own: it is tagged
with the run's tags (so ``stemcell cleanup --all`` finds it by tag, as if
stemcell had made it) and recorded in the ledger with ``made_by=Actor.STUDENT`` (so
the run's cleanup and the comparison treat it like stemcell's).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from stemcell.checks.check_runner import run_checks
from stemcell.checks.model import Status
from stemcell.checks.plan import PlannedCheck, select
from stemcell.checks.registry import CLOUD_KINDS
from stemcell.checks.student import run_options
from stemcell.checks.targets import HostSpec
from stemcell.cloud.tags import RUN, as_dict, ctx_tags
from stemcell.content.models import StepSpec
from stemcell.engine.context import Context
from stemcell.engine.run_folder import RunFolder
from stemcell.engine.state import Resource
from stemcell.engine.statuses import Actor
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.remote.dialer import Target
from stemcell.remote.reach import known_hosts
from stemcell.remote.ssh_command import ssh_command

TRANSIENT = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException",
                       "ServiceUnavailable", "InternalError", "Unavailable"})
# SSH checks cost a connection and a few commands: at most one round per this many
# modeled seconds (a re-check request runs them at the next tick anyway).
CHECK_EVERY = 10.0


def q(value: object) -> str:
    return shlex.quote(str(value))


def files_dir(ctx: Context) -> Path:
    """The run folder's ``handson/``: files the student's commands name (0700)."""
    folder = RunFolder(ctx.run_dir)
    return folder.private_dir(folder.handson)


def other_run(tags: list[dict[str, str]] | None, run_id: str) -> bool:
    """A resource tagged by another stemcell run is that run's, never ours to adopt."""
    owner = as_dict(tags).get(RUN)
    return owner is not None and owner != run_id


def adopt(ctx: Context, rtype: str, rid: str, name: str, *, tag: bool = True, role: str = "",
          setup: str = "", **extra: Any) -> Resource:
    """Make the student's resource the run's own: tags, then the ledger (idempotent)."""
    known = ctx.state.find(rtype, rid)
    if known is not None:
        return known
    if tag:
        tags = ctx_tags(ctx, name=name, role=role, setup=setup)
        ctx.cloud.ec2.create_tags(Resources=[rid], Tags=tags)
    resource: Resource = ctx.record_resource(rtype, rid, name, made_by=Actor.STUDENT, **extra)
    ctx.log(f"recognised your {rtype.replace('_', ' ')} {rid}: adopted into this run")
    return resource


def ssh_words(ctx: Context, instance_id: str, public_ip: str = "", private_ip: str = "") -> str:
    """``ssh -i KEY [-p PORT] ... ubuntu@HOST``: the dialer says where (loopback or public)."""
    host, port = ctx.require_dialer().ssh_address(Target(instance_id, public_ip, private_ip))
    key = ctx.get("key_path") or str(RunFolder(ctx.run_dir).key)
    return ssh_command(host, int(port), key, known_hosts(ctx), accept_new=True)


def waiting(found: str, what: str, why: str = "", check_id: str = "found") -> Progress:
    return Progress(done=False, found=found,
                    lines=[CheckLine(check_id, what, "waiting", why)])


class TaskBase:
    """A task knows its step spec; subclasses give ``brief`` and ``poll``."""

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.step_id: str = spec.id
        self._last_check = float("-inf")
        self._last_lines: list[CheckLine] = []

    def brief(self, ctx: Context) -> Brief:  # pragma: no cover - every task overrides it
        raise NotImplementedError

    def poll(self, ctx: Context) -> Progress:
        """One tick. An API error that passes (a throttle, an id not yet visible) is
        a "not yet", not a failed step: EC2 is eventually consistent, so a resource
        the student just made may be NotFound for a moment (AWS EC2 API reference,
        "Eventual consistency"), and busy accounts get throttled."""
        try:
            return self.look(ctx)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code.endswith(".NotFound") or code in TRANSIENT:
                return waiting("", "the EC2 API answers", f"{code}: trying again next tick",
                               "api")
            raise

    def look(self, ctx: Context) -> Progress:  # pragma: no cover - every task overrides it
        raise NotImplementedError

    # --- the step's checks ------------------------------------------------------------
    def due(self, ctx: Context) -> bool:
        """Time for another round of SSH checks (throttled, see CHECK_EVERY)."""
        now = ctx.clock.now()
        if now - self._last_check >= CHECK_EVERY:
            self._last_check = now
            return True
        return False

    def check_host(self, ctx: Context, host: HostSpec, *, cloud_only: bool = False,
                   extra: list[Any] | None = None) -> list[CheckLine]:
        """The step's checks (with their prerequisites) on ``host``, as CheckLines."""
        planned = select(ctx.lab, [self.step_id], role=host.role)
        planned += [PlannedCheck(spec, self.step_id) for spec in extra or []]
        if cloud_only:
            planned = [p for p in planned if p.spec.kind in CLOUD_KINDS]
            ids = {p.id for p in planned}
            planned = [p for p in planned if all(d in ids for d in p.spec.depends)]
        if not planned:
            return []
        report = run_checks(planned, host, run_options(ctx, deadline=60.0))
        lines = []
        for result in report.results:
            cause = result.cause
            status = {Status.PASSED: "passed", Status.FAILED: "failed",
                      Status.ERROR: "failed"}.get(result.status, "waiting")
            lines.append(CheckLine(result.check_id, result.description, status,
                                   cause.rationale if cause else "",
                                   cause.help if cause else ""))
        return lines


def host_of(ctx: Context, instance_id: str, role: str, ami: str | None = None) -> HostSpec:
    key = ctx.get("key_path")
    return HostSpec(host=instance_id, name=f"{role} ({instance_id})",
                    key=Path(key) if key else None, role=role, ami=ami)


def all_passed(lines: list[CheckLine]) -> bool:
    return all(line.status == "passed" for line in lines)
