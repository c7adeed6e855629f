"""Ride out EC2's and S3's eventual consistency right after a create.

AWS documents that a resource just created may not be visible to the next call
yet: EC2 answers ``InvalidGroup.NotFound``, ``InvalidKeyPair.NotFound``,
``InvalidInstanceID.NotFound`` or ``InvalidAMIID.NotFound`` for a short while
("Eventual consistency in the Amazon EC2 API", Amazon EC2 API Reference,
https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html), and
S3 may answer ``NoSuchBucket`` to a request right after CreateBucket. boto3's
own ``image_exists`` waiter retries ``InvalidAMIID.NotFound`` the same way
(every 2 s, up to 40 attempts); this helper does it for every step, with
exponential backoff in modeled seconds, and gives up after ``window`` seconds
with the original error, so a resource that truly does not exist still fails.

Only calls that failed *because* the resource was not seen yet are retried:
nothing was changed by them, so trying again is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import NOT_YET_VISIBLE, error_code
from stemcell.engine.clock import Clock

T = TypeVar("T")

# Modeled seconds; AWS says "a few seconds", rarely up to a minute or two.
DEFAULT_WINDOW = 120.0
FIRST_DELAY = 1.0
LONGEST_DELAY = 10.0


class Sleeper(Protocol):
    """What the helper needs of a run context: modeled time and a cancellable sleep."""

    @property
    def clock(self) -> Clock: ...

    def sleep(self, seconds: float) -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...


def retry_not_found(ctx: Sleeper, what: str, call: Callable[[], T], *,
                    codes: Iterable[str] = NOT_YET_VISIBLE,
                    window: float = DEFAULT_WINDOW) -> T:
    """``call()``; while it fails with one of ``codes`` inside ``window``, back off and retry.

    ``ctx.sleep`` raises ``Interrupted`` on Ctrl-C, so a retry never outlives the run.
    """
    wanted = frozenset(codes)
    deadline = ctx.clock.now() + window
    delay = FIRST_DELAY
    told = False
    while True:
        try:
            return call()
        except ClientError as exc:
            code = error_code(exc)
            if code not in wanted or ctx.clock.now() + delay > deadline:
                raise
            if not told:
                ctx.log(f"{what}: AWS does not see it yet ({code}); retrying (eventual "
                        "consistency right after a create)", "warning")
                told = True
        ctx.sleep(delay)
        delay = min(LONGEST_DELAY, delay * 2)
