"""A simulated EC2 instance: disk + boot timeline + real SSH and HTTP listeners.

The control plane creates one Guest per instance, calls boot() when the
instance turns running, shutdown() when it stops, destroy() when it is
terminated and snapshot() for CreateImage. Durations come from the BootModel and
run on the (scaled) clock.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import threading
from typing import Any

import paramiko

from stemcell.engine.clock import Clock
from stemcell.sandbox.machine import host_key_files, worker
from stemcell.sandbox.machine.boot_model import BootModel
from stemcell.sandbox.machine.catalogue import Catalogue
from stemcell.sandbox.machine.cloud_init_boot import CloudInit
from stemcell.sandbox.machine.disk import ROOT, Disk
from stemcell.sandbox.machine.httpd import serve_connection
from stemcell.sandbox.machine.listener import PhasedListener
from stemcell.sandbox.machine.shell import IO, Shell
from stemcell.sandbox.machine.sshd import SshServer
from stemcell.sandbox.machine.system import KERNEL, System, Timeline
from stemcell.sandbox.machine.web import WebServer

# The machine's power and boot state (``Guest.phase``): what the simulated machine is
# doing, which decides whether its ports answer. A different idea from the boot
# *phases* stemcell measures from the outside (timing.phases), hence its own name.
BOOT_STAGES = ("off", "booting", "network", "sshd", "ready", "stopped", "destroyed")
_NETWORK_UP = ("network", "sshd", "ready")


def hostname_for(private_ip: str) -> str:
    return "ip-" + private_ip.replace(".", "-")


def decode_user_data(data: bytes | str | None) -> bytes:
    """User data as cloud-init sees it: base64 (as the API carries it) and gzip undone."""
    if data is None:
        return b""
    raw = data.encode() if isinstance(data, str) else data
    stripped = raw.strip()
    if stripped and not stripped.startswith(b"#") and not stripped.startswith(b"\x1f\x8b"):
        try:
            decoded = base64.b64decode(stripped, validate=True)
            raw = decoded
        except (binascii.Error, ValueError):
            pass
    if raw.startswith(b"\x1f\x8b"):
        raw = gzip.decompress(raw)
    return raw


class Guest:
    def __init__(self, instance_id: str, disk: Disk, clock: Clock,
                 model: BootModel | None = None, *, user_data: bytes | str | None = None,
                 hostname: str | None = None, private_ip: str = "172.31.0.10",
                 public_ip: str = "", launch_key: str | None = None,
                 catalogue: Catalogue | None = None, image_id: str = "") -> None:
        self.instance_id = instance_id
        self.clock = clock
        self.model = model or BootModel.default()
        self.user_data = decode_user_data(user_data)
        self.launch_key = launch_key
        self.system = System(disk, clock, self.model, catalogue=catalogue,
                             instance_id=instance_id,
                             hostname=hostname or hostname_for(private_ip),
                             private_ip=private_ip, public_ip=public_ip)
        self.system.image_id = image_id
        self.web = WebServer(self.system)
        worker.attach(self.system)  # Python services run in the guest's worker
        self.system.local_http = self._local_http
        self._phase = "off"
        self._phase_lock = threading.Lock()
        self._console: list[str] = []
        self._console_lock = threading.Lock()
        self._host_key: paramiko.PKey | None = None
        self._boot_thread: threading.Thread | None = None
        self._timeline = Timeline(clock)
        self.boot_count = 0
        # Modeled epoch seconds of what happened at the last boot (for tests and timing).
        self.marks: dict[str, float] = {}
        # Modeled time until which sshd refuses connections (the ssh-refused fault).
        self.ssh_refused_until = 0.0
        self.sshd = SshServer(self.system, self._current_host_key,
                              alive=lambda: self._phase in ("sshd", "ready"))
        self._ssh = PhasedListener("ssh", self._ssh_state, self.sshd.serve)
        self._http = PhasedListener("http", self._http_state, self._serve_http)
        self.ssh_port = self._ssh.port
        self.http_port = self._http.port

    # --- properties ------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def disk(self) -> Disk:
        return self.system.disk

    @property
    def hostname(self) -> str:
        return self.system.hostname

    def _set_phase(self, phase: str) -> None:
        with self._phase_lock:
            if self._phase == "destroyed":
                return
            self._phase = phase
        self.marks[phase] = self.clock.now()

    def _ssh_state(self) -> str:
        if self._phase not in _NETWORK_UP:
            return "dark"
        if self.clock.now() < self.ssh_refused_until:
            return "refuse"
        return "serve" if self._phase in ("sshd", "ready") and \
            self.system.is_active("ssh") else "refuse"

    def _http_state(self) -> str:
        if self._phase not in _NETWORK_UP:
            return "dark"
        return "serve" if self.system.is_active("apache2") else "refuse"

    def _serve_http(self, conn: Any) -> None:
        serve_connection(conn, self.web, lambda: self._http_state() == "serve")

    def _local_http(self, method: str, target: str,
                    headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        resp = self.web.handle(method, target, headers, client="127.0.0.1")
        return resp.status, dict(resp.headers), resp.body

    def _current_host_key(self) -> paramiko.PKey:
        if self._host_key is None:
            with self.system.lock:
                if self.disk.is_file(host_key_files.PRIVATE):
                    self._host_key = host_key_files.load(self.disk)
                else:
                    self._host_key = host_key_files.generate(self.disk, self.hostname)
        return self._host_key

    def _host_keys(self, regenerate: bool) -> list[tuple[str, str, str]]:
        with self.system.lock:
            if regenerate or not self.disk.is_file(host_key_files.PRIVATE):
                # cloud-init's ssh module: delete the image's keys, make this instance's own.
                for path in list(self.disk.nodes):
                    if path.startswith("/etc/ssh/ssh_host_"):
                        del self.disk.nodes[path]
                self._host_key = host_key_files.generate(self.disk, self.hostname)
        return [host_key_files.describe(self._current_host_key(), self.hostname)]

    # --- console ---------------------------------------------------------------------

    def _log_console(self, text: str, raw: bool = False) -> None:
        up = max(0.0, self.clock.now() - self.marks.get("booting", self.clock.now()))
        line = text if raw else f"[{up:12.6f}] {text}"
        with self._console_lock:
            self._console.append(line)
            if len(self._console) > 2000:
                del self._console[:500]

    def console_output(self) -> str:
        with self._console_lock:
            return "\n".join(self._console) + ("\n" if self._console else "")

    # --- lifecycle -------------------------------------------------------------------

    def boot(self) -> None:
        """Start booting (non-blocking): network, sshd, cloud-init, enabled services."""
        with self._phase_lock:
            if self._phase not in ("off", "stopped"):
                return
        old = self._boot_thread
        if old is not None:
            old.join(timeout=5)
        self.system.cancel = threading.Event()
        worker.reopen(self.system)
        self.system.cloud_init_done.clear()
        self.boot_count += 1
        self._set_phase("booting")
        self._boot_thread = threading.Thread(target=self._boot, name=f"guest-{self.instance_id}"
                                             "-boot", daemon=True)
        self._boot_thread.start()

    def _sleep_until(self, modeled: float) -> bool:
        return self._timeline.until(modeled, self.system.cancel)

    def _boot(self) -> None:
        # Booting is host work (a boot script interpreted in Python) between modeled
        # waits; the waits release the clock (engine/clock.py).
        with self.clock.busy():
            self._boot_stages()

    def _boot_stages(self) -> None:
        system = self.system
        model = self.model
        t0 = self.marks["booting"]
        system.power_on(t0)
        # One timeline for the whole boot: stages, services and the user script.
        self._timeline = Timeline(self.clock, t0)
        for line in (f"Linux version {KERNEL} (buildd@lcy02-amd64-086) (x86_64-linux-gnu-gcc-13 "
                     "(Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) "
                     "#19-Ubuntu SMP",
                     f"Command line: BOOT_IMAGE=/vmlinuz-{KERNEL} root=PARTUUID=4c1f-01 ro "
                     "console=tty1 console=ttyS0 nvme_core.io_timeout=4294967295 panic=-1",
                     "DMI: Amazon EC2 t3.micro/, BIOS 1.0 10/16/2017",
                     "Hypervisor detected: KVM"):
            self._log_console(line)
        ci = CloudInit(system, user_data=self.user_data, launch_key=self.launch_key,
                       boot_wall_start=t0, console=self._log_console, host_keys=self._host_keys,
                       timeline=self._timeline)
        local_at = t0 + max(0.0, model.running_to_network - model.init_local - 0.2)
        if not self._sleep_until(local_at):
            return
        self._log_console("systemd[1]: Starting cloud-init-local.service - Cloud-init: Local "
                          "Stage (pre-network)...")
        ci.init_local()
        if not self._sleep_until(t0 + model.running_to_network):
            return
        self._set_phase("network")
        system.network_up = True
        self._log_console("systemd[1]: Reached target network-online.target - Network is "
                          "Online.")
        net_at = self.clock.now()
        ci.init_network()
        if system.cancel.is_set():
            return
        if not self._sleep_until(net_at + model.network_to_sshd):
            return
        system.start_service("ssh", modeled=False)
        self._set_phase("sshd")
        self._log_console("systemd[1]: Started ssh.service - OpenBSD Secure Shell server.")
        for unit in system.start_enabled():
            self._log_console(f"systemd[1]: Started {unit}.")
        ci.modules_config()
        if system.cancel.is_set():
            return
        ci.modules_final(self._run_user_script)
        if system.cancel.is_set():
            return
        self._set_phase("ready")

    def _run_user_script(self, text: str, write: Any) -> int:
        shell = Shell(self.system, user=ROOT, cwd="/", name="/bin/bash")
        shell.env["HOME"] = "/root"
        shell.cancel = self.system.cancel
        shell.timeline = self._timeline
        return shell.run(text, IO(b"", write, write))

    def shutdown(self) -> None:
        """Stop: services stop, SSH sessions close, the ports go dark again."""
        with self._phase_lock:
            if self._phase in ("destroyed", "stopped", "off"):
                return
        self._set_phase("stopped")
        self.system.cancel.set()
        self.sshd.close_all()
        if self._boot_thread is not None:
            self._boot_thread.join(timeout=5)
        self.system.stop_all()
        worker.shutdown(self.system)
        self.system.network_up = False
        self._ssh.drop_held()
        self._http.drop_held()
        self._log_console("systemd[1]: Reached target poweroff.target - System Power Off.")
        self._log_console("reboot: Power down")

    def destroy(self) -> None:
        """Terminate: release every socket and thread."""
        self.shutdown()
        with self._phase_lock:
            self._phase = "destroyed"
        self._ssh.close()
        self._http.close()

    def snapshot(self) -> Disk:
        with self.system.lock:
            return self.disk.copy()

    # --- helpers for the control plane -------------------------------------------------

    def http_ok(self, path: str = "/", port: int = 80) -> tuple[int, str]:
        """What the web server answers locally (ELB health checks); (0, reason) if nothing."""
        state = self._http_state()
        if state == "dark":
            return 0, "timeout"
        if state == "refuse":
            return 0, "connection refused"
        resp = self.web.handle("GET", path, {"Host": self.system.private_ip,
                                              "User-Agent": "ELB-HealthChecker/2.0"},
                               client="172.31.0.2", port=port)
        return resp.status, resp.body.decode("utf-8", "replace")

    def run(self, command: str, *, user: str = "ubuntu") -> tuple[int, str]:
        """Run a command on the guest directly (tests, debugging); (status, output)."""
        out: list[bytes] = []
        shell = Shell(self.system, user=user)
        code = shell.run(command, IO(b"", out.append, out.append))
        return code, b"".join(out).decode("utf-8", "replace")
