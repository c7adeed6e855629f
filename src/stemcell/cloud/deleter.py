"""Deleting resources by type: used by step cleanups and ``stemcell cleanup``.

Every delete is idempotent: something already gone is marked ``gone``, not an
error - except right after its create, when EC2's eventual consistency makes a
live resource answer NotFound (EC2 API reference, "Eventual consistency"): a
NotFound for a resource younger than ``api_retries.FRESH_SECONDS`` is retried
once that window has passed before it counts as gone. Waits are in modeled
seconds and listen to the cleanup's own cancel (``ctx.cleanup_cancel``), so a
stray second Ctrl-C cannot cut a cleanup short.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.api_retries import FRESH_SECONDS
from stemcell.cloud.aws_errors import error_code, is_gone
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.state import Resource
from stemcell.engine.statuses import ResourceStatus

# Deleting a security group fails while an instance or a load balancer's network
# interface still uses it; AWS frees them a little after "terminated".
SG_RETRY_SECONDS = 600.0
SNAPSHOT_RETRY_SECONDS = 120.0
WAIT_TERMINATED_SECONDS = 900.0
IMAGE_SETTLE_SECONDS = 3600.0  # a pending image is deregistered once it settles


class CloudDeleter:
    """Implements ``engine.context.Deleter`` with the run's ``Cloud``."""

    def delete(self, resource: Resource, ctx: Context) -> None:
        handler = getattr(self, f"_delete_{resource.rtype}", None)
        if handler is None:
            raise StepFailed(f"do not know how to delete a {resource.rtype}")
        try:
            handler(resource, ctx)
        except ClientError as exc:
            if not is_gone(exc):
                raise
            young = ctx.clock.now() - resource.created
            if resource.created and young < FRESH_SECONDS:
                # Maybe not gone, only not visible yet: ask again after the window.
                ctx.log(f"{resource.rtype} {resource.rid} reads as not found "
                        f"{young:.0f} s after its creation; asking again")
                ctx.sleep(FRESH_SECONDS - young)
                try:
                    handler(resource, ctx)
                except ClientError as again:
                    if not is_gone(again):
                        raise
                    ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.GONE)
                    return
                ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.DELETED)
                return
            ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.GONE)
            return
        ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.DELETED)

    def sweep(self, ctx: Context) -> list[Resource]:
        """Delete what carries the run's tag but is not live in the ledger.

        A create retried after a lost answer (CreateImage, CreateSecurityGroup,
        ImportKeyPair are not idempotent) leaves a resource the ledger never
        saw; its tag still names the run. Returns what was found.
        """
        from stemcell.cloud.leftovers import deletion_order, find

        known = {(r.rtype, r.rid) for r in ctx.state.resources
                 if not r.state.is_live}
        found = [r for r in find(ctx.cloud, ctx.run_id) if (r.rtype, r.rid) not in known
                 and ctx.state.find(r.rtype, r.rid) is None]
        for resource in deletion_order(found):
            resource.step_id = "sweep"
            resource.created = ctx.clock.now() - FRESH_SECONDS  # old enough to be seen
            with ctx.store.lock:
                ctx.state.resources.append(resource)
                ctx.store.save()
            try:
                if resource.rtype == "instance":
                    self.delete_instances([resource.rid], ctx)
                else:
                    self.delete(resource, ctx)
            except Exception as exc:
                ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.FAILED, str(exc))
        return found

    # --- instances -------------------------------------------------------------------
    def delete_instances(self, ids: Iterable[str], ctx: Context) -> None:
        """Terminate many at once and wait for all with one describe per tick."""
        wanted = sorted(set(ids))
        if not wanted:
            return
        ec2 = ctx.cloud.ec2
        alive: list[str] = []
        try:
            for start in range(0, len(wanted), 500):
                ec2.terminate_instances(InstanceIds=wanted[start:start + 500])
            alive = wanted
        except ClientError as exc:
            if not is_gone(exc):
                raise
            # One unknown id fails the whole call: sort them out one by one.
            for iid in wanted:
                try:
                    ec2.terminate_instances(InstanceIds=[iid])
                    alive.append(iid)
                except ClientError as one:
                    if not is_gone(one):
                        raise
                    ctx.mark_resource("instance", iid, ResourceStatus.GONE)
        self._wait_terminated(alive, ctx)
        for iid in alive:
            ctx.mark_resource("instance", iid, ResourceStatus.DELETED)

    def _delete_instance(self, resource: Resource, ctx: Context) -> None:
        # TerminateInstances happily "terminates" a terminated instance again.
        found = ctx.cloud.ec2.describe_instances(InstanceIds=[resource.rid])["Reservations"]
        states = [i["State"]["Name"] for r in found for i in r["Instances"]]
        if not states or all(s == "terminated" for s in states):
            raise _gone()
        ctx.cloud.ec2.terminate_instances(InstanceIds=[resource.rid])
        self._wait_terminated([resource.rid], ctx)

    def _wait_terminated(self, ids: list[str], ctx: Context) -> None:
        if not ids:
            return

        def all_terminated() -> bool:
            try:
                pages = ctx.cloud.ec2.describe_instances(InstanceIds=ids)
            except ClientError as exc:
                if is_gone(exc):
                    return True
                raise
            states = [i["State"]["Name"] for r in pages["Reservations"] for i in r["Instances"]]
            return all(s == "terminated" for s in states)

        ctx.wait_for(f"{', '.join(ids)} to terminate", all_terminated,
                     WAIT_TERMINATED_SECONDS, first=1.0, longest=10.0)

    # --- images and snapshots --------------------------------------------------------
    def _delete_image(self, resource: Resource, ctx: Context) -> None:
        ec2 = ctx.cloud.ec2
        snapshots = set(resource.extra.get("snapshots", []))
        try:
            images = ec2.describe_images(ImageIds=[resource.rid])["Images"]
        except ClientError as exc:
            if not is_gone(exc):
                raise
            images = []
        for image in images:
            for mapping in image.get("BlockDeviceMappings", []):
                sid = mapping.get("Ebs", {}).get("SnapshotId")
                if sid:
                    snapshots.add(sid)
        if images and images[0].get("State") == "pending":
            images = self._settle(resource.rid, ctx)
        if images:
            self._deregister(resource.rid, ctx)
        # Deregistering leaves the snapshots (and their monthly cost) behind.
        for sid in sorted(snapshots):
            self._delete_snapshot_id(sid, ctx)
            ctx.mark_resource("snapshot", sid, ResourceStatus.DELETED)
        if not images:
            raise _gone()

    def _settle(self, image_id: str, ctx: Context) -> list[dict[str, Any]]:
        """Wait for a pending image to become available or failed (then deregister)."""
        ec2 = ctx.cloud.ec2
        ctx.log(f"image {image_id} is still pending; waiting for it to settle to "
                "deregister it")
        seen: dict[str, list[dict[str, Any]]] = {"images": []}

        def settled() -> bool:
            try:
                seen["images"] = ec2.describe_images(ImageIds=[image_id])["Images"]
            except ClientError as exc:
                if is_gone(exc):
                    seen["images"] = []
                    return True
                raise
            return not seen["images"] or seen["images"][0].get("State") != "pending"

        try:
            ctx.wait_for(f"image {image_id} to settle", settled, IMAGE_SETTLE_SECONDS,
                         first=5.0, longest=30.0)
        except StepFailed:
            # Stuck pending: deregistering it anyway beats leaving it to bill on.
            ctx.log(f"image {image_id} still pending after {IMAGE_SETTLE_SECONDS:.0f} s; "
                    "deregistering it anyway", "warning")
        return seen["images"]

    def _deregister(self, image_id: str, ctx: Context) -> None:
        """DeregisterImage taking its snapshots along where the API can (since 2025)."""
        ec2 = ctx.cloud.ec2
        try:
            ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
        except ClientError as exc:
            if error_code(exc) not in ("InvalidParameter", "InvalidParameterValue",
                                       "UnknownParameter"):
                raise
            # An endpoint without the parameter: deregister, then the snapshots below.
            ec2.deregister_image(ImageId=image_id)

    def _delete_snapshot(self, resource: Resource, ctx: Context) -> None:
        self._delete_snapshot_id(resource.rid, ctx)

    def _delete_snapshot_id(self, sid: str, ctx: Context) -> None:
        def attempt() -> bool:
            try:
                ctx.cloud.ec2.delete_snapshot(SnapshotId=sid)
            except ClientError as exc:
                if is_gone(exc):
                    return True
                # Right after DeregisterImage the snapshot can still read "in use".
                if error_code(exc) == "InvalidSnapshot.InUse":
                    return False
                raise
            return True

        ctx.wait_for(f"snapshot {sid} to be deletable", attempt, SNAPSHOT_RETRY_SECONDS,
                     first=2.0, longest=10.0)

    # --- network and access -----------------------------------------------------------
    def _delete_security_group(self, resource: Resource, ctx: Context) -> None:
        def attempt() -> bool:
            try:
                ctx.cloud.ec2.delete_security_group(GroupId=resource.rid)
            except ClientError as exc:
                if error_code(exc) == "DependencyViolation":
                    ctx.log(f"security group {resource.rid} still in use; retrying")
                    return False
                raise
            return True

        try:
            ctx.wait_for(f"security group {resource.rid} to be free", attempt,
                         SG_RETRY_SECONDS, first=2.0, longest=15.0)
        except StepFailed:
            raise StepFailed(
                f"security group {resource.rid} is still in use after "
                f"{SG_RETRY_SECONDS:.0f} s (DependencyViolation): another group's rule, an "
                "instance or a load balancer still references it") from None

    def _delete_key_pair(self, resource: Resource, ctx: Context) -> None:
        ec2 = ctx.cloud.ec2
        # DeleteKeyPair succeeds for a key that does not exist: ask first, to be able
        # to tell "deleted" from "gone".
        # By name where we know it: moto (the sandbox) only supports names.
        by = {"KeyName": resource.name} if resource.name else {"KeyPairId": resource.rid}
        try:
            found = ec2.describe_key_pairs(**{k + "s": [v] for k, v in by.items()})
        except ClientError as exc:
            _remove_key_file(resource, ctx)
            if is_gone(exc):
                raise _gone() from None
            raise
        if not [k for k in found.get("KeyPairs", []) if k.get("KeyPairId") == resource.rid]:
            _remove_key_file(resource, ctx)
            raise _gone()
        ec2.delete_key_pair(**by)
        _remove_key_file(resource, ctx)

    # --- S3 -----------------------------------------------------------------------------
    def _delete_bucket(self, resource: Resource, ctx: Context) -> None:
        s3 = ctx.cloud.s3
        kwargs: dict[str, Any] = {"Bucket": resource.rid}
        while True:
            page = s3.list_object_versions(**kwargs)
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if doomed:
                s3.delete_objects(Bucket=resource.rid, Delete={"Objects": doomed, "Quiet": True})
            if not page.get("IsTruncated"):
                break
            kwargs = {"Bucket": resource.rid, "KeyMarker": page.get("NextKeyMarker"),
                      "VersionIdMarker": page.get("NextVersionIdMarker")}
        s3.delete_bucket(Bucket=resource.rid)

    # --- load balancing -----------------------------------------------------------------
    def _delete_listener(self, resource: Resource, ctx: Context) -> None:
        ctx.cloud.elbv2.delete_listener(ListenerArn=resource.rid)

    def _delete_load_balancer(self, resource: Resource, ctx: Context) -> None:
        elb = ctx.cloud.elbv2
        elb.delete_load_balancer(LoadBalancerArn=resource.rid)

        def gone() -> bool:
            try:
                elb.describe_load_balancers(LoadBalancerArns=[resource.rid])
            except ClientError as exc:
                if is_gone(exc):
                    return True
                raise
            return False

        ctx.wait_for(f"load balancer {resource.name or resource.rid} to go", gone, 600.0)

    def _delete_target_group(self, resource: Resource, ctx: Context) -> None:
        elb = ctx.cloud.elbv2
        targets = elb.describe_target_health(TargetGroupArn=resource.rid).get(
            "TargetHealthDescriptions", [])
        if targets:
            elb.deregister_targets(TargetGroupArn=resource.rid,
                                   Targets=[{"Id": t["Target"]["Id"]} for t in targets])

        def attempt() -> bool:
            try:
                elb.delete_target_group(TargetGroupArn=resource.rid)
            except ClientError as exc:
                if error_code(exc) == "ResourceInUse":  # the LB is still letting go
                    return False
                raise
            return True

        ctx.wait_for("target group to be free", attempt, 300.0)


def _gone() -> ClientError:
    return ClientError({"Error": {"Code": "NotFound", "Message": "already gone"}}, "Delete")


def _remove_key_file(resource: Resource, ctx: Context) -> None:
    from pathlib import Path

    from stemcell.paths import is_inside

    path = resource.extra.get("path")
    # The path comes from state.json: unlink only inside this run's own folder, so an
    # edited (or hostile) state file cannot make cleanup delete anything else.
    if path and is_inside(Path(path), Path(ctx.run_dir)):
        Path(path).unlink(missing_ok=True)
