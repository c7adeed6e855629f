"""Compare setup #1 with setup #2 from the measured timelines, and tell the story.

The comparison (``timing.comparison.ComparisonResult``) is stored in
``state.timings["comparison"]`` (so the run summary and ``stemcell report`` read
the very same numbers) and emitted as a ``Comparison`` event for the TUI's
comparison pane and the printer, both in its one JSON form (``to_dict``).
"""

from __future__ import annotations

from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.events import Comparison
from stemcell.engine.step import BaseStep
from stemcell.timing.compare import compare
from stemcell.timing.comparison import ComparisonResult
from stemcell.timing.surge import Scenario


def comparison_for(ctx: Context, scenario: Scenario | None = None) -> ComparisonResult:
    roles = list(ctx.profile.roles) if ctx.profile is not None else None
    return compare(ctx.state.timings.get("instances", {}), simulated=ctx.simulated,
                   roles=roles, scenario=scenario)


class CompareStep(BaseStep):
    def run(self, ctx: Context) -> None:
        result = comparison_for(ctx)
        if not any(row.saved_s is not None for row in result.roles):
            raise StepFailed(
                "nothing to compare: no role has a ready time for both setup #1 and setup #2",
                hint="The measure step must see both setups' servers pass their health checks.")
        data = result.to_dict()
        with ctx.store.lock:
            ctx.state.timings["comparison"] = data
            ctx.store.save()
        ctx.emit(Comparison(data=data))
        for line in result.conclusion:
            ctx.log(line)

    def cleanup(self, ctx: Context) -> None:
        """Nothing to undo: the comparison is a record, not a resource."""
