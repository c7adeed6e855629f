"""Clocks: wall time on AWS, modeled time in the sandbox.

Every mark, deadline and poll interval in the engine is in *modeled* seconds.
On AWS the modeled clock is the wall clock.

In the sandbox, modeled time is a property of the model, not of the host. A
simulated lab spends its time in two ways: *waiting* on the model (a boot
stage, apt's modeled download, a poll interval) and *host work* (Python
answering an API call, a guest's shell interpreting a boot script, an SSH
handshake). ``ModelClock`` runs ``speed`` times faster than wall time while the
whole world waits, and stands still while any actor does host work: the
model's durations are what the model says, on an idle or a loaded machine, at
any ``--speed``. The first clock billed host work at ``speed`` too, and the
same lab took 316 modeled seconds at ``--speed 6`` against 772 at ``--speed 200``.

A clock that stands still can wait forever if an actor holds it while it waits
for another's modeled time (a bug, or a student's code that blocks). So after
``VALVE`` wall seconds of uninterrupted host work the clock runs at wall speed
until the work ends; ``valve_seconds`` counts what that added, and the tests
that compare speeds assert it stays small.

Actors say when they work with ``busy()`` (a region of host work on this
thread) and ``hold()`` (work that crosses threads, such as an SSH channel whose
command has not started yet); ``sleep()`` and ``idle()`` release the calling
thread's share while it waits. A thread that is not inside ``busy()`` (the
TUI, a test) does not count. Guests write their logs with this same clock, so
their timestamps line up with the engine's marks.
"""

from __future__ import annotations

import abc
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

# A sleeper re-reads the clock at least this often (wall seconds), to notice a
# cancel event; a change of rate wakes every sleeper at once anyway.
CANCEL_POLL = 0.1
# Wall seconds of uninterrupted host work after which the clock runs at wall speed.
VALVE = 1.0


class Clock(Protocol):
    speed: float
    simulated: bool

    def now(self) -> float:
        """Modeled epoch seconds."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Sleep ``seconds`` of modeled time; False if ``cancel`` was set meanwhile."""
        ...

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """A region of host work on this thread (modeled time runs at wall speed)."""
        ...

    def idle(self) -> contextlib.AbstractContextManager[None]:
        """This thread waits on another actor (a guest's command): it does not count as busy."""
        ...

    def hold(self) -> Releasable:
        """Host work that crosses threads, counted until ``release()``."""
        ...

    def waiting(self, until: float) -> contextlib.AbstractContextManager[None]:
        """This thread waits for something due by modeled ``until`` (a timeout)."""
        ...


class Releasable(Protocol):
    def release(self) -> None: ...


class _NoHold:
    def release(self) -> None:
        pass


NO_HOLD: Releasable = _NoHold()


def release_later(hold: Releasable, seconds: float) -> None:
    """Release ``hold`` after ``seconds`` of wall time, from a timer thread."""
    timer = threading.Timer(seconds, hold.release)
    timer.daemon = True
    timer.start()


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

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def idle(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def hold(self) -> Releasable:
        return NO_HOLD

    def waiting(self, until: float) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class ReleasedOnce(abc.ABC):
    """A hold that lets go once, however many times (and from whichever thread)
    ``release()`` is called; ``_let_go`` says what letting go does."""

    def __init__(self) -> None:
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._let_go()

    @abc.abstractmethod
    def _let_go(self) -> None: ...


class Hold(ReleasedOnce):
    """One unit of host work in progress on a ``ModelClock``."""

    def __init__(self, clock: ModelClock) -> None:
        super().__init__()
        self._clock = clock

    def _let_go(self) -> None:
        self._clock._change(-1)

    @property
    def released(self) -> bool:
        return self._released


class _Share(threading.local):
    depth = 0  # nesting of busy() regions on this thread
    hold: Releasable | None = None  # this thread's share of the busy count, while it works


class ThreadShares:
    """Each thread's share of a clock's busy count: ``busy()`` regions nest, and
    ``idle()`` lets go of the share for a while (a wait), taking it back after.

    ``take`` makes a new share: a hold on the clock in this process, or one over
    the control API for a background sandbox's (sandbox/shared_clock.py)."""

    def __init__(self, take: Callable[[], Releasable]) -> None:
        self._take = take
        self._local = _Share()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        share = self._local
        share.depth += 1
        if share.depth == 1 and share.hold is None:
            share.hold = self._take()
        try:
            yield
        finally:
            share.depth -= 1
            if share.depth == 0 and share.hold is not None:
                held, share.hold = share.hold, None
                held.release()

    @contextlib.contextmanager
    def idle(self) -> Iterator[None]:
        share = self._local
        held, share.hold = share.hold, None
        if held is not None:
            held.release()
        try:
            yield
        finally:
            if held is not None and share.depth > 0:
                share.hold = self._take()


class ModelClock:
    """Modeled time: ``speed`` x wall time while the world waits, still during host work.

    ``now()`` is piecewise linear: the anchor (wall, modeled) moves at every
    change of rate, so modeled time never jumps and never runs backwards.

    A waiter's deadline also caps the clock: time does not pass a deadline until
    the thread waiting for it is awake and at work again. A thread takes a
    moment to wake (more on a loaded machine), and at ``--speed 200`` a
    millisecond is 0.2 modeled seconds; without the cap every wake-up would be
    late by that much.
    """

    simulated = True

    def __init__(self, speed: float, epoch: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        wall = time.time()
        self.epoch = wall if epoch is None else epoch
        self._cond = threading.Condition()
        self._busy = 0  # holds outstanding (threads at work, channels not yet handed over)
        self._lent = 0  # sleepers modeling a wait their blocked caller's hold stands for
        self._caps: dict[int, float] = {}  # waiter -> the deadline it waits for
        self._next_cap = 0
        # (anchor wall, anchor modeled, rate, cap): replaced whole, read without the lock.
        # Rate 0 is "host work": still for VALVE wall seconds, then at wall speed.
        self._line: tuple[float, float, float, float] = (wall, self.epoch, self.speed, math.inf)
        self._shares = ThreadShares(self.hold)
        self.valve_seconds = 0.0  # modeled seconds the valve let pass during host work
        self.valve_trips = 0

    @classmethod
    def starting_now(cls, speed: float) -> ModelClock:
        return cls(speed)

    # --- reading --------------------------------------------------------------------

    def now(self) -> float:
        return _at(self._line, time.time())

    @property
    def rate(self) -> float:
        """Modeled seconds per wall second right now (0 while host work holds the clock)."""
        wall0, _, rate, _ = self._line
        if rate == 0.0 and time.time() - wall0 > VALVE:
            return 1.0
        return rate

    @property
    def busy_count(self) -> int:
        return self._busy

    # --- host work ------------------------------------------------------------------

    def hold(self) -> Hold:
        """Count host work until ``release()`` (from any thread)."""
        self._change(+1)
        return Hold(self)

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return self._shares.busy()

    def idle(self) -> contextlib.AbstractContextManager[None]:
        return self._shares.idle()

    @contextlib.contextmanager
    def waiting(self, until: float) -> Iterator[None]:
        """Wait (not host work) for something due by modeled time ``until``.

        The clock stops at ``until`` until this thread is back at work: its
        share of the busy count is taken again before the cap is lifted."""
        token = self.cap(until)
        try:
            with self.idle():
                yield
        finally:
            self.uncap(token)

    # --- waiting --------------------------------------------------------------------

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        return self.sleep_until(self.now() + max(0.0, seconds), cancel)

    def sleep_until(self, modeled: float, cancel: threading.Event | None = None,
                    *, lend: bool = False) -> bool:
        """Wait until modeled time ``modeled``; False if ``cancel`` was set meanwhile.

        ``lend``: this wait models the latency of a request whose caller is
        blocked on us (RunInstances' own second and a half). The caller holds
        the clock while it waits for the answer; lending cancels one hold out
        so the modeled latency passes at ``speed`` and not at all.
        """
        with self.waiting(modeled):
            if lend:
                self._change(0, lent=+1)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        return False
                    with self._cond:
                        if self.now() >= modeled:
                            break
                        wall = self.to_wall(modeled) - time.time()
                        if cancel is not None:
                            wall = min(wall, CANCEL_POLL)
                        # Woken early by a change of rate, then recompute.
                        self._cond.wait(timeout=max(0.0, wall))
            finally:
                if lend:
                    self._change(0, lent=-1)
        return cancel is None or not cancel.is_set()

    def to_wall(self, modeled: float) -> float:
        """When (wall epoch) modeled time reaches ``modeled`` at the current rate: an estimate."""
        wall0, modeled0, rate, _ = self._line
        if rate == 0.0:  # still until the valve opens, then at wall speed
            return wall0 + VALVE + max(0.0, modeled - modeled0)
        return wall0 + (modeled - modeled0) / rate

    @property
    def condition(self) -> threading.Condition:
        """Notified at every change of rate or cap: a scheduler waiting on it with a
        wall timeout from ``to_wall`` re-reads the time then."""
        return self._cond

    # --- the rate and the cap -------------------------------------------------------

    def cap(self, until: float) -> int:
        """Hold modeled time at ``until`` at most, until ``uncap(token)``."""
        with self._cond:
            self._next_cap += 1
            self._caps[self._next_cap] = until
            self._reanchor(self._busy - self._lent)
            return self._next_cap

    def uncap(self, token: int) -> None:
        with self._cond:
            self._caps.pop(token, None)
            self._reanchor(self._busy - self._lent)

    def _change(self, busy: int, *, lent: int = 0) -> None:
        with self._cond:
            self._busy += busy
            self._lent += lent
            self._reanchor(self._busy - self._lent)

    def _reanchor(self, working: int) -> None:
        """Move the anchor to now, with the rate and cap the counts say (lock held)."""
        rate = self.speed if working <= 0 else 0.0
        cap = min(self._caps.values(), default=math.inf)
        line = self._line
        if rate == line[2] and cap == line[3]:
            return
        wall = time.time()
        modeled = _at(line, wall)
        if line[2] == 0.0:
            opened = _at((line[0], line[1], 0.0, math.inf), wall) - line[1]
            if opened > 0:
                self.valve_trips += 1
                self.valve_seconds += opened
        # A new cap below the present (a waiter for a moment already past) does not
        # move time back: it holds it where it is.
        self._line = (wall, modeled, rate, max(cap, modeled))
        self._cond.notify_all()


def _at(line: tuple[float, float, float, float], wall: float) -> float:
    """Modeled time at ``wall`` on the line (anchor wall, anchor modeled, rate, cap)."""
    wall0, modeled0, rate, cap = line
    if rate == 0.0:
        return min(cap, modeled0 + max(0.0, wall - wall0 - VALVE))
    return min(cap, modeled0 + (wall - wall0) * rate)
