"""Bake: CreateImage from the stopped builder, wait for it, then drop the builder.

The AMI id goes into the ledger the moment CreateImage returns, before the long
wait (Packer leaks the AMI when interrupted there); its snapshots go in as soon
as DescribeImages names them. Cleanup deregisters the AMI *and* deletes its
snapshots, which otherwise keep costing money.

The wait is boto3's ``image_exists`` then ``image_available``: just after
CreateImage, DescribeImages may answer ``InvalidAMIID.NotFound`` for an image
that exists (EC2 is eventually consistent); that is "not yet", for a bounded
window, not a failure. An image that turns ``failed`` fails the step by name.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import error_code, explain
from stemcell.cloud.consistency_retry import DEFAULT_WINDOW
from stemcell.cloud.tags import ctx_tags, tag_spec
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.events import ImageState
from stemcell.engine.statuses import ResourceStatus
from stemcell.engine.step import BaseStep
from stemcell.steps.step_stop_builder import stop_and_wait

IMAGE_TIMEOUT = 3600.0


def image_name(ctx: Context) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{ctx.config.lab}-{ctx.config.profile}-{ctx.run_id}-{stamp}"[:128]


def _progress(text: str | None) -> float:
    try:
        return max(0.0, min(1.0, float(str(text or "0").rstrip("%")) / 100.0))
    except ValueError:
        return 0.0


class CreateImageStep(BaseStep):
    def run(self, ctx: Context) -> None:
        iid = ctx.need("builder_id")
        ec2 = ctx.cloud.ec2
        state = ctx.cloud.instances_of_run(ctx.run_id)
        current = {i["InstanceId"]: i["State"]["Name"] for i in state}.get(iid, "")
        if current not in ("stopped", ""):
            ctx.emit(ImageState(image_id="", state="pending", phase="stopping"))
            stop_and_wait(ctx, iid)
        name = image_name(ctx)
        tags = ctx_tags(ctx, name=name, role="image", setup="2")
        try:
            image_id = ec2.create_image(
                InstanceId=iid, Name=name,
                Description=f"stemcell {ctx.config.profile} image, run {ctx.run_id}",
                TagSpecifications=tag_spec(tags, "image", "snapshot"),
            )["ImageId"]
        except ClientError as exc:
            raise explain(exc, "creating the image") from None
        ctx.record_resource("image", image_id, name)
        ctx.put("image_id", image_id)
        ctx.put("image_name", name)
        ctx.emit(ImageState(image_id=image_id, state="pending", phase="snapshot"))
        self._wait_available(ctx, image_id)
        ctx.emit(ImageState(image_id=image_id, state="available", phase="available",
                            progress=1.0))
        builder = ctx.state.find("instance", iid)
        if builder is not None and builder.state == ResourceStatus.LIVE and ctx.deleter is not None:
            ctx.deleter.delete(builder, ctx)
        ctx.log(f"image {image_id} available; builder {iid} terminated")

    def _wait_available(self, ctx: Context, image_id: str) -> None:
        ec2 = ctx.cloud.ec2
        known: set[str] = set()
        known_once: list[bool] = []
        last = {"progress": -1.0}

        unseen_until = ctx.clock.now() + DEFAULT_WINDOW

        def probe() -> bool:
            try:
                images = ec2.describe_images(ImageIds=[image_id])["Images"]
            except ClientError as exc:
                # image_exists: NotFound right after CreateImage means "not visible yet".
                if error_code(exc) == "InvalidAMIID.NotFound" and not known_once \
                        and ctx.clock.now() < unseen_until:
                    return False
                raise explain(exc, f"waiting for image {image_id}") from None
            if not images:
                if ctx.clock.now() < unseen_until and not known_once:
                    return False  # a filter-less by-id read may come back empty too
                raise StepFailed(f"image {image_id} is gone while it was being made",
                                 hint="Someone or something deregistered it; run the lab "
                                 "again.")
            if not known_once:
                known_once.append(True)
            image = images[0]
            snaps = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
                     if m.get("Ebs", {}).get("SnapshotId")]
            for sid in snaps:
                if sid not in known:
                    known.add(sid)
                    ctx.record_resource("snapshot", sid, image.get("Name", ""), image=image_id)
                    resource = ctx.state.find("image", image_id)
                    if resource is not None:
                        resource.extra.setdefault("snapshots", []).append(sid)
            state = image.get("State", "pending")
            if state == "failed":
                reason = image.get("StateReason", {}).get("Message", "no reason given")
                raise StepFailed(f"image {image_id} ({image.get('Name', '')}) failed to bake: "
                                 f"{reason}",
                                 hint="Everything of this run is cleaned up; run the lab "
                                 "again. If it keeps failing, try another region.")
            if state == "available":
                return True
            progress = 0.0
            if snaps:
                try:
                    found = ec2.describe_snapshots(SnapshotIds=snaps)["Snapshots"]
                except ClientError as exc:
                    if error_code(exc) != "InvalidSnapshot.NotFound":
                        raise
                    found = []  # the new snapshot is not visible yet
                if found:
                    progress = sum(_progress(s.get("Progress")) for s in found) / len(found)
            if progress != last["progress"]:
                last["progress"] = progress
                ctx.emit(ImageState(image_id=image_id, state=state, phase="snapshot",
                                    progress=progress))
            return False

        ctx.wait_for(f"image {image_id} to become available", probe, IMAGE_TIMEOUT,
                     first=2.0, longest=15.0)

    def cleanup(self, ctx: Context) -> None:
        # The image first: its deletion takes its snapshots along. A snapshot on its
        # own would be refused while the image still uses it.
        ctx.delete_resources(step_id=self.spec.id, first=("image", "snapshot"))
