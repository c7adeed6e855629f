"""The lab's final ``cleanup`` step: the runner itself cleans up every earlier step."""

from __future__ import annotations

from typing import Any

from stemcell.engine.step import BaseStep


class CleanupStep(BaseStep):
    def run(self, ctx: Any) -> None:
        return None

    def cleanup(self, ctx: Any) -> None:
        return None
