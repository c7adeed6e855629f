"""Upload each role's code: the student makes the run's bucket and copies the bundles.

stemcell packs each role's bundle into the run folder; the student creates the
bucket and copies the folder. Recognised with one ListObjectsV2 a tick; once
every bundle is there with the right size, the bucket is adopted (public access
blocked, tagged) so cleanup empties and deletes it.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from stemcell.cloud.s3 import bucket_name, pack_bundle, secure_and_tag
from stemcell.cloud.tags import ctx_tags
from stemcell.content.models import StepSpec
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.run_folder import private_dirs
from stemcell.engine.statuses import Actor
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.task_base import TaskBase, files_dir, q, waiting

PREFIX = "bundles/"


class Task(TaskBase):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.sizes: dict[str, int] = {}

    def brief(self, ctx: Context) -> Brief:
        name = bucket_name(ctx.run_id)
        folder = private_dirs(files_dir(ctx) / "bundles")
        for role, spec in ctx.profile.roles.items():
            source = Path(ctx.profile_dir) / spec.bundle
            if not source.is_dir():
                raise StepFailed(f"bundle folder for role {role} not found: {source}")
            data = pack_bundle(source)
            (folder / f"{role}.tar.gz").write_bytes(data)
            self.sizes[f"{PREFIX}{role}.tar.gz"] = len(data)
        region = ctx.cloud.region
        where = "" if region == "us-east-1" else \
            f" --create-bucket-configuration LocationConstraint={q(region)}"
        return Brief(
            goal=f"Create the private bucket {name} and upload each role's code bundle "
                 f"under {PREFIX}.",
            commands=[f"aws s3api create-bucket --bucket {q(name)}{where}",
                      f"aws s3 cp --recursive {q(folder)} s3://{name}/{PREFIX}"],
            console=f"S3 console > Create bucket {name} (Block all public access on), then "
                    f"Upload the files of {folder} into a folder named bundles.",
            notes=["Boot scripts fetch the bundles with presigned URLs: the bucket stays "
                   "private and no instance holds credentials."],
        )

    def look(self, ctx: Context) -> Progress:
        name = bucket_name(ctx.run_id)
        try:
            listed = ctx.cloud.s3.list_objects_v2(Bucket=name, Prefix=PREFIX)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404", "NotFound"):
                return waiting("", f"bucket {name}", "not created yet", "bucket")
            if code in ("AccessDenied", "403"):
                return waiting("", f"bucket {name}", "it belongs to another account: bucket "
                               "names are global", "bucket")
            raise
        have = {o["Key"]: int(o.get("Size", 0)) for o in listed.get("Contents", [])}
        lines = [CheckLine("bucket", f"bucket {name} exists", "passed")]
        for key, size in sorted(self.sizes.items()):
            ok = have.get(key) == size
            lines.append(CheckLine(key, f"s3://{name}/{key} ({size} bytes)",
                                   "passed" if ok else "failed",
                                   "" if ok else ("missing" if key not in have else
                                                  f"{have[key]} bytes, not {size}"),
                                   "" if ok else "Copy the bundles folder again "
                                   "(aws s3 cp --recursive ...)."))
        done = all(line.status == "passed" for line in lines)
        if done:
            if ctx.state.find("bucket", name) is None:
                ctx.record_resource("bucket", name, name, made_by=Actor.STUDENT)
                secure_and_tag(ctx, ctx.cloud.s3, name, ctx_tags(ctx, name=name))
            ctx.put("bucket", name)
            ctx.put("bundle_keys", {k.removeprefix(PREFIX).removesuffix(".tar.gz"): k
                                    for k in self.sizes})
        return Progress(done=done, found=f"bucket {name}", lines=lines)
