"""Presigned S3 URLs honoured only where S3 honours them: the bucket's own region.

S3 answers a request on the global host (``BUCKET.s3.amazonaws.com`` or
``s3.amazonaws.com/BUCKET``) for a bucket outside us-east-1 with
``307 TemporaryRedirect`` to the regional host while DNS catches up (for hours
after CreateBucket; in Regions opened since 2019, always), and a presigned
URL's SigV4 signature covers the host, so following the redirect ends in
``403 SignatureDoesNotMatch`` ("Virtual hosting of general purpose buckets" and
"Making requests: redirects", Amazon S3 User Guide,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingRouting.html). A URL
signed for another region is refused with ``AuthorizationQueryParametersError``.
moto serves any bucket on any host for any region.

S3 routes by host before it authenticates (a 301 or 307 answers even a request
signed badly or not at all, and tells where the bucket is), so this filter runs
before the SigV4 check in the front door (``Sandbox.__init__``); it only ever
refuses, so nothing unsigned gets served through it.

The guest's ``curl`` reaches the sandbox's S3 on loopback (``programs/net.py``
fetches loopback URLs for real), so a boot script fetching a wrongly made URL
fails in the sandbox as it would on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from stemcell.sandbox.front_door import ApiRequest, Refusal

_GLOBAL_HOSTS = ("s3.amazonaws.com", "s3-external-1.amazonaws.com")
_REGIONAL = re.compile(r"^(?:(?P<bucket>.+)\.)?s3[.-](?P<region>[a-z0-9-]+)\.amazonaws\.com$")


def host_form(host: str, path: str) -> tuple[str, str, str, str]:
    """(bucket, key, form, host's region): form is "global", "regional" or "endpoint"."""
    host = host.split(":", 1)[0].lower()
    head, _, rest = path.lstrip("/").partition("/")
    whole = path.lstrip("/")
    for glob in _GLOBAL_HOSTS:
        if host == glob:
            return head, rest, "global", "us-east-1"
        if host.endswith("." + glob):
            return host[: -len(glob) - 1], whole, "global", "us-east-1"
    match = _REGIONAL.match(host)
    if match:
        if match.group("bucket"):
            return match.group("bucket"), whole, "regional", match.group("region")
        return head, rest, "regional", match.group("region")
    return head, rest, "endpoint", ""


def bucket_region(account_id: str, bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account_id]["aws"].buckets.get(bucket)
    except Exception:
        return None
    return str(found.region_name) if found is not None else None


def presigned_host_filter(account_id: str,
                          region_of: Callable[[str, str], str | None] = bucket_region
                          ) -> Callable[[ApiRequest], Refusal | None]:
    def check(request: ApiRequest) -> Refusal | None:
        if request.service != "s3" or "X-Amz-Credential" not in request.params:
            return None
        bucket, key, form, host_region = host_form(request.headers.get("host", ""),
                                                   request.path)
        if not bucket:
            return None
        region = region_of(account_id, bucket)
        if region is None:
            return None  # moto answers NoSuchBucket
        regional = f"{bucket}.s3.{region}.amazonaws.com"
        if form == "global" and region != "us-east-1":
            location = f"https://{regional}/{quote(key)}" + (f"?{request.query}"
                                                              if request.query else "")
            return Refusal(307, "TemporaryRedirect",
                           "Please re-send this request to the specified temporary endpoint. "
                           "Continue to use the original request endpoint for future requests.",
                           headers={"Location": location})
        if form == "regional" and host_region != region:
            return Refusal(301, "PermanentRedirect",
                           "The bucket you are attempting to access must be addressed using "
                           f"the specified endpoint: {regional}")
        if request.region and request.region != region:
            return Refusal(400, "AuthorizationQueryParametersError",
                           "Error parsing the X-Amz-Credential parameter; the region "
                           f"'{request.region}' is wrong; expecting '{region}'")
        return None

    return check
