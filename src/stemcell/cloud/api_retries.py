"""Retries the SDK does not do on its own, and its backoff in the run's time.

Two things, installed on every client a ``Cloud`` builds:

1. **NotFound right after a create is retried.** EC2 is eventually consistent:
   "if you run a command to modify or describe the resource that you just
   created, its ID might not have propagated throughout the system" (EC2 API
   reference, "Eventual consistency in the Amazon EC2 API", which recommends
   retrying with exponential backoff). S3 may answer ``NoSuchBucket`` for a
   bucket created moments ago. A NotFound naming an id this client created less
   than ``FRESH_SECONDS`` ago is retried with backoff, for every step, waiter
   and cleanup at once; any other NotFound is returned as it is.
2. **Backoff in modeled seconds.** botocore's standard retry mode sleeps wall
   seconds between attempts (throttling, 5xx). The run's clock may run faster
   than the wall (the sandbox); the backoff is divided by the clock's speed so
   a throttled call costs the same *modeled* time as it would on AWS.

It also counts attempts and retries, which ``bench/faults.py`` reports.
"""

from __future__ import annotations

import threading
from typing import Any

from stemcell.cloud.aws_errors import NOT_YET_VISIBLE
from stemcell.engine.clock import Clock, WallClock

FRESH_SECONDS = 60.0  # how long after a create a NotFound is taken for "not yet"
MAX_FRESH_ATTEMPTS = 10  # 0.5+1+2+4+8*5 s = ~48 s of backoff

# Create operation -> where its answer names the new ids.
_CREATED = {
    "RunInstances": lambda p: [i.get("InstanceId", "") for i in p.get("Instances", [])],
    "CreateImage": lambda p: [p.get("ImageId", "")],
    "CopyImage": lambda p: [p.get("ImageId", "")],
    "CreateSecurityGroup": lambda p: [p.get("GroupId", "")],
    "ImportKeyPair": lambda p: [p.get("KeyName", ""), p.get("KeyPairId", "")],
    "CreateKeyPair": lambda p: [p.get("KeyName", ""), p.get("KeyPairId", "")],
}


class ApiRetries:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or WallClock()
        self.attempts = 0
        self.retries = 0
        self._fresh: dict[str, float] = {}  # id -> modeled time created
        self._lock = threading.Lock()

    # --- wiring -----------------------------------------------------------------------
    def install(self, client: Any) -> None:
        events = client.meta.events
        service = client.meta.service_model.service_id.hyphenize()
        self._scale_standard_backoff(events, service)
        events.register(f"after-call.{service}", self._learn)
        events.register(f"before-parameter-build.{service}.CreateBucket", self._learn_bucket)
        events.register(f"needs-retry.{service}", self._retry_fresh)
        events.register(f"response-received.{service}", self._count_attempt)

    def _scale_standard_backoff(self, events: Any, service: str) -> None:
        # botocore registers its standard-mode handler under this unique id
        # (botocore/retries/standard.py, register_retry_handler); wrap it so the
        # delay it returns is in the run's modeled seconds. Left alone if absent.
        unique_id = f"retry-config-{service}"
        emitter = getattr(events, "_emitter", events)
        entry = getattr(emitter, "_unique_id_handlers", {}).get(unique_id)
        if not entry:
            return
        standard = entry["handler"]

        def scaled(**kwargs: Any) -> float | None:
            delay = standard(**kwargs)
            if delay is None:
                return None
            with self._lock:
                self.retries += 1
            return self._back_off(float(delay))

        events.unregister(f"needs-retry.{service}", unique_id=unique_id)
        events.register(f"needs-retry.{service}", scaled, unique_id=unique_id)

    # --- handlers -------------------------------------------------------------------------
    def _count_attempt(self, **kwargs: Any) -> None:
        with self._lock:
            self.attempts += 1

    def _learn(self, parsed: Any = None, model: Any = None, **kwargs: Any) -> None:
        if model is None or not isinstance(parsed, dict) or "Error" in parsed:
            return
        pick = _CREATED.get(model.name)
        if pick is None:
            return
        now = self.clock.now()
        with self._lock:
            for rid in pick(parsed):
                if rid:
                    self._fresh[rid] = now

    def _learn_bucket(self, params: Any = None, **kwargs: Any) -> None:
        if isinstance(params, dict) and params.get("Bucket"):
            with self._lock:
                self._fresh[str(params["Bucket"])] = self.clock.now()

    def _retry_fresh(self, response: Any = None, attempts: int = 1,
                     request_dict: Any = None, **kwargs: Any) -> float | None:
        if not response or attempts >= MAX_FRESH_ATTEMPTS:
            return None
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        code = str((parsed or {}).get("Error", {}).get("Code", ""))
        if code not in NOT_YET_VISIBLE or not self.names_fresh(request_dict or {}):
            return None
        with self._lock:
            self.retries += 1
        return self._back_off(min(8.0, 0.5 * 2 ** (attempts - 1)))

    def _back_off(self, modeled: float) -> float:
        """Wait out a retry's back-off on the clock and tell botocore to go on at once.

        Botocore would ``time.sleep`` the delay we return; in the sandbox that wall
        time would pass inside an API call, counted as host work (engine/clock.py),
        so the back-off is spent here as the modeled wait it is."""
        self.clock.sleep(modeled)
        return 0.0

    # --- queries ----------------------------------------------------------------------------

    def names_fresh(self, request_dict: dict[str, Any]) -> bool:
        text = " ".join(str(request_dict.get(k, "")) for k in ("body", "url_path",
                                                                "query_string", "url"))
        now = self.clock.now()
        with self._lock:
            fresh = [rid for rid, t in self._fresh.items() if now - t < FRESH_SECONDS]
        return any(rid in text for rid in fresh)
