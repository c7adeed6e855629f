"""Run a WSGI script that lives on the guest's disk, for real, in process.

Like mod_wsgi: the script file is compiled and executed once, its
``application`` callable kept and reloaded when the file changes. Imports of
modules sitting next to the script (or under WSGIPythonPath) come from the
guest's disk; ``socket.gethostname()`` and ``platform.node()`` answer with the
guest's hostname. Everything else is the host's standard library.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import io
import platform
import posixpath
import socket
import threading
import traceback
import types
from collections.abc import Callable, Iterable
from typing import Any

from stemcell.sandbox.machine.disk import Disk

_cache_lock = threading.Lock()


class WsgiLoadError(Exception):
    pass


def _shim(name: str, hostname: str) -> types.ModuleType | None:
    if name == "socket":
        mod = types.ModuleType("socket")
        mod.__dict__.update(socket.__dict__)
        mod.gethostname = lambda: hostname  # type: ignore[attr-defined]
        return mod
    if name == "platform":
        mod = types.ModuleType("platform")
        mod.__dict__.update(platform.__dict__)
        mod.node = lambda: hostname  # type: ignore[attr-defined]
        return mod
    return None


class GuestApps:
    """Per-guest cache of loaded WSGI applications."""

    def __init__(self, disk_getter: Callable[[], Disk], hostname: str) -> None:
        self._disk = disk_getter
        self.hostname = hostname
        self._apps: dict[str, tuple[str, Any]] = {}

    def load(self, script: str, python_path: list[str]) -> Any:
        disk = self._disk()
        if not disk.is_file(script):
            raise WsgiLoadError(f"Target WSGI script not found or unable to stat: {script}")
        source = disk.read(script)
        digest = hashlib.sha256(source).hexdigest()
        with _cache_lock:
            cached = self._apps.get(script)
            if cached and cached[0] == digest:
                return cached[1]
        modules: dict[str, types.ModuleType] = {}
        search = [posixpath.dirname(script), *python_path]
        hostname = self.hostname

        def guest_import(name: str, globals: Any = None, locals: Any = None,
                         fromlist: Any = (), level: int = 0) -> Any:
            top = name.split(".")[0]
            if level == 0 and top in modules:
                return modules[top]
            if level == 0:
                for folder in search:
                    path = posixpath.join(folder, top + ".py")
                    if disk.is_file(path):
                        mod = types.ModuleType(top)
                        mod.__file__ = path
                        mod.__dict__["__builtins__"] = env_builtins
                        modules[top] = mod
                        exec(compile(disk.read(path), path, "exec"), mod.__dict__)
                        return mod
                shim = _shim(top, hostname)
                if shim is not None:
                    modules[top] = shim
                    return shim
            return importlib.__import__(name, globals, locals, fromlist, level)

        env_builtins = dict(builtins.__dict__)
        env_builtins["__import__"] = guest_import
        namespace: dict[str, Any] = {"__name__": "_mod_wsgi_" + digest[:16], "__file__": script,
                                     "__builtins__": env_builtins}
        try:
            exec(compile(source, script, "exec"), namespace)
        except Exception as exc:
            raise WsgiLoadError(
                f"Failed to exec Python script file '{script}'.\n" + _tb(exc)) from exc
        app = namespace.get("application")
        if not callable(app):
            raise WsgiLoadError(f"Target WSGI script '{script}' does not contain WSGI "
                                "application 'application'.")
        with _cache_lock:
            self._apps[script] = (digest, app)
        return app


def _tb(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app; returns (status line, headers, body)."""
    state: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info and state.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        state["status"] = status
        state["headers"] = headers
        return chunks.append

    chunks: list[bytes] = []
    result: Iterable[bytes] = app(environ, start_response)
    try:
        for chunk in result:
            if not isinstance(chunk, bytes):
                raise TypeError(f"sequence of byte string values expected, value of type "
                                f"{type(chunk).__name__} found")
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    if "status" not in state:
        raise RuntimeError("application did not call start_response")
    return state["status"], list(state["headers"]), b"".join(chunks)


def environ(method: str, script_name: str, path_info: str, query: str,
            headers: dict[str, str], body: bytes, *, server_name: str, port: int,
            remote: str, document_root: str, errors: io.TextIOBase | Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "Apache/2.4.58 (Ubuntu)",
        "REMOTE_ADDR": remote,
        "DOCUMENT_ROOT": document_root,
        "REQUEST_URI": script_name + path_info + (f"?{query}" if query else ""),
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": headers.get("content-type", ""),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "mod_wsgi.version": (5, 0, 0),
        "mod_wsgi.process_group": "",
        "mod_wsgi.application_group": f"{server_name}|{script_name}",
    }
    for k, v in headers.items():
        key = "HTTP_" + k.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            env[key] = v
    return env


