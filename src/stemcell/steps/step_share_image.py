"""Optional: let the course account launch the image, so TAs can check it.

An image whose snapshots are encrypted with the account's AWS managed key
(``aws/ebs``, what an encrypted root volume gets when no key is named) cannot be
shared: EC2 refuses (``InvalidParameter``: "Snapshots encrypted with the AWS
Managed CMK can't be shared"), and nobody outside the account could decrypt it
anyway ("Share an AMI with specific AWS accounts", Amazon EC2 User Guide,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html).
The step checks each snapshot's key first and fails with what to do, instead
of "succeeding" with an image the course cannot launch. With a customer managed
key it shares, and says that the key's policy must let the course account use it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stemcell.cloud.aws_errors import error_code, explain
from stemcell.content.models import ShareImageParams
from stemcell.engine.context import Context
from stemcell.engine.errors import SkipStep, StepFailed
from stemcell.engine.step import BaseStep

_FIX = (
    "Re-encrypt the image with a customer managed KMS key and share that copy: "
    "`aws kms create-key --description stemcell-share`, allow the course account in the "
    "key's policy (kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, "
    "kms:GenerateDataKey*), then `aws ec2 copy-image --source-image-id IMAGE "
    "--source-region REGION --name NAME --encrypted --kms-key-id KEY` and share the copy "
    "(`aws ec2 modify-image-attribute --image-id COPY --launch-permission "
    "\"Add=[{UserId=ACCOUNT}]\"`). Or leave the course account out of this run."
)


def snapshot_keys(ctx: Context, image: dict[str, Any]) -> dict[str, str | None]:
    """Encrypted snapshot id -> KMS key id (None: the default key) of the image's volumes."""
    ids = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
           if m.get("Ebs", {}).get("SnapshotId")]
    if not ids:
        return {}
    snapshots = ctx.cloud.ec2.describe_snapshots(SnapshotIds=ids)["Snapshots"]
    return {s["SnapshotId"]: s.get("KmsKeyId") for s in snapshots if s.get("Encrypted")}


def aws_managed(ctx: Context, key_id: str | None) -> bool | None:
    """Whether ``key_id`` is AWS managed (aws/ebs); None when KMS will not say."""
    if not key_id:
        return True
    try:
        meta = ctx.cloud.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    except (ClientError, BotoCoreError):
        return None
    return str(meta.get("KeyManager", "")) == "AWS"


class ShareImageStep(BaseStep):
    def run(self, ctx: Context) -> None:
        params = self.spec.typed_params(ShareImageParams)
        account = params.account_id or ctx.lab.course_account or ctx.config.course_account
        if not account:
            raise SkipStep("no course account configured to share the image with")
        image_id = ctx.need("image_id")
        image = ctx.cloud.image(image_id) or {}
        keys = snapshot_keys(ctx, image)
        default_keyed = [sid for sid, key in keys.items() if aws_managed(ctx, key)]
        if default_keyed:
            raise StepFailed(
                f"image {image_id} cannot be shared with account {account}: its snapshot "
                f"{', '.join(default_keyed)} is encrypted with the AWS managed key aws/ebs, "
                "which no other account can use (EC2 refuses to share it)",
                hint=_FIX)
        try:
            ctx.cloud.ec2.modify_image_attribute(
                ImageId=image_id, LaunchPermission={"Add": [{"UserId": str(account)}]})
        except ClientError as exc:
            if error_code(exc) == "InvalidParameter":
                raise StepFailed(f"EC2 refused to share {image_id} with {account}: "
                                 f"{exc.response.get('Error', {}).get('Message', '')}",
                                 hint=_FIX) from None
            raise explain(exc, f"sharing {image_id} with {account}") from None
        ctx.put("shared_with", str(account))
        ctx.log(f"image {image_id} may now be launched by account {account}")
        if keys:
            ctx.log(f"the image's snapshots are encrypted with customer managed key(s) "
                    f"{', '.join(sorted({k for k in keys.values() if k}))}: their key policy "
                    f"must allow account {account} (kms:Decrypt, kms:CreateGrant, "
                    "kms:DescribeKey, kms:ReEncrypt*, kms:GenerateDataKey*) or its launches "
                    "fail", "warning")

    def cleanup(self, ctx: Context) -> None:
        return None  # the permission goes with the image, which create_image removes
