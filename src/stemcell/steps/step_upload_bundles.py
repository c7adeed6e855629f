"""Put each role's code in a run-owned, private bucket, to be fetched presigned."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import explain
from stemcell.cloud.consistency_retry import retry_not_found
from stemcell.cloud.s3 import bucket_name, create_bucket, pack_bundle, secure_and_tag
from stemcell.cloud.tags import ctx_tags
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.step import BaseStep


class UploadBundlesStep(BaseStep):
    def run(self, ctx: Context) -> None:
        s3 = ctx.cloud.s3
        name = bucket_name(ctx.run_id)
        tags = ctx_tags(ctx, name=name)
        try:
            create_bucket(s3, name, ctx.cloud.region, tags)
        except ClientError as exc:
            raise explain(exc, f"creating bucket {name}") from None
        ctx.record_resource("bucket", name, name)
        try:
            secure_and_tag(ctx, s3, name, tags)
        except ClientError as exc:
            raise explain(exc, f"tagging bucket {name}") from None
        keys: dict[str, str] = {}
        for role, spec in ctx.profile.roles.items():
            folder = Path(ctx.profile_dir) / spec.bundle
            if not folder.is_dir():
                raise StepFailed(f"bundle folder for role {role} not found: {folder}")
            data = pack_bundle(folder)
            key = f"bundles/{role}.tar.gz"
            def upload(key: str = key, data: bytes = data) -> None:
                s3.put_object(Bucket=name, Key=key, Body=data, ContentType="application/gzip")

            retry_not_found(ctx, f"uploading {key}", upload, codes=("NoSuchBucket",))
            keys[role] = key
            ctx.log(f"uploaded {role} bundle ({len(data)} bytes) to s3://{name}/{key}")
        ctx.put("bucket", name)
        ctx.put("bundle_keys", keys)
