"""mod_wsgi in the guest's Apache: the WSGI environ of a request, and the request
handed to the guest's worker (worker.py), where the script on the guest's disk
runs in an isolated process, never in stemcell's.

Like mod_wsgi in daemon mode (one process, one thread): the script is compiled
once and its ``application`` kept, reloaded when the file changes; modules next
to the script (or under WSGIPythonPath) are importable; the process runs as
www-data, its hostname is the guest's. A request that runs past the request
timeout kills the daemon (504, as mod_wsgi's ``request-timeout``), a daemon that
dies answers 500 ("Truncated or oversized response headers received from daemon
process", mod_wsgi's message); the next request starts a fresh one.
Source: https://modwsgi.readthedocs.io/en/master/configuration-directives/WSGIDaemonProcess.html
"""

from __future__ import annotations

from typing import Any

from stemcell.sandbox.machine import worker
from stemcell.sandbox.machine.system import System

WsgiReply = worker.WsgiReply
WsgiAppError = worker.WsgiAppError
WorkerError = worker.WorkerError


def environ(method: str, script_name: str, path_info: str, query: str,
            headers: dict[str, str], body: bytes, *, server_name: str, port: int,
            remote: str, document_root: str, server_software: str) -> dict[str, Any]:
    """The CGI part of the environ (wsgi.input and wsgi.errors are made in the worker)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": server_software,  # from the guest's apache2 package
        "REMOTE_ADDR": remote,
        "DOCUMENT_ROOT": document_root,
        "REQUEST_URI": script_name + path_info + (f"?{query}" if query else ""),
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": headers.get("content-type", ""),
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "mod_wsgi.process_group": "stemcell",
        "mod_wsgi.application_group": f"{server_name}|{script_name}",
    }
    for k, v in headers.items():
        key = "HTTP_" + k.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            env[key] = v
    return env


def serve(system: System, script: str, env: dict[str, Any], body: bytes,
          python_path: list[str] | None = None) -> WsgiReply:
    """Run one request through the guest's WSGI daemon; raises WsgiAppError (the app
    failed) or WorkerError (the daemon hung, died or could not start)."""
    return worker.worker_for(system).wsgi(script, list(python_path or []), env, body)
