"""A teaching step: its text is shown by the views; it touches nothing."""

from __future__ import annotations

from stemcell.engine.context import Context
from stemcell.engine.step import BaseStep


class ExplainStep(BaseStep):
    def run(self, ctx: Context) -> None:
        return None

    def cleanup(self, ctx: Context) -> None:
        return None
