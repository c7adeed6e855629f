"""A teaching step: its text is shown by the views; it touches nothing."""

from __future__ import annotations

from typing import Any

from stemcell.engine.step import BaseStep


class ExplainStep(BaseStep):
    def run(self, ctx: Any) -> None:
        return None

    def cleanup(self, ctx: Any) -> None:
        return None
