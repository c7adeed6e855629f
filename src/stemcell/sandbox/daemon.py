"""The background sandbox process: ``python -m stemcell.sandbox.daemon``.

Started detached by ``stemcell sandbox start`` (own session, output to
``sandbox.log`` in STEMCELL_HOME). Serves until ``POST /shutdown`` on the
control API (with its token) or SIGTERM/SIGINT, then terminates its guests, stops its servers
and removes the info file it wrote. Its credentials exist only in its memory
and in that 0600 info file (``info.write_info``); the log never names them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from stemcell.sandbox.info import SandboxInfo, log_path, remove_info, write_info


def serve(speed: float | None, faults: str = "") -> int:
    stop = threading.Event()

    from stemcell.sandbox.faults import FaultSpec
    from stemcell.sandbox.runtime import Sandbox

    spec = FaultSpec.parse(faults)
    sandbox = Sandbox(speed, on_shutdown=stop.set, faults=spec).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_info(SandboxInfo(pid=os.getpid(), endpoint_url=sandbox.endpoint_url,
                           control_url=sandbox.control_url, speed=sandbox.speed,
                           account_id=sandbox.account_id, started_at=sandbox.started_at,
                           log_file=str(log_path()), credentials=sandbox.credentials,
                           faults=spec.render()))
    logging.getLogger(__name__).info("sandbox serving: EC2 %s, control %s, speed %g",
                                     sandbox.endpoint_url, sandbox.control_url, sandbox.speed)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        remove_info(os.getpid())
        sandbox.close()
        logging.getLogger(__name__).info("sandbox stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stemcell-sandbox-daemon")
    parser.add_argument("--speed", type=float, default=None)
    parser.add_argument("--faults", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # werkzeug and botocore chatter would fill the log with every request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return serve(args.speed, args.faults)


if __name__ == "__main__":
    raise SystemExit(main())
