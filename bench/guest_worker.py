"""What running guest code in an isolated worker costs.

    /work/venv/bin/python bench/guest_worker.py [--requests 500]

Prints: the isolation in use; the worker's start time (cold: the first start in
this process, which also probes the Python runtime with ldd; warm: a restart);
requests per second through a WSGI app (the lab's app API, api.wsgi) in the
worker, and through the old in-process path (kept here only, for the comparison:
stemcell no longer runs guest code in its own process); and a ``python3 -c``
round trip.
"""

from __future__ import annotations

import argparse
import builtins
import hashlib
import importlib
import io
import posixpath
import statistics
import time
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System, worker, worker_sandbox, wsgi

API = Path(__file__).resolve().parent.parent / "profiles/bundles/python/app-api/api.wsgi"


# --- the old in-process path (as stemcell 0.x ran a guest's WSGI app) ------------------

def load_in_process(disk: Disk, script: str) -> Any:
    """Compile the guest's script into this process (what must never happen again)."""
    source = disk.read(script)
    modules: dict[str, types.ModuleType] = {}

    def guest_import(name: str, globals: Any = None, locals: Any = None,
                     fromlist: Any = (), level: int = 0) -> Any:
        top = name.split(".")[0]
        if level == 0 and top in modules:
            return modules[top]
        if level == 0:
            path = posixpath.join(posixpath.dirname(script), top + ".py")
            if disk.is_file(path):
                mod = types.ModuleType(top)
                mod.__dict__["__builtins__"] = env_builtins
                modules[top] = mod
                exec(compile(disk.read(path), path, "exec"), mod.__dict__)
                return mod
        return importlib.__import__(name, globals, locals, fromlist, level)

    env_builtins = dict(builtins.__dict__)
    env_builtins["__import__"] = guest_import
    namespace: dict[str, Any] = {"__name__": "_mod_wsgi_" +
                                 hashlib.sha256(source).hexdigest()[:16],
                                 "__builtins__": env_builtins}
    exec(compile(source, script, "exec"), namespace)
    return namespace["application"]


def call_in_process(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> bytes:
    state: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        state["status"] = status
        return lambda _: None

    env = dict(env, **{"wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO()})
    return b"".join(app(env, start_response))


# --- measurements ---------------------------------------------------------------------

def guest() -> System:
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e9))
    system.disk.mkdir("/opt/stemcell/app-api")
    system.disk.write("/opt/stemcell/app-api/api.wsgi", API.read_bytes())
    return system


def rate(n: int, fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    iso = worker_sandbox.isolation()
    print(f"isolation: {iso.kind} ({iso.reason})")

    system = guest()
    w = worker.worker_for(system)
    script = "/opt/stemcell/app-api/api.wsgi"
    env = wsgi.environ("GET", "/api", "/health", "", {"host": "bench"}, b"",
                       server_name="bench", port=80, remote="127.0.0.1",
                       document_root="/var/www/html")
    t0 = time.perf_counter()
    w.wsgi(script, [], env, b"")
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(5):
        w._restart()
        t0 = time.perf_counter()
        w.wsgi(script, [], env, b"")
        warm.append(time.perf_counter() - t0)
    print(f"worker start + first request: cold {cold * 1000:.0f} ms, "
          f"warm {statistics.median(warm) * 1000:.0f} ms (median of 5; start alone "
          f"{w.last_start_seconds * 1000:.0f} ms)")

    in_worker = rate(args.requests, lambda: w.wsgi(script, [], env, b""))
    app = load_in_process(system.disk, script)
    in_process = rate(args.requests, lambda: call_in_process(app, env))
    print(f"WSGI requests/s: worker {in_worker:.0f}, old in-process path {in_process:.0f} "
          f"({args.requests} requests each; the worker costs "
          f"{(1 / in_worker - 1 / in_process) * 1e6:.0f} us per request)")

    shell = Shell(system, user="ubuntu")
    t0 = time.perf_counter()
    for _ in range(10):
        shell.run("python3 -c 'print(1)'", IO())
    print(f"python3 -c round trip: {(time.perf_counter() - t0) / 10 * 1000:.0f} ms")
    worker.shutdown(system)


if __name__ == "__main__":
    main()
