"""Bake: the student creates the AMI from the stopped builder; stemcell adopts it.

Recognised with DescribeImages (Owners=self, filter ``source-instance-id`` = the
builder: EC2 records which instance an image was made from). The image and its
snapshots go into the ledger the moment they are seen, so an interrupted run
still deletes them; once available, the step's checks run and stemcell
terminates the builder, as the guided step does.
"""

from __future__ import annotations

from stemcell.engine.context import Context
from stemcell.engine.events import ImageState
from stemcell.engine.statuses import ResourceStatus
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.task_base import TaskBase, adopt, all_passed, host_of, other_run, q, waiting
from stemcell.steps.step_create_image import image_name


class Task(TaskBase):
    def brief(self, ctx: Context) -> Brief:
        iid = ctx.need("builder_id")
        name = ctx.get("image_name") or image_name(ctx)
        ctx.put("image_name", name)
        return Brief(
            goal=f"Create your stem cell image (AMI) from the stopped builder {iid}.",
            commands=[f"aws ec2 create-image --instance-id {q(iid)} --name {q(name)} "
                      f"--description {q(f'stemcell {ctx.config.profile} image')}"],
            console=f"EC2 console > Instances > {iid} > Actions > Image and templates > "
                    f"Create image, named {name}.",
            notes=["The image is pending while its snapshot is copied; stemcell terminates "
                   "the builder once the image is available."],
        )

    def look(self, ctx: Context) -> Progress:
        iid = ctx.need("builder_id")
        images = [i for i in ctx.cloud.ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "source-instance-id", "Values": [iid]}]
        ).get("Images", []) if not other_run(i.get("Tags"), ctx.run_id)]
        if not images:
            return waiting("", f"an image created from {iid}",
                           "none yet (aws ec2 create-image)", "image-exists")
        image = sorted(images, key=lambda i: str(i.get("CreationDate", "")))[-1]
        image_id = image["ImageId"]
        name = str(image.get("Name", ""))
        snaps = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
                 if m.get("Ebs", {}).get("SnapshotId")]
        resource = adopt(ctx, "image", image_id, name, role="image", setup="2")
        for sid in snaps:
            if ctx.state.find("snapshot", sid) is None:
                adopt(ctx, "snapshot", sid, name, role="image", setup="2", image=image_id)
                resource.extra.setdefault("snapshots", []).append(sid)
        state = str(image.get("State", "pending"))
        ctx.emit(ImageState(image_id=image_id, state=state,
                            phase="available" if state == "available" else "snapshot",
                            progress=1.0 if state == "available" else 0.0))
        if state != "available":
            return waiting(f"image {image_id}", f"{image_id} is available", f"it is {state}",
                           "image-available")
        ctx.put("image_id", image_id)
        lines = [CheckLine("image-found", f"image {image_id} made from {iid}", "passed")]
        lines += self.check_host(ctx, host_of(ctx, iid, "image", ami=image_id),
                                 cloud_only=True)
        done = all_passed(lines)
        if done:
            builder = ctx.state.find("instance", iid)
            if builder is not None and builder.state == ResourceStatus.LIVE \
                    and ctx.deleter is not None:
                ctx.deleter.delete(builder, ctx)
                ctx.log(f"builder {iid} terminated: the image holds everything it had")
        return Progress(done=done, found=f"image {image_id}", lines=lines)
