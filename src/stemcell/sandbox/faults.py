"""Faults on demand: ``--faults throttle=0.3,capacity=1,...`` for the sandbox.

Each fault imitates something AWS does on an ordinary day, at a rate a test
can choose. ``FaultSpec`` is the parsed, validated spec (a bad one is a
``FaultSpecError``, which the CLI turns into exit 2); ``Faults`` is the running
injector the sandbox wires into its front door (request-level faults) and its
lifecycle hooks (model-level faults). Its random choices come from one seeded
RNG, so a test that names ``seed=N`` sees the same faults every time.

Each fault, what AWS does, and where AWS says so (docs/sandbox.md has the table):

- ``throttle=P``: a fraction P of API calls answered ``RequestLimitExceeded``
  (EC2) / ``Throttling`` (ELB, STS) - EC2 API reference, "Request throttling".
- ``capacity=N``: the first N RunInstances calls answered
  ``InsufficientInstanceCapacity`` - EC2 User Guide, "Troubleshoot instance
  launch issues: Insufficient instance capacity".
- ``ami-failed=N``: the first N images go ``pending`` -> ``failed`` - EC2 API
  reference, DescribeImages ``State`` and ``StateReason``.
- ``ssh-refused=S``: guests refuse SSH for S modeled seconds after ``running``
  - EC2 User Guide, "Troubleshoot connecting to your instance".
- ``not-found=S``: for S modeled seconds a new id is unknown to calls that name
  it - EC2 API reference, "Eventual consistency" (``sandbox/consistency.py``).
- ``console-delay=S``: console output empty for S modeled seconds after boot -
  EC2 User Guide, "Instance console output" (``sandbox/console_buffers.py``).
- ``s3-errors=P``: a fraction P of S3 calls answered 503 ``SlowDown`` - S3
  User Guide, "Optimizing Amazon S3 performance" (503 Slow Down).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from stemcell.sandbox.front_door import ApiRequest, Refusal

# How long a new id stays unknown when no ``not-found`` fault is given. AWS
# documents the window as "eventual" without a figure; a short one keeps every
# run honest (by-id calls right after a create must cope) at little cost.
DEFAULT_NOT_FOUND = 1.5


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class FaultSpec:
    throttle: float = 0.0
    capacity: int = 0
    ami_failed: int = 0
    ssh_refused: float = 0.0
    not_found: float = DEFAULT_NOT_FOUND
    console_delay: float = 0.0
    s3_errors: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """``"throttle=0.3,capacity=1,seed=7"`` -> a spec; ``""``/None -> no faults."""
        values: dict[str, Any] = {}
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or not raw.strip():
                raise FaultSpecError(f"fault {part!r}: expected NAME=VALUE "
                                     f"(one of {', '.join(_KINDS)})")
            if name not in _KINDS:
                raise FaultSpecError(f"unknown fault {name!r} (known: {', '.join(_KINDS)})")
            if name.replace("-", "_") in values:
                raise FaultSpecError(f"fault {name!r} given twice")
            values[name.replace("-", "_")] = _value(name, raw.strip())
        return cls(**values)

    def render(self) -> str:
        """The spec as ``--faults`` takes it (defaults left out); ``""`` when none."""
        default = FaultSpec()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                parts.append(f"{f.name.replace('_', '-')}={value:g}"
                             if isinstance(value, float) else f"{f.name.replace('_', '-')}={value}")
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def any(self) -> bool:
        return bool(self.render())


# name -> (type, lower bound, upper bound, what it means)
_KINDS: dict[str, tuple[type, float, float, str]] = {
    "throttle": (float, 0.0, 0.9, "fraction of API calls throttled"),
    "capacity": (int, 0, 1000, "RunInstances calls refused for capacity"),
    "ami-failed": (int, 0, 1000, "images that fail to bake"),
    "ssh-refused": (float, 0.0, 3600.0, "modeled seconds SSH is refused after running"),
    "not-found": (float, 0.0, 600.0, "modeled seconds a new id stays unknown"),
    "console-delay": (float, 0.0, 3600.0, "modeled seconds the console stays empty"),
    "s3-errors": (float, 0.0, 0.9, "fraction of S3 calls answered SlowDown"),
    "seed": (int, 0, 2**31 - 1, "seed of the faults' random choices"),
}


def _value(name: str, raw: str) -> float | int:
    kind, low, high, meaning = _KINDS[name]
    try:
        value: float | int = int(raw) if kind is int else float(raw)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise FaultSpecError(f"fault {name}={raw}: expected {expected} ({meaning})") from None
    if not low <= value <= high or value != value:  # NaN compares false
        raise FaultSpecError(f"fault {name}={raw}: must be between {low:g} and {high:g} "
                             f"({meaning})")
    return value


def describe(spec: FaultSpec) -> list[str]:
    """One line per active fault, for ``sandbox status`` and docs."""
    out = []
    for f in fields(spec):
        value = getattr(spec, f.name)
        if value != getattr(FaultSpec(), f.name):
            out.append(f"{f.name.replace('_', '-')}={value}: {_KINDS[f.name.replace('_', '-')][3]}")
    return out


# Each service's throttling answer, as botocore's retry handler recognises it.
_THROTTLE = {"ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
             "elasticloadbalancing": (400, "Throttling", "Rate exceeded"),
             "sts": (400, "Throttling", "Rate exceeded")}


@dataclass
class Faults:
    """The running injector: counters, a seeded RNG and what it injected (for bench)."""

    spec: FaultSpec
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _capacity_left: int = field(init=False)
    _ami_failures_left: int = field(init=False)
    _short_calls: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.spec.seed)
        self._capacity_left = self.spec.capacity
        self._ami_failures_left = self.spec.ami_failed

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def _roll(self, p: float) -> bool:
        return p > 0 and self._rng.random() < p

    # --- request-level (a front-door filter) ---------------------------------------------
    def filter(self, request: ApiRequest) -> Refusal | None:
        """Throttling, S3 SlowDown and capacity refusals, before moto sees the call."""
        if request.access_key_id == "warm":
            return None  # the sandbox's own warm-up requests (runtime.Sandbox.warm)
        with self._lock:
            if request.service == "s3":
                # API calls and the guests' presigned downloads alike: the boot
                # scripts fetch with `curl --retry 5`, as S3's SlowDown asks.
                if self._roll(self.spec.s3_errors):
                    # S3 asks clients to slow down with a 503 they retry with backoff.
                    self._count("s3-errors")
                    return Refusal(503, "SlowDown", "Please reduce your request rate.")
                return None
            # Capacity before throttling: every attempt of a call short of capacity
            # must say so, or its last attempt's error would hide the shortage.
            if request.service == "ec2" and request.operation == "RunInstances" and \
                    self._short_of_capacity(request):
                self._count("capacity")
                itype = request.param("InstanceType", "m1.small")
                return Refusal(500, "InsufficientInstanceCapacity",
                               f"We currently do not have sufficient {itype} capacity in the "
                               "Availability Zone you requested. Our system will be working on "
                               "provisioning additional capacity. You can currently get "
                               f"{itype} capacity by not specifying an Availability Zone in "
                               "your request or choosing a different instance type.")
            throttled = _THROTTLE.get(request.service)
            if throttled is not None and self._roll(self.spec.throttle):
                self._count("throttle")
                status, code, message = throttled
                return Refusal(status, code, message)
        return None

    def _short_of_capacity(self, request: ApiRequest) -> bool:
        # A shortage lasts: every attempt of one call is refused (EC2 answers it as a
        # server error, which SDKs retry), so "the first N" counts calls, told apart
        # by the SDK's invocation id (the same on each retry of one call).
        call = request.headers.get("amz-sdk-invocation-id") or f"anonymous-{id(request)}"
        if call in self._short_calls:
            return True
        if self._capacity_left <= 0:
            return False
        self._capacity_left -= 1
        self._short_calls.add(call)
        return True

    # --- model-level (asked by the lifecycle hooks) --------------------------------------
    def image_fails(self) -> bool:
        """Should the image being created now end ``failed``? (the first N do)"""
        with self._lock:
            if self._ami_failures_left <= 0:
                return False
            self._ami_failures_left -= 1
            self._count("ami-failed")
            return True

    def note(self, kind: str) -> None:
        with self._lock:
            self._count(kind)

    def status(self) -> Mapping[str, Any]:
        with self._lock:
            return {"spec": self.spec.render(), "injected": dict(self.injected)}
