"""The sandbox's guests: one simulated machine per instance, one disk per image.

The fleet knows which disk an image boots (a fresh Canonical image, or the disk
snapshotted from a guest at CreateImage) and which guest answers for an
instance. It never touches moto's state; the lifecycle hooks do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stemcell.engine.clock import ModelClock


class GuestLike(Protocol):
    """What the control plane needs of a simulated guest (see cloud.sandbox.guest)."""

    ssh_port: int
    http_port: int

    @property
    def phase(self) -> str: ...

    def boot(self) -> None: ...

    def shutdown(self) -> None: ...

    def destroy(self) -> None: ...

    def snapshot(self) -> Any: ...

    def console_output(self) -> str: ...

    def http_ok(self, path: str) -> tuple[int, str]: ...


GuestFactory = Callable[..., GuestLike]


@dataclass(frozen=True)
class Lineage:
    """The Canonical image a disk descends from (baked images keep their base's)."""

    release: str
    arch: str


@dataclass
class GuestRecord:
    instance_id: str
    guest: GuestLike
    instance: Any  # moto's Instance: its IPs and state are read live
    image_id: str
    lineage: Lineage
    generation: int = 0  # bumped by every state change; stale timers check it


@dataclass
class Fleet:
    clock: ModelClock
    model: Any
    guest_factory: GuestFactory
    disk_factory: Callable[[str, str], Any]
    _guests: dict[str, GuestRecord] = field(default_factory=dict)
    _images: dict[str, tuple[Any, Lineage]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # images -------------------------------------------------------------------
    def add_image(self, image_id: str, disk: Any | None, lineage: Lineage) -> None:
        """``disk`` None: a base image whose fresh disk is made at each launch."""
        with self._lock:
            self._images[image_id] = (disk, lineage)

    def forget_image(self, image_id: str) -> None:
        with self._lock:
            self._images.pop(image_id, None)

    def knows_image(self, image_id: str) -> bool:
        with self._lock:
            return image_id in self._images

    def image_disk(self, image_id: str) -> Any | None:
        with self._lock:
            entry = self._images.get(image_id)
        return entry[0] if entry else None

    def disk_for_launch(self, image_id: str) -> tuple[Any, Lineage]:
        with self._lock:
            entry = self._images.get(image_id)
        if entry is None:
            raise KeyError(image_id)
        disk, lineage = entry
        # Every launch gets its own copy: instances never share a disk.
        fresh = self.disk_factory(lineage.release, lineage.arch) if disk is None else disk.copy()
        return fresh, lineage

    def base_bytes(self, lineage: Lineage) -> int:
        return int(self.disk_factory(lineage.release, lineage.arch).used_bytes())

    # guests -------------------------------------------------------------------
    def create(self, instance: Any, image_id: str, *, user_data: str | None,
               launch_key: str | None) -> GuestRecord:
        disk, lineage = self.disk_for_launch(image_id)
        private_ip = str(instance.private_ip or "")
        guest = self.guest_factory(
            instance.id, disk, self.clock, self.model,
            user_data=user_data,
            hostname="ip-" + private_ip.replace(".", "-"),
            private_ip=private_ip,
            public_ip=str(instance.public_ip or ""),
            launch_key=launch_key,
            image_id=image_id,
        )
        record = GuestRecord(instance.id, guest, instance, image_id, lineage)
        with self._lock:
            self._guests[instance.id] = record
        return record

    def get(self, instance_id: str) -> GuestRecord | None:
        with self._lock:
            return self._guests.get(instance_id)

    def drop(self, instance_id: str) -> GuestRecord | None:
        with self._lock:
            return self._guests.pop(instance_id, None)

    def records(self) -> list[GuestRecord]:
        with self._lock:
            return list(self._guests.values())

    def describe(self) -> dict[str, dict[str, Any]]:
        """The control API's view: where to dial each live guest."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            inst = rec.instance
            out[rec.instance_id] = {
                "public_ip": inst.public_ip or "",
                "private_ip": inst.private_ip or "",
                "ssh": ["127.0.0.1", rec.guest.ssh_port],
                "http": ["127.0.0.1", rec.guest.http_port],
                "phase": rec.guest.phase,
                "state": inst.state,
                "image_id": rec.image_id,
                "key_name": inst.key_name or "",
                "tags": _tags(inst),
            }
        return out


def _tags(instance: Any) -> dict[str, str]:
    return dict(instance.ec2_backend.tags.get(instance.id, {}))
