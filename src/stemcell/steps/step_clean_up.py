"""The lab's final ``cleanup`` step: the runner itself cleans up every earlier step."""

from __future__ import annotations

from stemcell.engine.context import Context
from stemcell.engine.step import BaseStep


class CleanupStep(BaseStep):
    def run(self, ctx: Context) -> None:
        return None

    def cleanup(self, ctx: Context) -> None:
        return None
