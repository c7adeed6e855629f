"""Clocks: wall time on AWS, modeled time in the sandbox.

Every mark, deadline and poll interval in the engine is in *modeled* seconds.
On AWS the modeled clock is the wall clock. In the sandbox, time runs ``speed``
times faster than wall time, so a five-minute bake takes seconds, yet every
figure still reads in the seconds a real lab would take. Guests write their
logs with the same clock, so their timestamps line up with our marks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    speed: float
    simulated: bool

    def now(self) -> float:
        """Modeled epoch seconds."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Sleep ``seconds`` of modeled time; False if ``cancel`` was set meanwhile."""
        ...


class WallClock:
    speed = 1.0
    simulated = False

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        if cancel is None:
            time.sleep(max(0.0, seconds))
            return True
        return not cancel.wait(max(0.0, seconds))


@dataclass
class ScaledClock:
    """Modeled time = ``epoch`` + (wall - ``wall_epoch``) * ``speed``."""

    speed: float
    wall_epoch: float
    epoch: float
    simulated: bool = True

    @classmethod
    def starting_now(cls, speed: float) -> ScaledClock:
        now = time.time()
        return cls(speed=speed, wall_epoch=now, epoch=now)

    def now(self) -> float:
        return self.epoch + (time.time() - self.wall_epoch) * self.speed

    def to_wall(self, modeled: float) -> float:
        return self.wall_epoch + (modeled - self.epoch) / self.speed

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        wall = max(0.0, seconds) / self.speed
        if cancel is None:
            time.sleep(wall)
            return True
        return not cancel.wait(wall)

    def sleep_until(self, modeled: float, cancel: threading.Event | None = None) -> bool:
        return self.sleep(modeled - self.now(), cancel)
