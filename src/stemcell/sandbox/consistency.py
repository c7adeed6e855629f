"""Eventual consistency: for a short window after a create, the new id is unknown.

AWS: "The Amazon EC2 API follows an eventual consistency model ... if you run a
command to modify or describe the resource that you just created, its ID might
not have propagated throughout the system, and you will get an error responding
that the resource does not exist" (EC2 API reference, "Eventual consistency in
the Amazon EC2 API"; the same page: describe calls with filters may not return
it yet). S3 likewise may answer ``NoSuchBucket`` for a bucket created moments
ago (S3 User Guide, "Amazon S3 data consistency model": bucket configurations
have an eventual consistency model). boto3's own ``image_exists`` and
``instance_exists`` waiters retry exactly these NotFound codes.

One mechanism for the whole sandbox, always on with a short default window
(``faults.DEFAULT_NOT_FOUND``) and stretched by the ``not-found=S`` fault:

- an observer learns each new id from moto's answer to the create call;
- a front-door filter answers by-id calls naming a fresh id with the service's
  NotFound error (``InvalidInstanceID.NotFound``, ``InvalidAMIID.NotFound``,
  ``InvalidGroup.NotFound``, ``InvalidKeyPair.NotFound``, S3 ``NoSuchBucket``);
- ``hidden(id)`` lets the lifecycle hooks leave fresh resources out of
  filtered describes (``DescribeInstances`` / ``DescribeImages`` by tag).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.front_door import ApiRequest, Refusal

# Create call -> (kind, pattern of the new ids in moto's XML answer).
_LEARN: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "RunInstances": [("instance", re.compile(r"<instanceId>(i-[0-9a-f]+)</instanceId>"))],
    "CreateImage": [("image", re.compile(r"<imageId>(ami-[0-9a-f]+)</imageId>"))],
    "CopyImage": [("image", re.compile(r"<imageId>(ami-[0-9a-f]+)</imageId>"))],
    "CreateSecurityGroup": [("group", re.compile(r"<groupId>(sg-[0-9a-f]+)</groupId>"))],
    "ImportKeyPair": [("key", re.compile(r"<keyName>([^<]+)</keyName>")),
                      ("key", re.compile(r"<keyPairId>(key-[0-9a-f]+)</keyPairId>"))],
    "CreateKeyPair": [("key", re.compile(r"<keyName>([^<]+)</keyName>")),
                      ("key", re.compile(r"<keyPairId>(key-[0-9a-f]+)</keyPairId>"))],
}

# Request parameter (without its ``.N``) -> the kind of id it names.
_PARAMS = {"InstanceId": "instance", "ImageId": "image", "GroupId": "group",
           "SecurityGroupId": "group", "KeyName": "key", "KeyPairId": "key",
           "ResourceId": "any"}  # CreateTags / DeleteTags: whatever the id names

_ERRORS = {
    "instance": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "image": ("InvalidAMIID.NotFound", "The image id '[{}]' does not exist"),
    "group": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "key": ("InvalidKeyPair.NotFound", "The key pair '{}' does not exist"),
}


class Consistency:
    def __init__(self, clock: ModelClock, window: float,
                 on_hit: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.window = max(0.0, float(window))
        self._on_hit = on_hit
        self._fresh: dict[str, tuple[str, float]] = {}  # id -> (kind, visible from)
        self._buckets: dict[str, float] = {}
        self._lock = threading.Lock()

    # --- learning (a front-door observer) ----------------------------------------------
    def observe(self, request: ApiRequest, status: int, body: bytes) -> None:
        if self.window <= 0 or status != 200:
            return
        until = self.clock.now() + self.window
        if request.service == "s3":
            if request.operation == "CreateBucket":
                with self._lock:
                    self._buckets[_bucket(request.path)] = until
            return
        if request.service != "ec2":
            return
        patterns = _LEARN.get(request.operation)
        if not patterns:
            return
        text = body.decode("utf-8", "replace")
        with self._lock:
            for kind, pattern in patterns:
                for rid in pattern.findall(text):
                    self._fresh[rid] = (kind, until)

    # --- refusing (a front-door filter) ---------------------------------------------------
    def filter(self, request: ApiRequest) -> Refusal | None:
        if self.window <= 0:
            return None
        now = self.clock.now()
        if request.service == "s3":
            if request.operation == "CreateBucket":
                return None
            with self._lock:
                until = self._buckets.get(_bucket(request.path))
            if until is not None and now < until:
                self._hit()
                return Refusal(404, "NoSuchBucket", "The specified bucket does not exist")
            return None
        if request.service != "ec2" or request.operation in _LEARN:
            # The create itself (RunInstances naming a fresh group is rare enough).
            return None
        for key, values in request.params.items():
            name = key.split(".", 1)[0]
            if name not in _PARAMS:
                continue
            for value in values:
                fresh = self._fresh_kind(value, now)
                if fresh is not None:
                    code, message = _ERRORS[fresh]
                    self._hit()
                    return Refusal(400, code, message.format(value))
        return None

    # --- for the lifecycle hooks -----------------------------------------------------------
    def hidden(self, rid: str) -> bool:
        """Is ``rid`` still too new to show up in a filtered describe?"""
        return self.window > 0 and self._fresh_kind(rid, self.clock.now()) is not None

    def _fresh_kind(self, rid: str, now: float) -> str | None:
        with self._lock:
            entry = self._fresh.get(rid)
            if entry is None:
                return None
            kind, until = entry
            if now >= until:
                del self._fresh[rid]
                return None
        return kind

    def _hit(self) -> None:
        if self._on_hit is not None:
            self._on_hit()


def _bucket(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]

