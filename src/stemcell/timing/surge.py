"""What boot time costs when a fleet must grow now: a fluid queue with impatient clients.

At t = 0 demand jumps to ``rate`` requests/s. ``fleet`` instances serving
``capacity`` req/s each are already up; ``added`` more are launched at t = 0 and
all serve from t = R (the measured ready time). Requests queue FIFO; a request
that has waited ``timeout`` seconds gives up (dropped); one served after waiting
more than ``latency_budget`` is late.

Treat requests as a fluid. Let h(t) be the age of the oldest waiting request.
The queue serves C(t) req/s and the oldest request's arrival time advances at
C/λ, so ``dh/dt = 1 - C(t)/λ``, held within [0, timeout]. A served request's
wait is h at the moment it is served; at h = timeout the excess λ - C is
dropped. Before R, h grows at ``1 - C0/λ``; after R it shrinks at ``C1/λ - 1``.
That gives every count in closed form (docs/surge-model.md has the argument).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    """A flash crowd on one role. Defaults: an assumption to edit, not a measurement."""

    rate: float = 600.0  # requests/s once the surge starts
    capacity: float = 100.0  # requests/s one instance serves at its latency target
    fleet: int = 4  # instances already serving
    added: int = 4  # instances launched when the surge starts
    timeout: float = 10.0  # a client gives up after waiting this long
    latency_budget: float = 1.0  # served after waiting longer than this = late
    horizon: float = 900.0  # how long to count when the grown fleet still falls short

    def validate(self) -> None:
        if self.rate < 0 or self.capacity <= 0:
            raise ValueError("rate must be >= 0 and capacity > 0")
        if self.fleet < 0 or self.added < 0:
            raise ValueError("fleet and added must be >= 0")
        if not 0 <= self.latency_budget <= self.timeout:
            raise ValueError("need 0 <= latency_budget <= timeout")
        if self.horizon <= 0:
            raise ValueError("horizon must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class SurgeResult:
    ready_s: float
    window_s: float  # counted from the surge's start to here
    arrived: float
    on_time: float
    late: float
    dropped: float
    max_wait_s: float
    recovered_s: float | None  # when the backlog is gone (None: not within the window)
    shortfall_rps: float  # req/s the grown fleet still cannot serve (0: enough)

    @property
    def affected(self) -> float:
        return self.late + self.dropped

    def rounded(self) -> SurgeResult:
        """The figures to show and store: the fluid model's arithmetic leaves 1e-12 crumbs
        nobody should read."""
        return SurgeResult(**{k: (round(v, 3) if isinstance(v, float) else v)
                              for k, v in asdict(self).items()})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self.rounded())
        data["affected"] = round(self.affected, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SurgeResult:
        """The inverse of ``to_dict`` (``affected`` is derived, so it is not read)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


class _Tally:
    def __init__(self) -> None:
        self.on_time = 0.0
        self.late = 0.0
        self.dropped = 0.0

    def serve(self, rate: float, h_from: float, h_to: float, seconds: float,
              budget: float) -> None:
        """Serve ``rate`` for ``seconds`` while h moves linearly from h_from to h_to."""
        if seconds <= 0 or rate <= 0:
            return
        lo, hi = min(h_from, h_to), max(h_from, h_to)
        if hi <= budget:
            late_share = 0.0
        elif lo >= budget:
            late_share = 1.0
        else:
            late_share = (hi - budget) / (hi - lo)
        self.late += rate * seconds * late_share
        self.on_time += rate * seconds * (1.0 - late_share)


def _advance(tally: _Tally, h: float, seconds: float, lam: float, cap: float,
             sc: Scenario) -> float:
    """Run ``seconds`` with constant capacity from head age ``h``; return the new h."""
    if seconds <= 0:
        return h
    if lam <= 0:
        return 0.0
    slope = 1.0 - cap / lam
    served_rate = min(cap, lam) if h <= 0 and slope <= 0 else cap
    if slope > 0:  # the backlog grows until clients start giving up
        to_cap = (sc.timeout - h) / slope
        growing = min(seconds, max(0.0, to_cap))
        tally.serve(cap, h, h + slope * growing, growing, sc.latency_budget)
        h += slope * growing
        full = seconds - growing
        if full > 0:
            tally.serve(cap, sc.timeout, sc.timeout, full, sc.latency_budget)
            tally.dropped += (lam - cap) * full
            h = sc.timeout
        return h
    if slope == 0 or h <= 0:  # steady: the backlog (maybe none) stays as it is
        tally.serve(served_rate if h <= 0 else cap, h, h, seconds, sc.latency_budget)
        return h
    to_empty = h / -slope
    draining = min(seconds, to_empty)
    tally.serve(cap, h, h + slope * draining, draining, sc.latency_budget)
    h = max(0.0, h + slope * draining)
    rest = seconds - draining
    if rest > 0:
        tally.serve(lam, 0.0, 0.0, rest, sc.latency_budget)  # keeping up: served on arrival
        h = 0.0
    return h


def simulate(scenario: Scenario, ready_s: float, window_s: float | None = None) -> SurgeResult:
    """Counts for one setup whose new instances serve ``ready_s`` after launch."""
    scenario.validate()
    ready = max(0.0, float(ready_s))
    lam = scenario.rate
    before = scenario.fleet * scenario.capacity
    after = (scenario.fleet + scenario.added) * scenario.capacity
    tally = _Tally()
    h = _advance(tally, 0.0, ready, lam, before, scenario)
    max_wait = h
    shortfall = max(0.0, lam - after)
    recovered: float | None
    if lam <= 0 or (h <= 0 and lam <= after):
        recovered = 0.0 if lam <= before else ready
        drain = 0.0
    elif lam < after:
        drain = h / (after / lam - 1.0)
        recovered = ready + drain
    else:
        drain = 0.0
        recovered = None
    if window_s is None:
        window_s = ready + drain if recovered is not None else max(scenario.horizon, ready)
    window_s = max(window_s, ready)
    h_end = _advance(tally, h, window_s - ready, lam, after, scenario)
    max_wait = max(max_wait, h_end)
    if recovered is not None and recovered > window_s:
        recovered = None
    return SurgeResult(
        ready_s=ready,
        window_s=window_s,
        arrived=lam * window_s,
        on_time=tally.on_time,
        late=tally.late,
        dropped=tally.dropped,
        max_wait_s=max_wait,
        recovered_s=recovered,
        shortfall_rps=shortfall,
    )


def compare_setups(scenario: Scenario, ready: dict[str, float]) -> dict[str, SurgeResult]:
    """Every setup counted over the same window, so the counts compare directly."""
    alone = {setup: simulate(scenario, r) for setup, r in ready.items()}
    window = max((res.window_s for res in alone.values()), default=0.0)
    return {setup: simulate(scenario, r, window) for setup, r in ready.items()}
