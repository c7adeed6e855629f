"""cloud-init on the simulated guest: stages, logs in cloud-init's own formats,
per-instance semantics, status and analyze.

/var/log/cloud-init.log lines look like cloud-init's file handler writes them
(``2026-11-28 01:02:03,456 - util.py[DEBUG]: ...``) with the stage banners
(``Cloud-init v. 24.4.1-0ubuntu0~24.04.1 running 'init-local' at ...``) and
``start:``/``finish:`` reporting events that ``cloud-init analyze`` reads. The
analyzer below parses the log back (as the real one does), so `cloud-init
analyze dump/show` over SSH answer from what is on the disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import yaml

from stemcell.engine.redact import redact
from stemcell.sandbox.machine.system import System, Timeline

VERSION = "24.4.1-0ubuntu0~24.04.1"
LOG = "/var/log/cloud-init.log"
OUTPUT = "/var/log/cloud-init-output.log"

# cloud-init's stage banners ('init' is reported by analyze as 'init-network').
STAGES = {"init-local": "init-local", "init-network": "init",
          "modules-config": "modules:config", "modules-final": "modules:final"}
STAGE_DESCRIPTIONS = {
    "finished": "finished running cloud-init",
    "init-local": "starting search for local datasources",
    "init-network": "searching for network datasources",
    "init": "searching for network datasources",
    "modules-config": "running config modules",
    "modules-final": "finalizing modules",
    "modules": "running modules for",
    "single": "running single module ",
}


def log_stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f",{int((t % 1) * 1000):03d}"


def rfc2822(t: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


class CloudInit:
    """Runs the four stages on a guest's System, writing logs as it goes."""

    def __init__(self, system: System, *, user_data: bytes | None, launch_key: str | None,
                 boot_wall_start: float, console: Callable[..., None],
                 host_keys: Callable[[bool], list[tuple[str, str, str]]],
                 timeline: Timeline | None = None) -> None:
        self.system = system
        self.user_data = user_data or b""
        self.launch_key = (launch_key or "").strip()
        self.boot_start = boot_wall_start  # modeled time the kernel started
        self.console = console
        # host_keys(regenerate) -> [(type label, fingerprint line, public key line)]
        self.host_keys = host_keys
        self.first_boot = False
        self.timeline = timeline or Timeline(system.clock)

    # --- writing -------------------------------------------------------------------

    def up(self) -> float:
        return self.system.now() - self.boot_start

    def log(self, module: str, msg: str, level: str = "DEBUG") -> None:
        # Stamped by the guest's wall clock (System.wall_now): a constant offset from
        # modeled time, so `cloud-init analyze` on this log measures modeled durations
        # and the lab's `date +%s.%N` offset correction lines it up with its marks.
        line = f"{log_stamp(self.system.wall_now())} - {module}[{level}]: {redact(msg)}\n"
        with self.system.lock:
            self.system.disk.write(LOG, line, append=True, parents=True, group="adm",
                                   mode=0o640 if not self.system.disk.exists(LOG) else None)

    def out(self, data: bytes | str) -> None:
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        with self.system.lock:
            self.system.disk.write(OUTPUT, redact(data), append=True, parents=True, group="adm",
                                   mode=0o640 if not self.system.disk.exists(OUTPUT) else None)

    def event(self, kind: str, name: str, desc: str, result: str = "SUCCESS") -> None:
        if kind == "start":
            self.log("handlers.py", f"start: {name}: {desc}")
        else:
            self.log("handlers.py", f"finish: {name}: {result}: {desc}")

    def spend(self, seconds: float) -> bool:
        """Modeled time on the boot's timeline (overhead is absorbed, not added)."""
        return self.timeline.advance(seconds, self.system.cancel)

    def _banner(self, stage: str) -> str:
        return (f"Cloud-init v. {VERSION} running '{STAGES[stage]}' at "
                f"{rfc2822(self.system.wall_now())}. Up {self.up():.2f} seconds.")

    def _begin(self, stage: str, pid: str, to_output_log: bool = True) -> None:
        """A stage's start: its status, and its banner in the log, the output log, the console."""
        self._status("running", stage)
        banner = self._banner(stage)
        self.log("util.py", banner)
        if to_output_log:
            self.out(banner + "\n")
        self.console(f"cloud-init[{_pid(pid)}]: {banner}")

    def _status(self, status: str, stage: str = "") -> None:
        ci = self.system.cloud_init
        ci.status = status
        ci.stage = stage
        ci.last_update = self.system.wall_now()  # shown as a date by `status --long`
        result: dict[str, Any] = {"v1": {"datasource": "DataSourceEc2Local", "errors": ci.errors,
                         "recoverable_errors": {}, "stage": stage or None}}
        self.system.disk.write("/run/cloud-init/status.json", json.dumps(result, indent=1),
                               parents=True)
        if status in ("done", "error"):
            self.system.disk.write("/run/cloud-init/result.json", json.dumps(
                {"v1": {"datasource": "DataSourceEc2Local", "errors": ci.errors,
                        "recoverable_errors": {}}}, indent=1), parents=True)

    # --- stages --------------------------------------------------------------------

    def init_local(self) -> None:
        system = self.system
        disk = system.disk
        iid = system.instance_id
        previous = disk.read_text("/var/lib/cloud/data/instance-id").strip() \
            if disk.exists("/var/lib/cloud/data/instance-id") else ""
        self.first_boot = previous != iid
        self.system.cloud_init.boot_started = system.now()
        self.system.cloud_init.errors = []
        self.system.cloud_init.recoverable = []
        # (init-local's output goes to the journal, not cloud-init-output.log)
        self._begin("init-local", "local", to_output_log=False)
        self.event("start", "init-local/check-cache", "attempting to read from cache [check]")
        self.log("stages.py", "no cache found" if self.first_boot
                 else f"restored from cache with run check: DataSourceEc2Local [{iid}]")
        self.event("finish", "init-local/check-cache",
                   "no cache found" if self.first_boot else "restored from checked cache")
        self.event("start", "init-local/search-Ec2Local",
                   "searching for local data from DataSourceEc2Local")
        self.spend(system.model.init_local)
        self.log("DataSourceEc2.py", "Crawled metadata service using link-local ipv4")
        self.event("finish", "init-local/search-Ec2Local",
                   "found local data from DataSourceEc2Local")
        self.event("finish", "init-local", STAGE_DESCRIPTIONS["init-local"])

    def init_network(self) -> None:
        system = self.system
        disk = system.disk
        iid = system.instance_id
        self._begin("init-network", "init")
        self.out(_ci_info(system))
        for line in _ci_info(system).splitlines():
            self.console(f"cloud-init[{_pid('init')}]: {line}")
        with system.lock:
            disk.write("/var/lib/cloud/data/instance-id", iid + "\n", parents=True)
            disk.mkdir(f"/var/lib/cloud/instances/{iid}/sem")
            disk.symlink(f"/var/lib/cloud/instances/{iid}", "/var/lib/cloud/instance",
                         force=True)
            if self.user_data:
                disk.write(f"/var/lib/cloud/instances/{iid}/user-data.txt", self.user_data,
                           mode=0o600)
        step = system.model.init_network / 4
        for module in ("seed_random", "write_files", "growpart", "resizefs", "set_hostname",
                       "update_hostname", "update_etc_hosts", "users_groups", "ssh"):
            name = f"init-network/config-{module}"
            self.event("start", name, f"running config-{module} with frequency once-per-instance")
            if module == "set_hostname":
                with system.lock:
                    disk.write("/etc/hostname", system.hostname + "\n")
            if module == "ssh":
                self.spend(step * 2)
                fresh = self.first_boot
                keys = self.host_keys(fresh)
                if fresh:
                    for label, fp, _pub in keys:
                        kind = label.lower()
                        self.out(f"Generating public/private {kind} key pair.\n"
                                 f"Your identification has been saved in "
                                 f"/etc/ssh/ssh_host_{kind}_key\n"
                                 f"Your public key has been saved in "
                                 f"/etc/ssh/ssh_host_{kind}_key.pub\n"
                                 f"The key fingerprint is:\n{fp.split(' ')[1]} "
                                 f"root@{system.hostname}\n")
                    self._authorize()
            self.event("finish", name, f"running config-{module} with frequency "
                                       "once-per-instance")
        self.spend(step * 2)
        self.event("finish", "init-network", STAGE_DESCRIPTIONS["init-network"])

    def _authorize(self) -> None:
        if not self.launch_key:
            return
        disk = self.system.disk
        path = "/home/ubuntu/.ssh/authorized_keys"
        with self.system.lock:
            disk.mkdir("/home/ubuntu/.ssh", mode=0o700, owner="ubuntu")
            existing = disk.read_text(path) if disk.exists(path) else ""
            lines = [ln for ln in existing.splitlines() if ln.strip()]
            if self.launch_key not in lines:
                lines.append(self.launch_key)
            disk.write(path, "".join(ln + "\n" for ln in lines), mode=0o600, owner="ubuntu",
                       group="ubuntu")

    def modules_config(self) -> None:
        system = self.system
        self._begin("modules-config", "config")
        step = system.model.modules_config / 5
        for module in ("locale", "grub_dpkg", "apt_configure", "timezone", "runcmd"):
            name = f"modules-config/config-{module}"
            self.event("start", name, f"running config-{module} with frequency once-per-instance")
            self.spend(step)
            self.event("finish", name, f"running config-{module} with frequency "
                                       "once-per-instance")
        self.event("finish", "modules-config", STAGE_DESCRIPTIONS["modules-config"])

    def modules_final(self, run_script: Callable[[str, Callable[[bytes], None]], int]) -> None:
        """``run_script(text, write)`` runs a user script as root; returns its status."""
        system = self.system
        disk = system.disk
        iid = system.instance_id
        self._begin("modules-final", "final")
        failed: list[str] = []
        step = system.model.modules_final / 4
        for module in ("package_update_upgrade_install", "scripts_user",
                       "ssh_authkey_fingerprints", "keys_to_console", "final_message"):
            freq = "always" if module in ("final_message",) else "once-per-instance"
            name = f"modules-final/config-{module}"
            sem = f"/var/lib/cloud/instances/{iid}/sem/config_{module}"
            if freq != "always" and disk.exists(sem):
                self.log("helpers.py", f"config-{module} already ran (freq={freq})")
                self.event("start", name, f"running config-{module} with frequency {freq}")
                self.event("finish", name, f"config-{module} previously ran")
                continue
            self.event("start", name, f"running config-{module} with frequency {freq}")
            ok = True
            if module == "scripts_user":
                ok = self._user_scripts(run_script)
            elif module == "package_update_upgrade_install":
                ok = self._cloud_config_packages(run_script)
            elif module == "keys_to_console":
                self._keys_to_console()
            else:
                self.spend(step)
            if system.cancel.is_set():
                return  # powered off mid-stage: no semaphore, nothing more is logged
            if not ok:
                failed.append(module)
                self.log("util.py", f"Running module {module} failed", level="WARNING")
                self.event("finish", name, f"running config-{module} with frequency {freq}",
                           result="FAIL")
            else:
                self.event("finish", name, f"running config-{module} with frequency {freq}")
            with system.lock:
                disk.write(sem, f"{time.time()}\n", parents=True)
        ci = system.cloud_init
        for module in failed:
            ci.errors.append(f"('{module}', RuntimeError('Runparts: 1 failures "
                             f"(part-001) in 1 attempted commands'))"
                             if module == "scripts_user" else f"Running module {module} failed")
        self.event("finish", "modules-final", STAGE_DESCRIPTIONS["modules-final"],
                   result="FAIL" if failed else "SUCCESS")
        final = (f"Cloud-init v. {VERSION} finished at {rfc2822(system.wall_now())}. "
                 f"Datasource DataSourceEc2Local.  Up {self.up():.2f} seconds")
        self.log("util.py", final)
        self.out(final + "\n")
        self.console(f"cloud-init[{_pid('final')}]: {final}")
        with system.lock:
            disk.write("/var/lib/cloud/instance/boot-finished",
                       f"{self.up():.2f} - {rfc2822(system.wall_now())} - v. {VERSION}\n")
        self._status("error" if failed else "done")
        system.cloud_init_done.set()

    def _cloud_config(self) -> dict[str, Any] | None:
        text = self.user_data.decode("utf-8", "replace")
        if not text.startswith("#cloud-config"):
            return None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            self.log("util.py", f"Failed loading yaml blob. {exc}", level="WARNING")
            return None
        return data if isinstance(data, dict) else None

    def _cloud_config_packages(self, run_script: Callable[[str, Callable[[bytes], None]],
                                                          int]) -> bool:
        cfg = self._cloud_config() if self.first_boot else None
        if not cfg:
            self.spend(self.system.model.modules_final / 4)
            return True
        lines = []
        for f in cfg.get("write_files") or []:
            if isinstance(f, dict) and f.get("path"):
                content = str(f.get("content", ""))
                lines.append(f"cat > {_q(f['path'])} <<'__SANDBOX_EOF__'\n{content.rstrip()}\n"
                             "__SANDBOX_EOF__")
                if f.get("permissions"):
                    lines.append(f"chmod {f['permissions']} {_q(f['path'])}")
                if f.get("owner"):
                    lines.append(f"chown {f['owner']} {_q(f['path'])}")
        if cfg.get("package_update") or cfg.get("packages"):
            lines.append("apt-get update")
        if cfg.get("packages"):
            pkgs = " ".join(str(p) for p in cfg["packages"])
            lines.append(f"DEBIAN_FRONTEND=noninteractive apt-get install -y {pkgs}")
        status = run_script("\n".join(lines), self.out) if lines else 0
        return status == 0

    def _user_scripts(self, run_script: Callable[[str, Callable[[bytes], None]], int]) -> bool:
        system = self.system
        iid = system.instance_id
        text = self.user_data.decode("utf-8", "replace")
        cfg = self._cloud_config()
        if cfg is not None:
            cmds = cfg.get("runcmd") or []
            text = "#!/bin/sh\n" + "\n".join(
                " ".join(_q(str(a)) for a in c) if isinstance(c, list) else str(c)
                for c in cmds) + "\n" if cmds else ""
        if text.strip() and not text.startswith("#!"):
            # What cloud-init does with user data that is neither a script nor cloud-config.
            self.log("__init__.py", "Unhandled non-multipart (text/x-not-multipart) userdata: "
                     f"'{text[:40]!r}...'", level="WARNING")
            system.cloud_init.recoverable.append(
                "Unhandled non-multipart (text/x-not-multipart) userdata")
        if not text.strip() or not text.startswith("#!"):
            self.spend(system.model.modules_final / 4)
            return True
        part = f"/var/lib/cloud/instances/{iid}/scripts/part-001"
        with system.lock:
            system.disk.write(part, text, mode=0o700, parents=True)
        self.log("subp.py", f"Running command ['{part.replace(f'instances/{iid}', 'instance')}']"
                 " with allowed return codes [0] (shell=False, capture=False)")
        status = run_script(text, lambda b: self.out(b))
        if status != 0:
            shown = part.replace(f"instances/{iid}", "instance")
            self.log("subp.py", f"Failed running {shown} [{status}]", level="WARNING")
            msg = ("Failed to run module scripts_user (scripts in /var/lib/cloud/instance/"
                   "scripts)")
            self.log("util.py", msg, level="WARNING")
            stamp = log_stamp(system.wall_now())
            self.out(f"{stamp} - subp.py[WARNING]: Failed running {shown} [{status}]\n"
                     f"{stamp} - util.py[WARNING]: {msg}\n")
            return False
        return True

    def _keys_to_console(self) -> None:
        system = self.system
        keys = self.host_keys(False)
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(system.wall_now()))
        hashes = "#" * 61
        lines = [f"<14>{stamp} cloud-init: {hashes}",
                 f"<14>{stamp} cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----"]
        lines += [f"<14>{stamp} cloud-init: {fp}" for _, fp, _ in keys]
        lines += [f"<14>{stamp} cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
                  f"<14>{stamp} cloud-init: {hashes}",
                  "-----BEGIN SSH HOST KEY KEYS-----"]
        lines += [pub for _, _, pub in keys]
        lines.append("-----END SSH HOST KEY KEYS-----")
        for line in lines:
            self.console(line, raw=True)


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _pid(stage: str) -> int:
    return {"local": 487, "init": 612, "config": 884, "final": 953}[stage]


def _ci_info(system: System) -> str:
    ip = system.private_ip
    return (
        "ci-info: ++++++++++++++++++++++++++++++++++++++Net device info"
        "+++++++++++++++++++++++++++++++++++++++\n"
        "ci-info: +--------+------+-----------------------------+---------------+--------+"
        "-------------------+\n"
        "ci-info: | Device |  Up  |           Address           |      Mask     | Scope  |"
        "     Hw-Address    |\n"
        "ci-info: +--------+------+-----------------------------+---------------+--------+"
        "-------------------+\n"
        f"ci-info: |  ens5  | True | {ip:<27} | 255.255.240.0 | global | 0a:ff:d3:1c:42:7b |\n"
        "ci-info: |   lo   | True |          127.0.0.1          |   255.0.0.0   |  host  |"
        "         .         |\n"
        "ci-info: +--------+------+-----------------------------+---------------+--------+"
        "-------------------+\n")


# --- status and analyze (the `cloud-init` command over SSH) ---------------------------


def status_doc(system: System) -> dict[str, Any]:
    ci = system.cloud_init
    status = ci.status
    degraded = status == "done" and bool(ci.recoverable)
    return {
        "boot_status_code": "enabled-by-generator",
        "datasource": "ec2",
        "detail": "DataSourceEc2Local" if status in ("done", "error") else
                  f"Running in stage: {ci.stage}" if status == "running" else "",
        "errors": list(ci.errors),
        "extended_status": "degraded done" if degraded else
                           (status if status != "error" else "error - done"),
        "last_update": rfc2822(ci.last_update) if ci.last_update else "",
        "recoverable_errors": {"WARNING": list(ci.recoverable)} if ci.recoverable else {},
        "stage": ci.stage or None,
        "status": status,
    }


def parse_log(text: str) -> list[dict[str, Any]]:
    """cloud-init analyze's log parser, over our log format: events in order."""
    import calendar
    import re

    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        timehost, eventstr = line.split(" - ", 1)
        try:
            stamp, frac = timehost.split(",")
            ts = calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(frac) / 1000
        except ValueError:
            continue
        body = eventstr.split(maxsplit=1)
        if len(body) < 2:
            continue
        msg = body[1]
        m = re.match(r"Cloud-init v\. \S+ running '([^']+)' at", msg)
        if m:
            stage = {"init": "init-network", "modules:config": "modules-config",
                     "modules:final": "modules-final"}.get(m.group(1), m.group(1))
            events.append({"description": STAGE_DESCRIPTIONS.get(stage, stage),
                           "event_type": "start", "name": stage, "origin": "cloudinit",
                           "timestamp": ts})
            continue
        if re.match(r"Cloud-init v\. \S+ finished at", msg):
            events.append({"description": "finished running cloud-init", "event_type": "finish",
                           "name": "modules-final", "origin": "cloudinit", "result": "SUCCESS",
                           "timestamp": ts})
            continue
        m = re.match(r"(start|finish): ([^:]+): (.*)", msg)
        if not m:
            continue
        kind, name, desc = m.groups()
        ev: dict[str, Any] = {"event_type": kind, "name": name, "origin": "cloudinit",
                              "timestamp": ts}
        if kind == "finish":
            result, _, desc = desc.partition(": ")
            ev["result"] = result
        ev["description"] = desc
        events.append(ev)
    return events


def analyze_show(events: list[dict[str, Any]]) -> str:
    out = ["-- Boot Record 01 --",
           'The total time elapsed since completing an event is printed after the "@" '
           "character.",
           'The time the event takes is printed after the "+" character.', ""]
    if not events:
        return "No events found\n"
    t0 = events[0]["timestamp"]
    starts: dict[str, float] = {}
    total = 0.0
    stage_names = set(STAGES)
    for ev in events:
        name = ev["name"]
        if ev["event_type"] == "start":
            starts[name] = ev["timestamp"]
            if name in stage_names and "/" not in name and ev["description"] != \
                    "finished running cloud-init":
                out.append(f"Starting stage: {name}")
            continue
        began = starts.get(name, ev["timestamp"])
        took = ev["timestamp"] - began
        if ev.get("description") == "finished running cloud-init":
            continue
        if "/" in name:
            out.append(f"|`->{ev['description']} @{ev['timestamp'] - t0:08.5f}s +{took:08.5f}s")
        elif name in stage_names:
            out.append(f"Finished stage: ({name}) {took:08.5f} seconds")
            out.append("")
            total += took
    out.append(f"Total Time: {total:.5f} seconds")
    out.append("")
    out.append("1 boot records analyzed")
    return "\n".join(out) + "\n"


def analyze_dump(events: list[dict[str, Any]]) -> str:
    return json.dumps(events, indent=1, sort_keys=True, separators=(",", ": ")) + "\n"

