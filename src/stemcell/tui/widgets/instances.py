"""Instances: id, role, setup, image, state, address, uptime; updated cell by cell."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from stemcell.present.event_text import fmt_seconds
from stemcell.present.view import InstanceView, ViewModel

# Narrow panes (80 columns) show the first few: what a student scans for comes first.
COLUMNS = ("role", "setup", "state", "id", "address", "uptime", "image")
STATE_STYLES = {
    "pending": "yellow", "running": "green", "stopping": "#ff8700", "stopped": "#ff8700",
    "shutting-down": "red", "terminated": "dim red", "gone": "dim",
}


class InstancesTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[tuple[str, str], str] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def sync(self, model: ViewModel) -> None:
        for inst in model.instances.values():
            values = self._values(inst, model)
            if inst.instance_id not in self.rows:
                self.add_row(*(values[c] for c in COLUMNS), key=inst.instance_id)
                for col, cell in values.items():
                    self._cells[(inst.instance_id, col)] = cell.plain
                continue
            for col, cell in values.items():
                if self._cells.get((inst.instance_id, col)) != cell.plain:
                    self._cells[(inst.instance_id, col)] = cell.plain
                    # A column grows with its longest value ("running" becomes
                    # "terminated"): a fixed width would cut the new one.
                    self.update_cell(inst.instance_id, col, cell, update_width=True)

    @staticmethod
    def _values(inst: InstanceView, model: ViewModel) -> dict[str, Text]:
        setup = {"1": "#1 base", "2": "#2 baked", "builder": "builder"}.get(inst.setup,
                                                                         inst.setup)
        up = model.uptime(inst)
        return {
            "id": Text(inst.instance_id),
            "role": Text(inst.role),
            "setup": Text(setup),
            "state": Text(inst.state, style=STATE_STYLES.get(inst.state, "")),
            "address": Text(inst.address),
            "uptime": Text(fmt_seconds(up) if up is not None else "-"),
            "image": Text(inst.image_id),
        }

    @property
    def selected_instance(self) -> str | None:
        if not self.row_count:
            return None
        row = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(row.value) if row.value is not None else None
