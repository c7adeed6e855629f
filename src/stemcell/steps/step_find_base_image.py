"""Find the newest base image (Ubuntu 24.04) matching the profile's filter."""

from __future__ import annotations

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import explain
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.step import BaseStep


class FindBaseImageStep(BaseStep):
    def run(self, ctx: Context) -> None:
        base = ctx.profile.base_image
        try:
            image = ctx.cloud.latest_image(base.owner, base.name, base.architecture)
        except ClientError as exc:
            raise explain(exc, "looking up the base image") from None
        if image is None:
            raise StepFailed(
                f"no available {base.architecture} image named {base.name!r} owned by "
                f"{base.owner} in {ctx.cloud.region}",
                hint="Check the region (--region) and the profile's base_image filter.",
            )
        ctx.put("base_image_id", image["ImageId"])
        ctx.put("base_image_name", image.get("Name", ""))
        ctx.log(f"base image {image['ImageId']} ({image.get('Name', '')}, "
                f"created {image.get('CreationDate', '?')})")

    def cleanup(self, ctx: Context) -> None:
        return None  # a lookup creates nothing
