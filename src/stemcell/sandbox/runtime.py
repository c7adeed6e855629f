"""One sandbox: moto on loopback, its modeled clock, its guests, its control API.

``Sandbox(speed).start()`` is all it takes; ``close()`` terminates the guests and
stops both servers. Each sandbox is an account with its own credentials
(``self.credentials``): its API answers only requests SigV4-signed with them
(``sigv4.SigV4Verifier``, the front door's first filter) and its control API
only callers holding its control token. The daemon runs one in a background
process; ``connect`` runs one in-process when no daemon is up.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from stemcell.engine.clock import ModelClock
from stemcell.sandbox import lifecycle, presign_hosts
from stemcell.sandbox.consistency import Consistency
from stemcell.sandbox.control import ControlServer
from stemcell.sandbox.credentials import SandboxCredentials
from stemcell.sandbox.faults import Faults, FaultSpec
from stemcell.sandbox.fleet import GuestFactory
from stemcell.sandbox.front_door import FrontDoor
from stemcell.sandbox.moto_server import MotoServer, import_moto
from stemcell.sandbox.resets import forget_accounts
from stemcell.sandbox.shared_clock import ClockDesk
from stemcell.sandbox.sigv4 import SigV4Verifier

# Modeled seconds per wall second while the sandbox waits (engine/clock.py: host
# work takes no modeled time and is not compressed either). Lab 1 models to
# 321.5 s of cloud time at any speed; a run's wall time is its host work (~12 s
# on the 2-core machine) plus that / speed: 66 s at 6x, 53 s at 8x
# (bench/sandbox_run.py), under the one-minute target.
DEFAULT_SPEED = 8.0
DEFAULT_REGION = "us-east-1"


def new_account_id() -> str:
    # Each sandbox its own account: its data is kept apart from any other moto
    # user in the process, and from the previous sandbox.
    return "7" + "".join(str(secrets.randbelow(10)) for _ in range(11))


def _real_guest_parts() -> tuple[GuestFactory, Callable[[str, str], Any], Any]:
    from stemcell.sandbox.machine import BootModel, Disk, Guest

    return Guest, lambda release, arch: Disk.ubuntu(release=release, arch=arch), BootModel.default()


class Sandbox:
    def __init__(self, speed: float | None = None, *,
                 guest_factory: GuestFactory | None = None,
                 disk_factory: Callable[[str, str], Any] | None = None,
                 model: Any = None,
                 on_shutdown: Callable[[], None] | None = None,
                 faults: FaultSpec | None = None) -> None:
        self.speed = float(speed or DEFAULT_SPEED)
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if guest_factory is None or disk_factory is None or model is None:
            real_guest, real_disk, real_model = _real_guest_parts()
            guest_factory = guest_factory or real_guest
            disk_factory = disk_factory or real_disk
            model = model if model is not None else real_model
        self.account_id = new_account_id()
        self.clock = ModelClock.starting_now(self.speed)
        self.clock_desk = ClockDesk(self.clock)  # runs in other processes share this clock
        self.faults = Faults(faults or FaultSpec())
        self.world = lifecycle.World(self.account_id, self.clock, model, guest_factory,
                                     disk_factory, faults=self.faults)
        self.consistency = Consistency(self.clock, self.faults.spec.not_found,
                                       on_hit=lambda: self.faults.note("not-found"))
        self.world.hidden = self.consistency.hidden
        self.started_at = time.time()
        self._on_shutdown = on_shutdown
        self.credentials = SandboxCredentials.generate()
        self._moto = MotoServer(self.account_id)
        # S3 routes a request by its host before it authenticates it: the global host
        # answers 307 TemporaryRedirect for a bucket in another region and a wrong
        # regional host 301 PermanentRedirect, whoever signed (Amazon S3 User Guide,
        # "Request redirection and the REST API", UsingRouting.html, and "Virtual hosting of
        # general purpose buckets", VirtualHosting.html). So that routing comes before
        # SigV4 (it only refuses; it serves nothing). Then authentication: nothing
        # unsigned reaches a fault or moto. Then faults, then AWS's everyday realism
        # (the front door's agreed order).
        self._moto.front_door.clock = self.clock
        self._moto.front_door.add_filter(presign_hosts.presigned_host_filter(self.account_id))
        self._moto.front_door.add_filter(SigV4Verifier(self.credentials))
        self._moto.front_door.add_filter(self.faults.filter)
        self._moto.front_door.add_filter(self.consistency.filter)
        self._moto.front_door.add_observer(self.consistency.observe)
        self._control = ControlServer(self, self.credentials.control_token,
                                      on_shutdown=on_shutdown)
        self._closed = False
        self._close_lock = threading.Lock()
        from stemcell.sandbox.vcpu_quota import VcpuQuota

        # The account's vCPU quota (Service Quotas L-1216C47A); tests may lower it live.
        self.vcpu_quota = VcpuQuota.from_env()

    @property
    def simulated(self) -> bool:
        return True

    def start(self, warm: bool = True) -> Sandbox:
        import_moto()  # before anything imports moto: a stray AWS_PROFILE must not matter
        lifecycle.register(self.world)
        self._add_aws_realism()
        self._moto.start()
        self._control.start()
        if warm:
            self.warm()
        return self

    def warm(self, region: str = DEFAULT_REGION) -> None:
        """Send each service one request now.

        moto's first call per service and account costs up to a second of wall
        time (backends and URL maps are built lazily); paid inside a run it
        would read as minutes of modeled time in the first step.
        """
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        keys = Credentials(self.credentials.access_key_id, self.credentials.secret_access_key)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for service, method, body in (
            ("ec2", "POST", "Action=DescribeImages&Version=2016-11-15&Owner.1=self"),
            ("elasticloadbalancing", "POST",
             "Action=DescribeLoadBalancers&Version=2015-12-01"),
            ("s3", "GET", ""),
        ):
            # Signed as any SDK signs (botocore's own signer): the front door checks.
            signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(keys, service, region)
            aws_request = AWSRequest(
                method=method, url=self.endpoint_url + "/",
                data=body.encode() if method == "POST" else None,
                headers={"Content-Type": "application/x-www-form-urlencoded"}
                if method == "POST" else {})
            signer.add_auth(aws_request)
            prepared = aws_request.prepare()
            data = prepared.body if isinstance(prepared.body, bytes) else None
            request = urllib.request.Request(prepared.url, method=method, data=data,
                                             headers=dict(prepared.headers.items()))
            with contextlib.suppress(OSError), opener.open(request, timeout=30) as response:
                response.read()

    def _add_aws_realism(self) -> None:
        """What AWS does that moto does not (docs/aws-backend.md has the table)."""
        from stemcell.sandbox import (
            bucket_tags,
            credit_specs,
            ebs_keys,
            vcpu_quota,
            zones,
        )

        def is_sandbox(account: str) -> bool:
            return lifecycle.world_for(account) is not None

        zones.install(is_sandbox)
        credit_specs.install(is_sandbox)
        ebs_keys.install(is_sandbox)
        vcpu_quota.install()
        vcpu_quota.register(self.account_id, self.vcpu_quota)
        door = self.front_door
        door.add_filter(vcpu_quota.vcpu_filter(self.account_id, self.vcpu_quota))
        door.add_filter(ebs_keys.share_filter(self.account_id))
        door.add_observer(credit_specs.launch_observer(self.account_id))
        door.add_observer(bucket_tags.create_observer(self.account_id))

    @property
    def endpoint_url(self) -> str:
        return self._moto.endpoint_url

    @property
    def front_door(self) -> FrontDoor:
        """Where filters that refuse, throttle or forget as AWS does are added."""
        return self._moto.front_door

    @property
    def control_url(self) -> str:
        return self._control.url

    # ControlSource -------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "pid": os.getpid(),
            "account_id": self.account_id,
            "endpoint_url": self.endpoint_url,
            "control_url": self.control_url,
            "speed": self.speed,
            "started_at": self.started_at,
            "uptime": time.time() - self.started_at,
            "guests": len(self.world.fleet.records()),
            "faults": self.faults.status(),
            "simulated": True,
        }

    def clock_info(self) -> dict[str, float]:
        return self.clock_desk.info()

    def clock_call(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.clock_desk.call(body)

    def guests(self) -> dict[str, dict[str, Any]]:
        self.world.scheduler.run_due()
        return self.world.fleet.describe()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._control.stop()
        self.clock_desk.close()
        self._moto.stop()
        self.world.close()
        lifecycle.unregister(self.account_id)
        from stemcell.sandbox import credit_specs, vcpu_quota

        vcpu_quota.unregister(self.account_id)
        credit_specs.forget(self.account_id)
        forget_accounts({self.account_id})

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
