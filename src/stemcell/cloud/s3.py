"""Role bundles: packed reproducibly, stored in a run-owned bucket, fetched presigned.

Instances get a presigned GET URL in their user data instead of credentials, so
nothing on the server can read anything else in the account. URLs are made when
user data is rendered and never stored in the state or sent as events. They name
the bucket's regional host, SigV4-signed for its region (``clients.client_config``):
the global host redirects (307) for buckets outside us-east-1 and the signature
then fails.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import error_code
from stemcell.cloud.consistency_retry import retry_not_found
from stemcell.engine.context import Context

PRESIGN_SECONDS = 3600


def bucket_name(run_id: str) -> str:
    """Bucket names are global, lowercase, 3-63 chars; the run id is unique enough."""
    name = re.sub(r"[^a-z0-9-]", "-", f"stemcell-{run_id}".lower()).strip("-")
    return name[:63].rstrip("-")


def pack_bundle(folder: Path) -> bytes:
    """A .tar.gz of ``folder`` whose bytes depend on the files only (not on mtimes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            info = tarfile.TarInfo(rel)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif path.is_file():
                data = path.read_bytes()
                info.size = len(data)
                info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


# Codes an endpoint answers when it does not know CreateBucketConfiguration.Tags
# (older S3-compatible servers); the bucket is then tagged right after instead.
_NO_TAGS_AT_CREATE = frozenset({"MalformedXML", "InvalidArgument", "InvalidRequest",
                                "NotImplemented"})


def create_bucket(s3: Any, name: str, region: str,
                  tags: list[dict[str, str]] | None = None) -> None:
    """CreateBucket in ``region``, tagged at birth where the API takes it.

    S3 takes tags in ``CreateBucketConfiguration.Tags`` for general purpose buckets
    ("Using tags with S3 general purpose buckets", Amazon S3 User Guide,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/buckets-tagging.html);
    an endpoint that refuses them gets the plain request.
    """
    config: dict[str, Any] = {}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        config["LocationConstraint"] = region
    if tags:
        try:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={**config, "Tags": tags})
            return
        except ClientError as exc:
            if error_code(exc) not in _NO_TAGS_AT_CREATE:
                raise
    kwargs: dict[str, Any] = {"Bucket": name}
    if config:
        kwargs["CreateBucketConfiguration"] = config
    s3.create_bucket(**kwargs)


def secure_and_tag(ctx: Context, s3: Any, name: str, tags: list[dict[str, str]]) -> None:
    """Block public access and (again) tag the bucket, right after CreateBucket.

    The tags are put even when CreateBucket took them: an endpoint that refused or
    ignored them (older APIs, S3-compatible servers, moto) must not leave the bucket
    untagged. S3 may answer ``NoSuchBucket`` for a bucket created a moment ago,
    which is retried. Until tagged, ``cleanup`` still finds the bucket by its name
    (``stemcell-<run id>``).
    """
    retry_not_found(ctx, f"securing bucket {name}", lambda: s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    ), codes=("NoSuchBucket",))
    retry_not_found(ctx, f"tagging bucket {name}", lambda: s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": tags}), codes=("NoSuchBucket",))


def presigned_get(s3: Any, bucket: str, key: str, seconds: int = PRESIGN_SECONDS) -> str:
    return str(s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds))
