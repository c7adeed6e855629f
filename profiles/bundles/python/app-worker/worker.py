"""The app server's worker: takes jobs from a spool folder, one at a time.

Loosely joined to the API: the API (or anything else) drops a file into
/var/spool/stemcell/jobs; the worker processes it and writes a result beside it.
Every pass it writes a heartbeat (its pid, the time, jobs done so far) that the
status page (status.wsgi) reads: the page says "ready" only while a worker runs.
"""

import json
import os
import time
from pathlib import Path

SPOOL = Path("/var/spool/stemcell/jobs")
HEARTBEAT = Path("/var/spool/stemcell/worker.json")


def process(job: Path) -> None:
    data = json.loads(job.read_text() or "{}")
    result = {"job": job.name, "words": len(str(data.get("text", "")).split())}
    job.with_suffix(".done").write_text(json.dumps(result))
    job.unlink()


def beat(done: int) -> None:
    tmp = HEARTBEAT.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "time": time.time(), "done": done}))
    tmp.replace(HEARTBEAT)


def main() -> None:
    SPOOL.mkdir(parents=True, exist_ok=True)
    print(f"worker {os.getpid()} watching {SPOOL}", flush=True)
    done = 0
    while True:
        for job in sorted(SPOOL.glob("*.json")):
            process(job)
            done += 1
            print(f"processed {job.name}", flush=True)
        beat(done)
        time.sleep(1)


if __name__ == "__main__":
    main()
