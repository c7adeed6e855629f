"""moto's server on loopback, quiet, speaking for one sandbox account.

Built like moto's ThreadedMotoServer (werkzeug, one thread per request) with
two differences: the request log goes nowhere (the TUI shares the terminal),
and every request passes the sandbox's front door (``front_door.FrontDoor``):
the filters that make the sandbox refuse, throttle and forget as AWS does, and
the stamp of the sandbox's own account id.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from stemcell.sandbox.front_door import FrontDoor

# Every service the lab (and the AWS CLI against `sandbox env`) talks to.
_SERVICES = ("ec2", "s3", "elbv2", "sts", "iam")
_PROFILE_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_import_lock = threading.Lock()


def import_moto() -> None:
    """Import moto's services with no AWS profile in view.

    Several moto modules build a boto3 ``Session()`` at import time (to list
    regions), which raises ProfileNotFound when AWS_PROFILE names a profile
    this machine lacks, and so does the session moto builds backends with. The
    sandbox never uses a profile (it signs with its own key), so a stray
    AWS_PROFILE must not break it: the imports and that session happen here,
    with the profile variables set aside for that moment.
    """
    with _import_lock:
        saved = {k: os.environ.pop(k) for k in _PROFILE_VARS if k in os.environ}
        try:
            for service in _SERVICES:
                importlib.import_module(f"moto.{service}")
            importlib.import_module("moto.moto_server.werkzeug_app")
            # moto builds each account's backends with one cached boto3 Session
            # (moto issue 5469): make it now, profile-less, for the whole process.
            from moto.core.base_backend import AccountSpecificBackend

            AccountSpecificBackend.get_session()
        finally:
            os.environ.update(saved)


def _quiet_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:
            return None

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    return QuietHandler


def _log_request_error(request: Any, client_address: Any) -> None:
    logging.getLogger(__name__).debug("sandbox API request from %s failed", client_address,
                                      exc_info=True)


class MotoServer:
    """EC2, S3, ELBv2 (and the rest of moto) on http://127.0.0.1:PORT."""

    def __init__(self, account_id: str, port: int = 0) -> None:
        self.account_id = account_id
        self._port = port
        self.front_door = FrontDoor(account_id)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MotoServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.front_door.inner = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", self._port, self.front_door, threaded=True,
                                   request_handler=_quiet_handler())
        # socketserver prints a failed request's traceback (a client that hung up) to
        # stderr; the TUI owns the terminal, so it goes to the log.
        self._server.handle_error = _log_request_error  # type: ignore[method-assign]
        # Request threads must not keep a closing process alive.
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        # A short poll makes stop() quick (the default 0.5 s shows in every test).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="sandbox-moto", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
