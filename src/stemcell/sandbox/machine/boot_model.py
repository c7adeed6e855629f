"""Modeled durations of a simulated guest, loaded from data/boot_model.yaml.

Every number there carries its real-world source; the dataclass only gives the
rest of the sandbox typed access to them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class BootModel:
    run_instances_api: float = 1.5
    pending_to_running: float = 5.0
    running_to_network: float = 7.0
    network_to_sshd: float = 2.5
    stop_duration: float = 8.0
    init_local: float = 0.6
    init_network: float = 1.8
    modules_config: float = 0.9
    modules_final: float = 0.5
    apt_update: float = 4.0
    apt_update_bytes: float = 30_100_000
    mirror_bytes_per_s: float = 25_000_000
    unpack_per_package: float = 0.35
    unpack_bytes_per_s: float = 60_000_000
    configure_per_package: float = 0.25
    triggers: float = 1.2
    service_start: float = 0.3
    service_stop: float = 0.2
    image_base: float = 45.0
    snapshot_bytes_per_s: float = 40_000_000
    base_image_bytes: float = 1_900_000_000
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def default(cls) -> BootModel:
        return _load(DATA / "boot_model.yaml")

    def download_seconds(self, nbytes: int) -> float:
        return nbytes / self.mirror_bytes_per_s

    def snapshot_seconds(self, extra_bytes: int) -> float:
        """How long a CreateImage of a disk with ``extra_bytes`` over the base stays pending."""
        return self.image_base + (self.base_image_bytes + extra_bytes) / self.snapshot_bytes_per_s


@functools.cache
def _load(path: Path) -> BootModel:
    raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    names = {f.name for f in fields(BootModel)} - {"sources"}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"{path}: unknown boot model entries: {', '.join(sorted(unknown))}")
    values = {k: float(v["value"]) for k, v in raw.items()}
    sources = {k: str(v.get("source", "")).strip() for k, v in raw.items()}
    return BootModel(**values, sources=sources)
