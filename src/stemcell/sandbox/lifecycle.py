"""What moto lacks, added to its models for the sandbox's own account only.

moto answers every call at once: instances are ``running`` the moment they are
launched, images ``available`` the moment they are created. The sandbox hooks
moto's backend methods so that, *for accounts a sandbox owns*, instances go
pending -> running after the boot model's delay (and their guest boots),
stopping -> stopped, shutting-down -> terminated; new images stay pending for
the modeled snapshot time; console output is the guest's; target health comes
from the guest's HTTP answers. Every wrapper first asks "is this a sandbox
account?" and otherwise calls moto unchanged, so plain ``mock_aws`` users in the
same process see stock moto. Steps only see the real API.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.amis import ROOT_GIB, ubuntu_images
from stemcell.sandbox.console_buffers import ConsoleBuffers, supports_latest
from stemcell.sandbox.dependencies import Holds, deregistration_delay, group_users
from stemcell.sandbox.faults import Faults, FaultSpec
from stemcell.sandbox.fleet import Fleet, GuestFactory, GuestRecord, Lineage
from stemcell.sandbox.health import HealthChecker
from stemcell.sandbox.scheduler import Scheduler

log = logging.getLogger(__name__)

# EC2's instance state codes.
PENDING, RUNNING, SHUTTING_DOWN, TERMINATED, STOPPING, STOPPED = (
    ("pending", 0), ("running", 16), ("shutting-down", 32), ("terminated", 48),
    ("stopping", 64), ("stopped", 80))


class World:
    """One sandbox's modeled cloud: its clock, its guests and their timers."""

    def __init__(self, account_id: str, clock: ModelClock, model: Any,
                 guest_factory: GuestFactory, disk_factory: Callable[[str, str], Any],
                 faults: Faults | None = None) -> None:
        self.account_id = account_id
        self.clock = clock
        self.model = model
        self.scheduler = Scheduler(clock)
        self.fleet = Fleet(clock, model, guest_factory, disk_factory)
        # Guest calls that may block (shutdown closes sessions, health checks do HTTP).
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-guest")
        self.health = HealthChecker(self.fleet, self.scheduler, self.executor)
        self.lock = threading.RLock()
        self.faults = faults or Faults(FaultSpec())
        self.consoles = ConsoleBuffers(clock, self.faults.spec.console_delay)
        self.holds = Holds(clock.now)
        # Set by the sandbox: is this id still inside its eventual-consistency window?
        self.hidden: Callable[[str], bool] = lambda rid: False

    # instances ------------------------------------------------------------------
    def launched(self, backend: Any, instances: list[Any]) -> None:
        for instance in instances:
            launch_key = None
            if instance.key_name and instance.key_name in backend.key_pairs:
                launch_key = backend.key_pairs[instance.key_name].public_key
            record = self.fleet.create(instance, instance.image_id,
                                       user_data=_user_data(instance.user_data),
                                       launch_key=launch_key)
            self._set_state(record, PENDING)
            self._to_running(record)

    def started(self, pairs: list[tuple[Any, Any]]) -> None:
        for instance, previous in pairs:
            record = self.fleet.get(instance.id)
            if record is None or previous.name != "stopped":
                continue
            self._set_state(record, PENDING)
            self._to_running(record)

    def stopped(self, pairs: list[tuple[Any, Any]]) -> None:
        for instance, previous in pairs:
            record = self.fleet.get(instance.id)
            if record is None or previous.name in ("stopped", "stopping"):
                if record is not None:
                    self._set_state(record, (previous.name, previous.code), bump=False)
                continue
            gen = self._set_state(record, STOPPING)
            self.executor.submit(record.guest.shutdown)
            self._later(record, gen, self.model.stop_duration, STOPPED)

    def terminated(self, pairs: list[tuple[Any, Any]]) -> None:
        for instance, previous in pairs:
            record = self.fleet.get(instance.id)
            if record is None or previous.name in ("terminated", "shutting-down"):
                if record is not None:
                    self._set_state(record, (previous.name, previous.code), bump=False)
                continue
            gen = self._set_state(record, SHUTTING_DOWN)
            self.executor.submit(record.guest.destroy)
            self._later(record, gen, self.model.stop_duration, TERMINATED,
                        then=functools.partial(self.fleet.drop, record.instance_id))

    def rebooted(self, instances: list[Any]) -> None:
        # EC2 keeps a rebooting instance "running"; only the OS goes down and up.
        for instance in instances:
            record = self.fleet.get(instance.id)
            if record is None or instance.state != "running":
                continue
            with self.lock:
                record.generation += 1
                gen = record.generation
            self.executor.submit(record.guest.shutdown)
            self._later(record, gen, self.model.stop_duration, RUNNING, then=record.guest.boot)

    def _to_running(self, record: GuestRecord) -> None:
        gen = record.generation

        def running() -> None:
            refused = self.faults.spec.ssh_refused
            if refused > 0 and hasattr(record.guest, "ssh_refused_until"):
                # The ssh-refused fault: sshd answers RST for a while after running.
                record.guest.ssh_refused_until = self.clock.now() + refused
                self.faults.note("ssh-refused")
            record.guest.boot()
            self.consoles.running(record.instance_id, record.guest.console_output)

        self._later(record, gen, self.model.pending_to_running, RUNNING, then=running)

    def _later(self, record: GuestRecord, gen: int, delay: float, state: tuple[str, int],
               then: Callable[[], Any] | None = None) -> None:
        def change() -> None:
            with self.lock:
                if record.generation != gen:
                    return  # a newer state change superseded this one
                self._set_state(record, state, bump=False)
            if then is not None:
                then()

        self.scheduler.after(delay, change)

    def _set_state(self, record: GuestRecord, state: tuple[str, int], bump: bool = True) -> int:
        with self.lock:
            record.instance._state.name, record.instance._state.code = state
            if bump:
                record.generation += 1
            return record.generation

    # images ---------------------------------------------------------------------
    def load_base_images(self, backend: Any, ami_class: type) -> None:
        zone = backend.region_name + "a"
        for image in ubuntu_images():
            record = image.moto_record(backend.region_name)
            record["creation_date"] = _parse_time(record["creation_date"])
            ami = ami_class(backend, region_name=zone, **record)
            ami.ebs_snapshot.volume.size = ROOT_GIB
            backend.amis[ami.id] = ami
            self.fleet.add_image(ami.id, None, Lineage(image.release, image.arch))

    def image_created(self, backend: Any, image: Any, instance_id: str) -> None:
        record = self.fleet.get(instance_id)
        if record is None:
            return
        disk = record.guest.snapshot()
        self.fleet.add_image(image.id, disk, record.lineage)
        image.__class__ = SandboxAmi
        image.state = "pending"
        image.ebs_snapshot.volume.size = _root_size(record.instance)
        image.ebs_snapshot.status = "pending"
        extra = max(0, int(disk.used_bytes()) - self.fleet.base_bytes(record.lineage))
        seconds = float(self.model.snapshot_seconds(extra))
        fails = self.faults.image_fails()
        # The snapshot's Progress climbs with modeled time, as DescribeSnapshots shows on
        # AWS while an image bakes (moto's is always "100%").
        _model_progress(image.ebs_snapshot, self.clock, seconds)

        def available() -> None:
            if fails:
                # The ami-failed fault: pending -> failed with a StateReason, as
                # DescribeImages reports an image that could not be created.
                image.state = "failed"
                image.state_reason = {"Code": "Server.InternalError",
                                      "Message": "Internal error while creating the image "
                                                 "(sandbox fault ami-failed)"}
                image.ebs_snapshot.status = "error"
                return
            image.state = "available"
            image.ebs_snapshot.status = "completed"

        self.scheduler.after(seconds, available)

    def close(self) -> None:
        self.health.close()
        self.scheduler.close()
        for record in self.fleet.records():
            try:
                record.guest.destroy()
            except Exception:
                log.exception("destroying guest %s", record.instance_id)
            self.fleet.drop(record.instance_id)
        self.executor.shutdown(wait=False, cancel_futures=True)


_worlds: dict[str, World] = {}
_installed = False
_install_lock = threading.Lock()


def register(world: World) -> None:
    install()
    _worlds[world.account_id] = world


def unregister(account_id: str) -> None:
    _worlds.pop(account_id, None)


def world_for(account_id: str | None) -> World | None:
    return _worlds.get(account_id or "")


def sandbox_accounts() -> set[str]:
    return set(_worlds)


def _user_data(raw: Any) -> str | None:
    """User data as the API carries it (base64 text); the guest decodes it as cloud-init
    does (base64, then gzip), so binary user data survives."""
    if raw is None:
        return None
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


def _parse_time(value: str) -> Any:
    from moto.core.parse import default_timestamp_parser

    return default_timestamp_parser(value)


def _root_size(instance: Any) -> int:
    for name, device in instance.get_block_device_mapping:
        if name == instance.root_device_name and getattr(device, "size", None):
            return int(device.size)
    return ROOT_GIB


def _make_sandbox_ami() -> type:
    from moto.ec2.models.amis import Ami

    class _SandboxAmi(Ami):
        """An AMI whose root mapping reads like Canonical's (gp3, deleted with the instance)."""

        @property
        def block_device_mappings(self) -> list[dict[str, Any]]:
            return [{
                "DeviceName": self.root_device_name,
                "Ebs": {
                    "SnapshotId": self.ebs_snapshot.id,
                    "VolumeSize": self.ebs_snapshot.volume.size,
                    "DeleteOnTermination": True,
                    "VolumeType": "gp3",
                    "Encrypted": bool(getattr(self.ebs_snapshot, "encrypted", False)),
                },
            }]

    return _SandboxAmi


SandboxAmi: type = type("SandboxAmiPlaceholder", (), {})
_SNAPSHOT_CLASSES: dict[type, type] = {}


def _model_progress(snapshot: Any, clock: ModelClock, seconds: float) -> None:
    base = type(snapshot)
    if base not in _SNAPSHOT_CLASSES:
        def progress(self: Any) -> str:
            started, total = self.sandbox_progress
            if self.status == "completed" or total <= 0:
                return "100%"
            now = self.sandbox_clock.now()
            return f"{min(99, int(100 * (now - started) / total))}%"

        _SNAPSHOT_CLASSES[base] = type(f"Sandbox{base.__name__}", (base,),
                                       {"progress": property(progress)})
    snapshot.__class__ = _SNAPSHOT_CLASSES[base]
    snapshot.sandbox_clock = clock
    snapshot.sandbox_progress = (clock.now(), seconds)


# hooks ------------------------------------------------------------------------
def install() -> None:
    """Wrap moto's model methods once per process; a no-op for non-sandbox accounts."""
    global _installed, SandboxAmi
    with _install_lock:
        if _installed:
            return
        from moto.ec2.models.amis import AmiBackend
        from moto.ec2.models.elastic_block_store import EBSBackend
        from moto.ec2.models.instances import InstanceBackend
        from moto.ec2.models.security_groups import SecurityGroupBackend
        from moto.ec2.responses.general import General
        from moto.elbv2.models import ELBv2Backend, FakeTargetGroup

        from stemcell.sandbox.moto_patches import apply_moto_fixes
        from stemcell.sandbox.resets import protect_from_resets

        apply_moto_fixes()
        protect_from_resets(sandbox_accounts)
        SandboxAmi = _make_sandbox_ami()
        _hook_instances(InstanceBackend)
        _hook_images(AmiBackend)
        _tick_before(InstanceBackend, "describe_instances", "get_reservations_by_instance_ids",
                     "describe_instance_status")
        _tick_before(AmiBackend, "describe_images")
        _tick_before(EBSBackend, "describe_snapshots")
        _hook_console(General)
        _hook_target_health(FakeTargetGroup)
        _hook_fresh_ids_hidden(InstanceBackend, AmiBackend)
        _hook_group_dependencies(SecurityGroupBackend)
        _hook_elb_delays(ELBv2Backend, FakeTargetGroup)
        _installed = True


def _wrap(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(cls, name)
    wrapper = functools.wraps(original)(make(original))
    setattr(cls, name, wrapper)


def _tick_before(cls: type, *names: str) -> None:
    for name in names:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def tick_then_read(self: Any, *args: Any, **kwargs: Any) -> Any:
                world = world_for(getattr(self, "account_id", None))
                if world is not None:
                    world.scheduler.run_due()
                return original(self, *args, **kwargs)
            return tick_then_read

        _wrap(cls, name, make)


def _hook_instances(cls: type) -> None:
    from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, UnvailableAMIIdError

    def make_run(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_instances(self: Any, image_id: str, count: int, user_data: Any,
                          security_group_names: list[str], **kwargs: Any) -> Any:
            world = world_for(self.account_id)
            if world is None:
                return original(self, image_id, count, user_data, security_group_names, **kwargs)
            world.scheduler.run_due()
            if image_id:
                ami = self.amis.get(image_id)
                if ami is None or not world.fleet.knows_image(image_id):
                    raise InvalidAMIIdError(image_id)
                if ami.state != "available":
                    raise UnvailableAMIIdError(image_id)
            _default_subnet(self, kwargs)
            # RunInstances itself takes a moment on EC2 (ec2-boot-bench measures ~1.5 s).
            # Its caller waits on this answer holding the clock (host work): lend that
            # hold so the modeled latency passes at --speed (engine/clock.py).
            world.clock.sleep_until(world.clock.now() + float(getattr(
                world.model, "run_instances_api", 0.0)), lend=True)
            reservation = original(self, image_id, count, user_data, security_group_names,
                                   **kwargs)
            with world.lock:
                world.launched(self, reservation.instances)
            return reservation
        return run_instances

    def make_transition(method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def transition(self: Any, instance_ids: list[str]) -> Any:
                world = world_for(self.account_id)
                if world is None:
                    return original(self, instance_ids)
                world.scheduler.run_due()
                if method == "started":
                    for instance in self.get_multi_instances_by_id(instance_ids):
                        if instance.state in ("stopping", "shutting-down", "terminated"):
                            raise EC2ClientError(
                                "IncorrectInstanceState",
                                f"The instance '{instance.id}' is not in a state from which "
                                "it can be started.")
                with world.lock:
                    pairs = original(self, instance_ids)
                    getattr(world, method)(pairs)
                return pairs
            return transition
        return make

    _wrap(cls, "run_instances", make_run)
    _wrap(cls, "start_instances", make_transition("started"))
    _wrap(cls, "stop_instances", make_transition("stopped"))
    _wrap(cls, "terminate_instances", make_transition("terminated"))
    _wrap(cls, "reboot_instances", make_transition("rebooted"))


def _default_subnet(backend: Any, kwargs: dict[str, Any]) -> None:
    """Launch into a default subnet of some zone, as EC2 does (moto would use EC2-Classic)."""
    if kwargs.get("subnet_id") or kwargs.get("nics") or kwargs.get("launch_template"):
        return
    subnets = backend.get_default_subnets()
    if not subnets:
        return
    from stemcell.sandbox.zones import pick_default_subnet

    kwargs["subnet_id"] = pick_default_subnet(backend, kwargs, subnets).id


def _hook_images(cls: type) -> None:
    def make_load(original: Callable[..., Any]) -> Callable[..., Any]:
        def _load_amis(self: Any) -> None:
            world = world_for(getattr(self, "account_id", None))
            if world is None:
                return original(self)
            # Only current Ubuntu images: moto's defaults (Ubuntu 16.04 and
            # older) would be found by nobody and cost startup time.
            world.load_base_images(self, SandboxAmi)
            return None
        return _load_amis

    def make_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_image(self: Any, instance_id: str, name: str, description: str,
                         tag_specifications: list[dict[str, Any]]) -> Any:
            image = original(self, instance_id, name, description,
                             tag_specifications=tag_specifications)
            world = world_for(self.account_id)
            if world is not None:
                world.image_created(self, image, instance_id)
            return image
        return create_image

    def make_deregister(original: Callable[..., Any]) -> Callable[..., Any]:
        def deregister_image(self: Any, ami_id: str) -> None:
            original(self, ami_id)
            world = world_for(self.account_id)
            if world is not None:
                world.fleet.forget_image(ami_id)
        return deregister_image

    _wrap(cls, "_load_amis", make_load)
    _wrap(cls, "create_image", make_create)
    _wrap(cls, "deregister_image", make_deregister)


def _hook_console(cls: type) -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def get_console_output(self: Any) -> Any:
            world = world_for(self.current_account)
            if world is None:
                return original(self)
            from moto.core.responses import ActionResult
            from moto.core.utils import utcnow
            from moto.ec2.exceptions import EC2ClientError
            from moto.ec2.utils import Base64EncodedString

            instance_id = self._get_param("InstanceId")
            latest = str(self._get_param("Latest", "false")).lower() == "true"
            instance = self.ec2_backend.get_instance(instance_id)
            if latest and not supports_latest(str(instance.instance_type)):
                raise EC2ClientError(
                    "UnsupportedOperation",
                    "Retrieving the latest console output is only supported on instances "
                    f"built on the Nitro System; {instance.instance_type} is not.")
            record = world.fleet.get(instance.id)
            result: dict[str, Any] = {"InstanceId": instance.id, "Timestamp": utcnow()}
            text = "" if record is None else world.consoles.read(
                instance.id, record.guest.console_output, latest)
            if text:  # EC2 leaves Output out until the instance has written any
                result["Output"] = Base64EncodedString.from_raw_string(text)
            return ActionResult(result)
        return get_console_output

    _wrap(cls, "get_console_output", make)


def _hook_target_health(cls: type) -> None:
    from moto.elbv2.models import FakeHealthStatus

    def make_register(original: Callable[..., Any]) -> Callable[..., Any]:
        def register(self: Any, targets: list[dict[str, Any]]) -> None:
            original(self, targets)
            world = world_for(self.account_id)
            if world is not None:
                world.health.registered(self, [str(t["Id"]) for t in targets])
        return register

    def make_health_for(original: Callable[..., Any]) -> Callable[..., Any]:
        def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            world = world_for(self.account_id)
            if world is not None:
                world.scheduler.run_due()
                health = world.health.status(self, str(target["Id"]))
                if health is not None:
                    entry = self.targets[str(target["Id"])]
                    return FakeHealthStatus(entry["Id"], entry["Port"], self.health_check_port,
                                            health.state, health.reason, health.description)
            return original(self, target, ec2_backend)
        return health_for

    _wrap(cls, "register", make_register)
    _wrap(cls, "health_for", make_health_for)


def _hook_fresh_ids_hidden(instances: type, images: type) -> None:
    """Filtered describes leave out ids still inside the consistency window.

    (The by-id refusals are the front door's: ``sandbox/consistency.py``.)
    """
    def make_instances(original: Callable[..., Any]) -> Callable[..., Any]:
        def describe_instances(self: Any, filters: Any = None) -> Any:
            reservations = original(self, filters)
            world = world_for(getattr(self, "account_id", None))
            if world is None or not filters:
                return reservations
            kept = []
            for reservation in reservations:  # moto hands out copies: safe to trim
                reservation.instances = [i for i in reservation.instances
                                         if not world.hidden(i.id)]
                if reservation.instances:
                    kept.append(reservation)
            return kept
        return describe_instances

    def make_images(original: Callable[..., Any]) -> Callable[..., Any]:
        def describe_images(self: Any, ami_ids: Any = None, filters: Any = None,
                            *args: Any, **kwargs: Any) -> Any:
            found = original(self, ami_ids, filters, *args, **kwargs)
            world = world_for(getattr(self, "account_id", None))
            if world is None or ami_ids or not filters:
                return found
            return [image for image in found if not world.hidden(image.id)]
        return describe_images

    _wrap(instances, "describe_instances", make_instances)
    _wrap(images, "describe_images", make_images)


def _hook_group_dependencies(cls: type) -> None:
    from moto.ec2.exceptions import DependencyViolationError

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_security_group(self: Any, name: str | None = None,
                                  group_id: str | None = None) -> Any:
            world = world_for(getattr(self, "account_id", None))
            if world is None:
                return original(self, name=name, group_id=group_id)
            world.scheduler.run_due()
            group = self.get_security_group_by_name_or_id(group_id or name) \
                if (group_id or name) else None
            if group is not None:
                users = group_users(self, group.id, _elb_backend(self))
                if world.holds.held_by_deleted_elb(group.id):
                    users.append("a deleted load balancer's network interface")
                if users:
                    # EC2's own words; the users are for whoever reads the sandbox log.
                    log.info("security group %s in use by %s", group.id, ", ".join(users))
                    raise DependencyViolationError(
                        f"resource {group.id} has a dependent object")
            return original(self, name=name, group_id=group_id)
        return delete_security_group

    _wrap(cls, "delete_security_group", make)


def _elb_backend(ec2_backend: Any) -> Any:
    from moto.elbv2.models import elbv2_backends

    try:
        return elbv2_backends[ec2_backend.account_id][ec2_backend.region_name]
    except KeyError:
        return None


def _hook_elb_delays(backend: type, target_group: type) -> None:
    from moto.elbv2.models import FakeHealthStatus

    def make_delete(original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_load_balancer(self: Any, arn: str) -> None:
            world = world_for(getattr(self, "account_id", None))
            lb = self.load_balancers.get(arn)
            original(self, arn)
            if world is not None and lb is not None:
                world.holds.load_balancer_deleted(list(lb.security_groups or []))
        return delete_load_balancer

    def make_deregister(original: Callable[..., Any]) -> Callable[..., Any]:
        def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
            original(self, targets)
            world = world_for(getattr(self, "account_id", None))
            if world is not None:
                world.holds.deregistered(self.arn, [str(t["Id"]) for t in targets],
                                         deregistration_delay(self))
        return deregister

    def make_health_for(original: Callable[..., Any]) -> Callable[..., Any]:
        def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            world = world_for(getattr(self, "account_id", None))
            tid = str(target["Id"])
            if world is not None and tid not in self.targets and \
                    world.holds.draining(self.arn, tid):
                return FakeHealthStatus(tid, target.get("Port", self.port),
                                        self.health_check_port, "draining",
                                        "Target.DeregistrationInProgress",
                                        "Target deregistration is in progress")
            return original(self, target, ec2_backend)
        return health_for

    _wrap(backend, "delete_load_balancer", make_delete)
    _wrap(target_group, "deregister", make_deregister)
    _wrap(target_group, "health_for", make_health_for)
