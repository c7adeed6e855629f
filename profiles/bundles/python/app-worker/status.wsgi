"""Status page of the worker box, served by Apache at /worker/status.

It reads the heartbeat the worker (worker.py, the stemcell-worker service) writes
every second: "ready" only if the worker has beaten in the last few seconds.
"""

import json
import time

HEARTBEAT = "/var/spool/stemcell/worker.json"
STALE = 5.0  # seconds without a heartbeat: the worker is not running


def application(environ, start_response):
    try:
        with open(HEARTBEAT) as fh:
            beat = json.load(fh)
        age = time.time() - float(beat["time"])
    except (OSError, ValueError, KeyError, TypeError):
        beat, age = {}, None
    if age is not None and age < STALE:
        status = "200 OK"
        text = (f"worker: ready\nqueue: /var/spool/stemcell/jobs\npid: {beat.get('pid')}\n"
                f"jobs done: {beat.get('done', 0)}\n")
    else:
        status = "503 Service Unavailable"
        text = "worker: not running\nqueue: /var/spool/stemcell/jobs\n"
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
