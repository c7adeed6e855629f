"""One modeled clock for a background sandbox and the runs that use it.

The sandbox's ``ModelClock`` runs at ``--speed`` only while nobody does host
work (engine/clock.py). A run in another process does host work the daemon
cannot see (parsing API answers, writing its state), so it tells the daemon
through the control API, and reads the daemon's time instead of keeping a copy
that would drift at the first change of rate.

- ``ClockDesk`` (daemon side) answers ``GET /clock`` and ``POST /clock``
  (``hold``/``release``, ``cap``/``uncap``, ``sleep``). Holds and caps name the
  caller's pid; a sweeper drops those of processes that died, so a crashed run
  cannot stop the sandbox's clock.
- ``RemoteClock`` (run side) is the ``Clock`` the engine gets: ``busy()``,
  ``idle()``, ``hold()`` and ``sleep()`` as in-process, over one keep-alive
  connection per thread.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from stemcell.engine.clock import (
    CANCEL_POLL,
    ModelClock,
    Releasable,
    ReleasedOnce,
    ThreadShares,
)
from stemcell.sandbox.info import pid_alive

# How long one POST /clock sleep may block (wall seconds) before the caller
# checks its cancel event and asks again.
SLEEP_SLICE = 0.25
SWEEP_EVERY = 0.5  # wall seconds between checks for holds of dead processes


class ClockDesk:
    """The daemon's side: remote holds on its clock, and sleeps on its behalf."""

    def __init__(self, clock: ModelClock) -> None:
        self.clock = clock
        self._holds: dict[str, tuple[int, Releasable]] = {}
        self._caps: dict[str, tuple[int, int]] = {}  # id -> (pid, the clock's cap token)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="sandbox-clock-sweeper",
                                         daemon=True)
        self._sweeper.start()

    def info(self) -> dict[str, float]:
        return {"speed": self.clock.speed, "now": self.clock.now(), "rate": self.clock.rate,
                "epoch": self.clock.epoch, "busy": self.clock.busy_count,
                "remote_holds": self.holds(), "valve_seconds": self.clock.valve_seconds}

    def call(self, body: dict[str, Any]) -> dict[str, Any]:
        op = body.get("op")
        if op in ("hold", "cap"):
            pid = body.get("pid")
            if not isinstance(pid, int) or pid <= 0:
                raise ValueError(f"a {op} names the caller's pid")
        if op == "cap":
            cap_id = secrets.token_hex(8)
            with self._lock:
                self._caps[cap_id] = (int(body["pid"]), self.clock.cap(float(body["until"])))
            return {"id": cap_id, "now": self.clock.now()}
        if op == "uncap":
            with self._lock:
                capped = self._caps.pop(str(body.get("id")), None)
            if capped is not None:
                self.clock.uncap(capped[1])
            return {"now": self.clock.now()}
        if op == "hold":
            hold_id = secrets.token_hex(8)
            with self._lock:
                self._holds[hold_id] = (int(body["pid"]), self.clock.hold())
            return {"id": hold_id, "now": self.clock.now()}
        if op == "release":
            with self._lock:
                held = self._holds.pop(str(body.get("id")), None)
            if held is not None:
                held[1].release()
            return {"now": self.clock.now()}
        if op == "sleep":
            until = float(body.get("until", 0.0))
            wall = min(SLEEP_SLICE, max(0.0, float(body.get("wall", SLEEP_SLICE))))
            self._sleep(until, wall)
            return {"now": self.clock.now()}
        raise ValueError(f"unknown clock operation {op!r}")

    def holds(self) -> int:
        with self._lock:
            return len(self._holds)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            held = list(self._holds.values())
            capped = list(self._caps.values())
            self._holds.clear()
            self._caps.clear()
        for _, hold in held:
            hold.release()
        for _, token in capped:
            self.clock.uncap(token)

    def _sleep(self, until: float, wall: float) -> None:
        deadline = time.monotonic() + wall
        cond = self.clock.condition
        while until - self.clock.now() > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with cond:  # woken by a change of rate or cap
                cond.wait(timeout=max(0.0, min(remaining,
                                               self.clock.to_wall(until) - time.time())))

    def _sweep(self) -> None:
        while not self._stop.wait(SWEEP_EVERY):
            with self._lock:
                dead = [k for k, (pid, _) in self._holds.items() if not pid_alive(pid)]
                gone = [self._holds.pop(k)[1] for k in dead]
                dead = [k for k, (pid, _) in self._caps.items() if not pid_alive(pid)]
                lifted = [self._caps.pop(k)[1] for k in dead]
            for hold in gone:
                hold.release()
            for token in lifted:
                self.clock.uncap(token)


class _RemoteHold(ReleasedOnce):
    def __init__(self, clock: RemoteClock, hold_id: str) -> None:
        super().__init__()
        self._clock = clock
        self._id = hold_id

    def _let_go(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a gone daemon holds nothing
            self._clock._post({"op": "release", "id": self._id})


class _Connection(threading.local):
    conn: http.client.HTTPConnection | None = None


class RemoteClock:
    """A background sandbox's clock, seen from a run in another process."""

    simulated = True

    def __init__(self, control_url: str, token: str) -> None:
        parts = urlsplit(control_url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"the sandbox's control API must be on loopback: {control_url}")
        self._port = parts.port
        self._token = token
        self._shares = ThreadShares(self._hold)
        self._conn = _Connection()  # one kept-alive connection per thread
        info = self._request("GET", None)
        self.speed = float(info["speed"])

    def now(self) -> float:
        return float(self._request("GET", None)["now"])

    def hold(self) -> Releasable:
        return self._hold()

    def _hold(self) -> _RemoteHold:
        answer = self._post({"op": "hold", "pid": os.getpid()})
        return _RemoteHold(self, str(answer["id"]))

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return self._shares.busy()

    def idle(self) -> contextlib.AbstractContextManager[None]:
        return self._shares.idle()

    @contextlib.contextmanager
    def waiting(self, until: float) -> Iterator[None]:
        answer = self._post({"op": "cap", "until": until, "pid": os.getpid()})
        try:
            with self.idle():
                yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                self._post({"op": "uncap", "id": answer["id"]})

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        until = self.now() + max(0.0, seconds)
        with self.waiting(until):
            while True:
                if cancel is not None and cancel.is_set():
                    return False
                wall = CANCEL_POLL if cancel is not None else SLEEP_SLICE
                if float(self._post({"op": "sleep", "until": until, "wall": wall})["now"]) \
                        >= until:
                    return cancel is None or not cancel.is_set()

    # --- transport ------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", body)

    def _request(self, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # a kept-alive connection the server closed: dial again
            conn = self._conn.conn
            if conn is None:
                conn = self._conn.conn = http.client.HTTPConnection("127.0.0.1", self._port,
                                                                     timeout=10)
                conn.connect()
                # A POST's headers and body are two writes: no Nagle delay between them.
                if conn.sock is not None:
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                conn.request(method, "/clock", body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._conn.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise ValueError(f"the sandbox's clock answered {response.status}: "
                                 f"{payload[:200].decode('utf-8', 'replace')}")
            answer = json.loads(payload.decode() or "{}")
            if not isinstance(answer, dict):
                raise ValueError("the sandbox's clock answered something that is not an object")
            return answer
        raise AssertionError("unreachable")
