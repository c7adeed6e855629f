"""The offset between an instance's clock and ours.

Cloud-init's log is stamped by the guest's clock; our marks by the local one.
We read the guest's ``date +%s.%N`` over SSH, noting our clock just before the
command is sent (t0) and just after its answer arrives (t1). Assuming the
request and the answer took equally long, the guest read its clock at
``(t0 + t1) / 2``, so ``offset = guest - (t0 + t1) / 2``, to within
``(t1 - t0) / 2`` either way. Of several samples the one with the shortest
round trip is the tightest (NTP's choice). An offset smaller than its own
uncertainty is not evidence of skew, and is taken as zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    sent: float  # our clock, just before the command left
    received: float  # our clock, just after the answer arrived
    guest: float  # the guest's clock, as printed

    @property
    def round_trip(self) -> float:
        return max(0.0, self.received - self.sent)

    @property
    def offset(self) -> float:
        return self.guest - (self.sent + self.received) / 2


@dataclass(frozen=True)
class Offset:
    seconds: float  # guest clock minus ours; subtract it from guest stamps
    uncertainty: float  # half the round trip of the sample used
    samples: int
    significant: bool  # False: |measured| <= uncertainty, so 0 is used

    def to_dict(self) -> dict[str, object]:
        return {"seconds": self.seconds, "uncertainty": self.uncertainty,
                "samples": self.samples, "significant": self.significant}


NO_OFFSET = Offset(0.0, 0.0, 0, False)


def estimate(samples: list[Sample]) -> Offset:
    if not samples:
        return NO_OFFSET
    best = min(samples, key=lambda s: s.round_trip)
    half = best.round_trip / 2
    if abs(best.offset) <= half:
        return Offset(0.0, half, len(samples), False)
    return Offset(best.offset, half, len(samples), True)


def parse_date_output(text: str) -> float | None:
    """The guest's ``date +%s.%N`` answer, or None if it is not a number."""
    for token in text.split():
        try:
            return float(token)
        except ValueError:
            continue
    return None
