"""A plain HTTP GET with a timeout, for health checks from the checker's side."""

from __future__ import annotations

import http.client


class ProbeError(OSError):
    """Nothing (valid) answered: refused, reset, timed out, or not HTTP."""


def get(host: str, port: int, path: str = "/", timeout: float = 5.0,
        limit: int = 1 << 20) -> tuple[int, str]:
    """GET http://host:port/path -> (status, body text, at most ``limit`` bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "stemcell-probe",
                                           "Connection": "close"})
        response = conn.getresponse()
        body = response.read(limit)
        return response.status, body.decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeError(f"GET http://{host}:{port}{path}: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()


def try_get(host: str, port: int, path: str = "/",
            timeout: float = 5.0) -> tuple[int, str] | None:
    try:
        return get(host, port, path, timeout)
    except ProbeError:
        return None
