"""The Step protocol, after Packer's multistep: ``run`` does, ``cleanup`` undoes.

Every step that started is cleaned up, newest first, whatever happened. A step's
``cleanup`` must be safe to call when ``run`` failed half-way or never created
anything, and safe to call twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stemcell.content.models import StepSpec
    from stemcell.engine.context import Context


class Step(Protocol):
    spec: StepSpec

    def run(self, ctx: Context) -> None: ...

    def cleanup(self, ctx: Context) -> None: ...


class BaseStep:
    """Default cleanup: delete what this step recorded in the ledger, newest first."""

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec

    @property
    def id(self) -> str:
        return self.spec.id

    def run(self, ctx: Context) -> None:  # pragma: no cover - every step overrides it
        raise NotImplementedError

    def cleanup(self, ctx: Context) -> None:
        ctx.delete_resources(step_id=self.spec.id)
