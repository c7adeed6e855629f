"""Bake progress: the builder stops, EBS snapshots its disk, the AMI becomes available."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from stemcell.present.view import ViewModel

# The bake's stages as ImageState.phase names them (steps/step_stop_builder.py and
# step_create_image.py): the image's progress, not a boot phase (those are timing.phases).
BAKE_STAGES = (("stopping", "builder stopped"), ("snapshot", "snapshot"),
               ("available", "available"))


class BakeProgress(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="bake-phases")
        yield ProgressBar(total=100, show_eta=False, id="bake-bar")

    def sync(self, model: ViewModel) -> None:
        image = model.baking_image()
        phases = self.query_one("#bake-phases", Static)
        bar = self.query_one("#bake-bar", ProgressBar)
        if image is None:
            phases.update(Text("Bake: the image is created after the builder stops.",
                               style="dim"))
            bar.update(progress=0)
            return
        current = "available" if image.state == "available" else (image.phase or "stopping")
        names = [p for p, _ in BAKE_STAGES]
        at = names.index(current) if current in names else 0
        text = Text(f"Baking {image.image_id}: ", style="bold")
        for n, (_phase, label) in enumerate(BAKE_STAGES):
            if n < at or image.state == "available":
                text.append(f"✔ {label}", style="green")
            elif n == at:
                text.append(f"▶ {label}", style="bold #ffb000")
            else:
                text.append(f"○ {label}", style="dim")
            if n < len(BAKE_STAGES) - 1:
                text.append(" → ", style="dim")
        if image.state == "failed":
            text.append("  image creation failed", style="bold red")
        phases.update(text)
        bar.update(progress=round(image.progress * 100))
