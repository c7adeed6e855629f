"""A plain HTTP GET with a timeout, for health checks from the checker's side."""

from __future__ import annotations

import http.client

from stemcell.engine.clock import Clock
from stemcell.remote.answer_wait import wait_for_answer


class ProbeError(OSError):
    """Nothing (valid) answered: refused, reset, timed out, or not HTTP."""


def get(host: str, port: int, path: str = "/", timeout: float = 5.0,
        limit: int = 1 << 20, clock: Clock | None = None) -> tuple[int, str]:
    """GET http://host:port/path -> (status, body text, at most ``limit`` bytes).

    With a ``clock``, the wait for the answer's first byte is ``timeout`` modeled
    seconds (remote/answer_wait.py): a server that is not up yet costs modeled
    time, not host time."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "stemcell-probe",
                                           "Connection": "close"})
        if clock is not None and conn.sock is not None \
                and not wait_for_answer(conn.sock, clock, timeout):
            raise TimeoutError("timed out")
        response = conn.getresponse()
        body = response.read(limit)
        return response.status, body.decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeError(f"GET http://{host}:{port}{path}: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()


def try_get(host: str, port: int, path: str = "/", timeout: float = 5.0,
            clock: Clock | None = None) -> tuple[int, str] | None:
    try:
        return get(host, port, path, timeout, clock=clock)
    except ProbeError:
        return None
