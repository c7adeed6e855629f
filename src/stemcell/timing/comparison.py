"""The comparison of setup #1 with setup #2, as types, and its one JSON form.

``timing.compare`` builds a :class:`ComparisonResult`; the compare step stores
its ``to_dict()`` in ``state.timings["comparison"]`` and ships it in the
``Comparison`` event (the engine's events sit below ``timing``, so they carry the
JSON form); every reader (the view model, the headless printer, the report)
turns it back with ``ComparisonResult.from_dict`` and works on the types. The
JSON shape is the one recordings and ``state.json`` files already hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stemcell.timing.phases import PHASES
from stemcell.timing.stats import Stats
from stemcell.timing.surge import Scenario, SurgeResult

COMPARISON_VERSION = 1
SETUPS: tuple[str, str] = ("1", "2")


def _stats_to(entry: Stats | None) -> dict[str, Any] | None:
    return None if entry is None else entry.to_dict()


def _stats_from(data: Any) -> Stats | None:
    return None if data is None else Stats.from_dict(data)


@dataclass
class SetupBlock:
    """One role under one setup, over its launches."""

    n: int
    instances: list[str]
    ready: Stats | None  # RunInstances sent -> HTTP healthy
    phases: dict[str, Stats | None]  # phase key -> stats (timing.phases.PHASES order)
    bytes: Stats | None  # downloaded at boot
    cloud_init: dict[str, Stats | None]  # cloud-init stage -> seconds
    not_ready: list[str]  # instances that never served their health check

    def median(self, phase_key: str) -> float | None:
        found = self.phases.get(phase_key)
        return None if found is None else found.median

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "instances": list(self.instances),
            "ready": _stats_to(self.ready),
            "phases": {k: _stats_to(v) for k, v in self.phases.items()},
            "bytes": _stats_to(self.bytes),
            "cloud_init": {k: _stats_to(v) for k, v in self.cloud_init.items()},
            "not_ready": list(self.not_ready),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SetupBlock:
        return cls(
            n=int(data["n"]),
            instances=[str(i) for i in data.get("instances", [])],
            ready=_stats_from(data.get("ready")),
            phases={str(k): _stats_from(v) for k, v in (data.get("phases") or {}).items()},
            bytes=_stats_from(data.get("bytes")),
            cloud_init={str(k): _stats_from(v)
                        for k, v in (data.get("cloud_init") or {}).items()},
            not_ready=[str(i) for i in data.get("not_ready", [])],
        )


@dataclass
class RoleRow:
    role: str
    setups: dict[str, SetupBlock]  # "1" and/or "2"
    ratio: float | None = None  # setup #1 ready median / setup #2's
    saved_s: float | None = None  # setup #1 ready median - setup #2's
    dominant_phase: str | None = None  # the phase key whose medians differ most

    @property
    def both(self) -> bool:
        return all(s in self.setups for s in SETUPS)

    def ready(self, setup: str) -> float | None:
        block = self.setups.get(setup)
        return None if block is None or block.ready is None else block.ready.median

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "setups": {k: v.to_dict() for k, v in self.setups.items()},
                "ratio": self.ratio, "saved_s": self.saved_s,
                "dominant_phase": self.dominant_phase}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoleRow:
        ratio, saved = data.get("ratio"), data.get("saved_s")
        return cls(
            role=str(data["role"]),
            setups={str(k): SetupBlock.from_dict(v) for k, v in data["setups"].items()},
            ratio=None if ratio is None else float(ratio),
            saved_s=None if saved is None else float(saved),
            dominant_phase=data.get("dominant_phase"),
        )


@dataclass
class Surge:
    """The surge model run on one role with both setups' ready times."""

    role: str
    scenario: Scenario
    results: dict[str, SurgeResult]  # by setup

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "scenario": self.scenario.to_dict(),
                "results": {s: r.to_dict() for s, r in self.results.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Surge:
        return cls(role=str(data["role"]), scenario=Scenario.from_dict(data["scenario"]),
                   results={str(s): SurgeResult.from_dict(r)
                            for s, r in data["results"].items()})


@dataclass
class ComparisonResult:
    simulated: bool
    source: str  # in words: simulated in the sandbox, or measured on AWS
    roles: list[RoleRow]
    surge: Surge | None = None
    conclusion: list[str] = field(default_factory=list)
    version: int = COMPARISON_VERSION

    def row(self, role: str) -> RoleRow | None:
        return next((r for r in self.roles if r.role == role), None)

    def ready_stats(self, role: str, setup: str) -> Stats | None:
        row = self.row(role)
        block = None if row is None else row.setups.get(setup)
        return None if block is None else block.ready

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "simulated": self.simulated,
            "source": self.source,
            "units": "seconds",
            # Written for readers of the JSON; the labels come from timing.phases.
            "phases": [{"key": p.key, "label": p.label} for p in PHASES],
            "roles": [r.to_dict() for r in self.roles],
            "surge": None if self.surge is None else self.surge.to_dict(),
            "conclusion": list(self.conclusion),
        }

    @classmethod
    def stored_in(cls, timings: dict[str, Any]) -> ComparisonResult | None:
        """The comparison a run stored (``state.timings["comparison"]``), if it has one.

        ValueError, saying so, when it is there but cannot be read.
        """
        found = timings.get("comparison")
        if not found:
            return None
        try:
            return cls.from_dict(found)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"its stored comparison cannot be read ({exc!r})") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComparisonResult:
        """Read a stored or recorded comparison (KeyError, TypeError or ValueError if it
        is not one)."""
        version = int(data.get("version", COMPARISON_VERSION))
        if version > COMPARISON_VERSION:
            raise ValueError(f"comparison version {version} is newer than this stemcell reads")
        surge = data.get("surge")
        conclusion = data.get("conclusion") or []
        if isinstance(conclusion, str):
            conclusion = [conclusion]
        return cls(
            simulated=bool(data["simulated"]),
            source=str(data.get("source", "")),
            roles=[RoleRow.from_dict(r) for r in data.get("roles", [])],
            surge=None if not surge else Surge.from_dict(surge),
            conclusion=[str(line) for line in conclusion if line],
            version=version,
        )
