"""Tags given in CreateBucket, kept as S3 keeps them.

S3 takes a general purpose bucket's tags in ``CreateBucketConfiguration.Tags``
("Using tags with S3 general purpose buckets", Amazon S3 User Guide,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/buckets-tagging.html);
moto 5.2 accepts the element and drops it, so a bucket "tagged at birth" would be
untagged in the sandbox. An observer applies them once moto has made the bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.etree import ElementTree

from stemcell.sandbox.front_door import ApiRequest


def _tags(body: bytes) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    tags: dict[str, str] = {}
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Tag":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
        if fields.get("Key"):
            tags[fields["Key"]] = fields.get("Value", "")
    return tags


def create_observer(account_id: str) -> Callable[[ApiRequest, int, bytes], None]:
    def observe(request: ApiRequest, status: int, body: bytes) -> None:
        if request.service != "s3" or request.operation != "CreateBucket" or status != 200:
            return
        tags = _tags(request.body) if request.body else {}
        if not tags:
            return
        from moto.s3.models import s3_backends

        bucket = request.path.strip("/").split("/", 1)[0]
        try:
            s3_backends[account_id]["aws"].put_bucket_tagging(bucket, tags)
        except Exception:  # the bucket is not there after all: nothing to tag
            return
    return observe
