"""The app server's worker: takes jobs from a spool folder, one at a time.

Loosely joined to the API: the API (or anything else) drops a file into
/var/spool/stemcell/jobs; the worker processes it and writes a result beside it.
"""

import json
import time
from pathlib import Path

SPOOL = Path("/var/spool/stemcell/jobs")


def process(job: Path) -> None:
    data = json.loads(job.read_text() or "{}")
    result = {"job": job.name, "words": len(str(data.get("text", "")).split())}
    job.with_suffix(".done").write_text(json.dumps(result))
    job.unlink()


def main() -> None:
    SPOOL.mkdir(parents=True, exist_ok=True)
    while True:
        for job in sorted(SPOOL.glob("*.json")):
            process(job)
        time.sleep(1)


if __name__ == "__main__":
    main()
