"""`cloud-init status [--wait] [--long] [--format json]` and `cloud-init analyze`."""

from __future__ import annotations

import json

import yaml

from stemcell.sandbox.machine import cloud_init_boot as ci
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, Shell


def _exit_code(status: str) -> int:
    return {"error": 1, "degraded": 2}.get(status, 0)


@command("cloud-init")
def cloud_init(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        io.print("usage: cloud-init [-h] [--version] [--debug] [--force] "
                 "{init,modules,single,query,features,analyze,devel,collect-logs,clean,status,"
                 "schema} ...")
        return 0 if args else 2
    if args[0] in ("--version", "-v"):
        io.print(f"/usr/bin/cloud-init {ci.VERSION}")
        return 0
    sub, rest = args[0], args[1:]
    system = sh.system
    if sub == "status":
        wait = "--wait" in rest or "-w" in rest
        long_ = "--long" in rest or "-l" in rest
        fmt = "tabular"
        for i, a in enumerate(rest):
            if a == "--format" and i + 1 < len(rest):
                fmt = rest[i + 1]
            elif a.startswith("--format="):
                fmt = a.split("=", 1)[1]
        if wait:
            dots = 0
            while system.cloud_init.status in ("not started", "running"):
                if fmt == "tabular":
                    io.print(".", end="")
                    dots += 1
                sh.sleep(0.25)
            if dots:
                io.print()
        doc = ci.status_doc(system)
        if fmt == "json":
            io.print(json.dumps(doc, indent=2, sort_keys=True))
        elif fmt == "yaml":
            io.print(yaml.safe_dump(doc, sort_keys=True).rstrip())
        else:
            io.print(f"status: {doc['status']}")
            if long_:
                io.print(f"extended_status: {doc['extended_status']}")
                io.print(f"boot_status_code: {doc['boot_status_code']}")
                if doc["last_update"]:
                    io.print(f"last_update: {doc['last_update']}")
                io.print(f"detail: {doc['detail']}")
                if doc["errors"]:
                    io.print("errors:")
                    for e in doc["errors"]:
                        io.print(f"\t- {e}")
                else:
                    io.print("errors: []")
                if doc["recoverable_errors"]:
                    io.print("recoverable_errors:\nWARNING:")
                    for w in doc["recoverable_errors"]["WARNING"]:
                        io.print(f"\t- {w}")
                else:
                    io.print("recoverable_errors: {}")
        return 2 if doc["extended_status"] == "degraded done" else _exit_code(doc["status"])
    if sub == "analyze":
        what = rest[0] if rest else ""
        infile = ci.LOG
        for i, a in enumerate(rest):
            if a in ("-i", "--infile") and i + 1 < len(rest):
                infile = rest[i + 1]
        disk = system.disk
        if not disk.exists(infile):
            io.eprint(f"Empty file {infile}")
            return 1
        if not disk.can_read(infile, sh.user):
            io.eprint(f"[Errno 13] Permission denied: '{infile}'")
            return 1
        events = ci.parse_log(disk.read_text(infile))
        if what == "dump":
            io.out(ci.analyze_dump(events).encode())
            return 0
        if what == "show":
            io.out(ci.analyze_show(events).encode())
            return 0
        if what == "blame":
            rows = []
            starts = {}
            for ev in events:
                if ev["event_type"] == "start":
                    starts[ev["name"]] = ev["timestamp"]
                elif "/" in ev["name"]:
                    rows.append((ev["timestamp"] - starts.get(ev["name"], ev["timestamp"]),
                                 ev["name"].split("/", 1)[1]))
            io.print("-- Boot Record 01 --")
            for took, name in sorted(rows, reverse=True):
                io.print(f"     {took:08.5f}s ({name})")
            io.print("\n1 boot records analyzed")
            return 0
        io.eprint("usage: cloud-init analyze [-h] {blame,show,dump,boot} ...")
        return 2
    if sub == "query" and rest:
        values = {"instance_id": system.instance_id, "instance-id": system.instance_id,
                  "local_hostname": system.hostname, "region": "us-east-1",
                  "cloud_name": "aws", "platform": "ec2"}
        key = rest[-1].removeprefix("v1.").removeprefix("ds.meta_data.")
        if key in values:
            io.print(values[key])
            return 0
        io.eprint(f"Undefined {rest[-1]} in instance-data")
        return 1
    io.eprint(f"not simulated in the sandbox: cloud-init {sub} (it would run on AWS)")
    return 127
