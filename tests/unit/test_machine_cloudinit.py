"""cloud-init on the guest: stage logs in cloud-init's formats, per-instance semantics,
user data, analyze. Runs the stages on a System directly (no sockets)."""

from __future__ import annotations

import json
import re

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import Disk, System, host_key_files
from stemcell.sandbox.machine.cloud_init_boot import CloudInit, analyze_dump, parse_log
from stemcell.sandbox.machine.shell import IO, Shell

# The line format of cloud-init's file log and what `cloud-init analyze` accepts.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - [\w.]+\.py\[(DEBUG|INFO|WARNING)\]"
                      r": .+$")
BANNER = re.compile(r"Cloud-init v\. 24\.\d[\w.~-]* running '(init-local|init|modules:config|"
                    r"modules:final)' at \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\. "
                    r"Up \d+\.\d\d seconds\.$")
FINISHED = re.compile(r"Cloud-init v\. 24\.\d[\w.~-]* finished at \w{3}, \d\d \w{3} \d{4} "
                      r"\d\d:\d\d:\d\d \+0000\. Datasource DataSourceEc2Local\.  Up \d+\.\d\d "
                      r"seconds$")


def boot(system: System, user_data: bytes, key: str | None = "ssh-ed25519 AAAAlaunch student",
         ) -> tuple[CloudInit, list[str]]:
    console: list[str] = []

    def keys(regenerate: bool) -> list[tuple[str, str, str]]:
        if regenerate or not system.disk.is_file(host_key_files.PRIVATE):
            host_key_files.generate(system.disk, system.hostname)
        return [host_key_files.describe(host_key_files.load(system.disk), system.hostname)]

    ci = CloudInit(system, user_data=user_data, launch_key=key,
                   boot_wall_start=system.now() - 3,
                   console=lambda text, raw=False: console.append(text), host_keys=keys)

    def run_script(text: str, write: object) -> int:
        sh = Shell(system, user="root", cwd="/")
        return sh.run(text, IO(b"", write, write))  # type: ignore[arg-type]

    ci.init_local()
    ci.init_network()
    ci.modules_config()
    ci.modules_final(run_script)
    return ci, console


def machine(iid: str = "i-0abc", disk: Disk | None = None) -> System:
    return System(disk or Disk.ubuntu(), ModelClock.starting_now(1e7), instance_id=iid,
                  hostname="ip-172-31-5-6", private_ip="172.31.5.6")


SCRIPT = b"#!/bin/bash\nset -e\necho from-user-data\nmkdir -p /srv/app\n"


def test_log_lines_use_cloud_inits_format() -> None:
    system = machine()
    boot(system, SCRIPT)
    lines = system.disk.read_text("/var/log/cloud-init.log").splitlines()
    assert lines and all(LOG_LINE.match(ln) for ln in lines), lines[:3]
    messages = [ln.split(": ", 1)[1] for ln in lines]
    banners = [m for m in messages if m.startswith("Cloud-init v.") and "running" in m]
    assert [BANNER.match(b).group(1) for b in banners] == [  # type: ignore[union-attr]
        "init-local", "init", "modules:config", "modules:final"]
    assert any(FINISHED.match(m) for m in messages)
    assert any(m.startswith("finish: modules-final/config-scripts_user: SUCCESS:")
               for m in messages)


def test_output_log_has_banners_host_keys_and_script_output() -> None:
    system = machine()
    boot(system, SCRIPT)
    out = system.disk.read_text("/var/log/cloud-init-output.log")
    assert "from-user-data" in out
    assert "Generating public/private ed25519 key pair." in out
    assert FINISHED.search(out)
    assert system.disk.is_dir("/srv/app")
    assert system.cloud_init.status == "done"
    result = json.loads(system.disk.read_text("/run/cloud-init/result.json"))
    assert result["v1"]["errors"] == []


def test_launch_key_is_added_keeping_baked_keys() -> None:
    disk = Disk.ubuntu()
    disk.mkdir("/home/ubuntu/.ssh", mode=0o700, owner="ubuntu")
    disk.write("/home/ubuntu/.ssh/authorized_keys", "ssh-ed25519 AAAAta ta@course\n",
               owner="ubuntu", mode=0o600)
    system = machine(disk=disk)
    boot(system, b"")
    keys = system.disk.read_text("/home/ubuntu/.ssh/authorized_keys").splitlines()
    assert keys == ["ssh-ed25519 AAAAta ta@course", "ssh-ed25519 AAAAlaunch student"]
    node = system.disk.get("/home/ubuntu/.ssh/authorized_keys")
    assert node is not None and node.mode == 0o600 and node.owner == "ubuntu"


def test_user_data_runs_once_per_instance_and_keys_regenerate_per_instance() -> None:
    system = machine("i-first")
    boot(system, SCRIPT)
    first_key = system.disk.read_text(host_key_files.PUBLIC)
    node = system.disk.get(host_key_files.PRIVATE)
    assert node is not None and node.mode == 0o600
    # reboot of the same instance: no second run, same host key
    boot(system, SCRIPT)
    out = system.disk.read_text("/var/log/cloud-init-output.log")
    assert out.count("from-user-data") == 1
    assert system.disk.read_text(host_key_files.PUBLIC) == first_key
    # a new instance from an image of this disk: runs again, new host key
    other = machine("i-second", disk=system.disk.copy())
    boot(other, SCRIPT)
    assert other.disk.read_text("/var/log/cloud-init-output.log").count("from-user-data") == 2
    assert other.disk.read_text(host_key_files.PUBLIC) != first_key


def test_failing_user_data_makes_status_error() -> None:
    system = machine()
    boot(system, b"#!/bin/bash\nset -e\nfalse\necho never\n")
    assert system.cloud_init.status == "error"
    log = system.disk.read_text("/var/log/cloud-init.log")
    assert "finish: modules-final/config-scripts_user: FAIL:" in log
    assert "util.py[WARNING]: Failed to run module scripts_user" in log
    assert "never" not in system.disk.read_text("/var/log/cloud-init-output.log")


def test_cloud_config_packages_and_runcmd() -> None:
    system = machine()
    cfg = (b"#cloud-config\npackage_update: true\npackages: [unzip]\n"
           b"runcmd:\n  - echo ran > /tmp/ran\n  - [touch, /tmp/list-form]\n")
    boot(system, cfg)
    assert "unzip" in system.disk.packages
    assert system.disk.read_text("/tmp/ran") == "ran\n"
    assert system.disk.exists("/tmp/list-form")


def test_console_has_the_host_key_blocks_in_cloud_inits_format() -> None:
    system = machine()
    _, console = boot(system, b"")
    text = "\n".join(console)
    fp = host_key_files.describe(host_key_files.load(system.disk), "ip-172-31-5-6")[1]
    assert re.search(r"<14>\w{3} [ \d]\d \d\d:\d\d:\d\d cloud-init: -----BEGIN SSH HOST KEY "
                     r"FINGERPRINTS-----", text)
    assert f"cloud-init: {fp}" in text
    assert re.fullmatch(r"256 SHA256:[A-Za-z0-9+/]{43} root@ip-172-31-5-6 \(ED25519\)", fp)
    begin = console.index("-----BEGIN SSH HOST KEY KEYS-----")
    assert console[begin + 1].startswith("ssh-ed25519 AAAA")
    assert console[begin + 2] == "-----END SSH HOST KEY KEYS-----"


def test_analyze_reads_the_log_back() -> None:
    system = machine()
    boot(system, SCRIPT)
    events = parse_log(system.disk.read_text("/var/log/cloud-init.log"))
    stages = [e["name"] for e in events if e["event_type"] == "start" and "/" not in e["name"]]
    assert stages == ["init-local", "init-network", "modules-config", "modules-final"]
    finishes = [e for e in events if e["event_type"] == "finish"]
    assert all("result" in e for e in finishes)
    assert all(isinstance(e["timestamp"], float) for e in events)
    dumped = json.loads(analyze_dump(events))
    assert dumped == events
    out: list[bytes] = []
    Shell(system, user="ubuntu").run("cloud-init analyze show", IO(b"", out.append,
                                                                    out.append))
    show = b"".join(out).decode()
    assert "Starting stage: modules-final" in show and "Total Time:" in show
    assert show.count("Starting stage: init-local") == 1


def test_user_data_without_a_shebang_is_not_run_and_status_is_degraded() -> None:
    system = machine()
    boot(system, b"set -eux\nmkdir -p /srv/never\n")
    assert not system.disk.exists("/srv/never")
    assert "Unhandled non-multipart (text/x-not-multipart) userdata" in \
        system.disk.read_text("/var/log/cloud-init.log")
    out: list[bytes] = []
    code = Shell(system).run("cloud-init status --long", IO(b"", out.append, out.append))
    assert code == 2 and b"extended_status: degraded done" in b"".join(out)


def test_user_data_is_decoded_like_cloud_init_does() -> None:
    import base64
    import gzip

    from stemcell.sandbox.machine import decode_user_data

    script = b"#!/bin/bash\necho hi\n"
    assert decode_user_data(script.decode()) == script
    assert decode_user_data(base64.b64encode(script).decode()) == script
    assert decode_user_data(base64.b64encode(gzip.compress(script))) == script
    assert decode_user_data(None) == b""
