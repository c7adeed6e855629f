"""Which checks to run, in an order that puts every prerequisite first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stemcell.content.models import CheckSpec, Lab


@dataclass(frozen=True)
class PlannedCheck:
    spec: CheckSpec
    step_id: str = ""

    @property
    def id(self) -> str:
        return self.spec.id


class PlanError(ValueError):
    """The selection cannot be run (unknown step, unknown prerequisite, a cycle)."""


def applies_to(spec: CheckSpec, role: str | None) -> bool:
    """``target: any`` checks apply to every server; role checks only to that role."""
    return spec.target == "any" or (role is not None and spec.target == role)


def select(lab: Lab, steps: Sequence[str] = (), role: str | None = None) -> list[PlannedCheck]:
    """The lab's checks for ``steps`` (all if empty) and ``role``, prerequisites included.

    A prerequisite from another step is pulled in even if its step was not asked
    for: otherwise its dependents could only ever be skipped.
    """
    known = {s.id for s in lab.steps}
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise PlanError(
            f"unknown step {', '.join(unknown)} (steps with checks: "
            f"{', '.join(s.id for s in lab.steps if s.checks) or 'none'})"
        )
    every = [PlannedCheck(c, s.id) for s in lab.steps for c in s.checks]
    by_id = {p.id: p for p in every}
    chosen = {p.id for p in every if (not steps or p.step_id in steps) and applies_to(p.spec, role)}
    todo = list(chosen)
    while todo:
        for dep in by_id[todo.pop()].spec.depends:
            if dep not in chosen:
                chosen.add(dep)
                todo.append(dep)
    return order([p for p in every if p.id in chosen])


def order(checks: Iterable[PlannedCheck | CheckSpec]) -> list[PlannedCheck]:
    """Stable topological order: as written, except that prerequisites come first."""
    planned = [c if isinstance(c, PlannedCheck) else PlannedCheck(c) for c in checks]
    by_id: dict[str, PlannedCheck] = {}
    for p in planned:
        if p.id in by_id:
            raise PlanError(f"check {p.id!r} appears twice")
        by_id[p.id] = p
    for p in planned:
        for dep in p.spec.depends:
            if dep not in by_id:
                raise PlanError(f"check {p.id!r} depends on {dep!r}, which is not selected")
    result: list[PlannedCheck] = []
    state: dict[str, str] = {}

    def visit(p: PlannedCheck, path: list[str]) -> None:
        if state.get(p.id) == "done":
            return
        if state.get(p.id) == "visiting":
            raise PlanError(f"checks depend on each other in a cycle: {' -> '.join([*path, p.id])}")
        state[p.id] = "visiting"
        for dep in p.spec.depends:
            visit(by_id[dep], [*path, p.id])
        state[p.id] = "done"
        result.append(p)

    for p in planned:
        visit(p, [])
    return result
