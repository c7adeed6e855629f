"""Optional: let the course account launch the image, so TAs can check it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import explain
from stemcell.engine.errors import SkipStep
from stemcell.engine.step import BaseStep


class ShareImageStep(BaseStep):
    def run(self, ctx: Any) -> None:
        params = self.spec.typed_params()
        account = params.account_id or ctx.lab.course_account or ctx.config.course_account
        if not account:
            raise SkipStep("no course account configured to share the image with")
        image_id = ctx.need("image_id")
        try:
            ctx.cloud.ec2.modify_image_attribute(
                ImageId=image_id, LaunchPermission={"Add": [{"UserId": str(account)}]})
        except ClientError as exc:
            raise explain(exc, f"sharing {image_id} with {account}") from None
        ctx.put("shared_with", str(account))
        ctx.log(f"image {image_id} may now be launched by account {account}")
        image = ctx.cloud.image(image_id) or {}
        if any(m.get("Ebs", {}).get("Encrypted") for m in image.get("BlockDeviceMappings", [])):
            ctx.log("the image's snapshots are encrypted: the course account can launch it "
                    "only if they are encrypted with a customer managed KMS key shared with "
                    "that account (not the default aws/ebs key)", "warning")

    def cleanup(self, ctx: Any) -> None:
        return None  # the permission goes with the image, which create_image removes
