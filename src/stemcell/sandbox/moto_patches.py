"""Fixes for gaps in moto that the lab's real API calls run into.

Each turns a call moto refuses (or answers wrongly) into what AWS does, so they
are safe for any user of moto in the process (the sandbox applies them, and
tests of the EC2 steps against plain ``mock_aws`` may too). Each fix is applied
once however often ``apply_moto_fixes()`` is called.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_applied = False


def apply_moto_fixes() -> None:
    """Patch moto's models in place; idempotent and thread-safe."""
    global _applied
    with _lock:
        if _applied:
            return
        _fix_create_image_snapshot_tags()
        _fix_describe_snapshots_owner_ids()
        _fix_deregister_image_delete_snapshots()
        _applied = True


def _fix_create_image_snapshot_tags() -> None:
    # AWS tags the new image's snapshots from TagSpecifications ResourceType
    # "snapshot"; moto 5.2 refuses that resource type. Tagging the root
    # snapshot at birth is what lets cleanup find it if the state file is lost.
    from moto.ec2.models.amis import AmiBackend

    original: Callable[..., Any] = AmiBackend.create_image

    @functools.wraps(original)
    def create_image(
        self: Any,
        instance_id: str,
        name: str,
        description: str,
        tag_specifications: list[dict[str, Any]],
    ) -> Any:
        snapshot_tags: list[dict[str, str]] = []
        others: list[dict[str, Any]] = []
        for spec in tag_specifications or []:
            if spec.get("ResourceType") == "snapshot":
                snapshot_tags.extend(spec.get("Tags", []))
            else:
                others.append(spec)
        image = original(self, instance_id, name, description, tag_specifications=others)
        for tag in snapshot_tags:
            image.ebs_snapshot.add_tag(tag["Key"], tag.get("Value", ""))
        return image

    AmiBackend.create_image = create_image  # type: ignore[method-assign]


def _fix_describe_snapshots_owner_ids() -> None:
    # DescribeSnapshots(OwnerIds=["self"]) is how cleanup tools list their own
    # snapshots; moto 5.2 ignores OwnerIds and returns every snapshot it holds
    # (including the ones behind public AMIs), so "nothing left" never holds.
    from moto.core.responses import ActionResult
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    original: Callable[..., Any] = ElasticBlockStore.describe_snapshots

    @functools.wraps(original)
    def describe_snapshots(self: Any) -> Any:
        owners = self._get_param("OwnerIds", [])
        if not owners:
            return original(self)
        wanted = {self.current_account if owner == "self" else owner for owner in owners}
        snapshots = self.ec2_backend.describe_snapshots(
            snapshot_ids=self._get_param("SnapshotIds", []),
            filters=self._filters_from_querystring())
        return ActionResult({"Snapshots": [s for s in snapshots if s.owner_id in wanted]})

    ElasticBlockStore.describe_snapshots = describe_snapshots  # type: ignore[method-assign]


def _fix_deregister_image_delete_snapshots() -> None:
    # DeregisterImage(DeleteAssociatedSnapshots=True) deletes the image's snapshots
    # with it and reports each (EC2 API reference, DeregisterImage, 2025); moto 5.2
    # ignores the parameter, leaving the snapshots to bill on.
    from moto.core.responses import ActionResult
    from moto.ec2.responses.amis import AmisResponse

    original: Callable[..., Any] = AmisResponse.deregister_image

    @functools.wraps(original)
    def deregister_image(self: Any) -> Any:
        wanted = str(self._get_param("DeleteAssociatedSnapshots", "false")).lower() == "true"
        ami = self.ec2_backend.amis.get(self._get_param("ImageId"))
        snapshot = getattr(ami, "ebs_snapshot", None)
        answer = original(self)
        if not wanted or snapshot is None:
            return answer
        results = []
        try:
            self.ec2_backend.delete_snapshot(snapshot.id)
            results.append({"SnapshotId": snapshot.id, "ReturnCode": "success"})
        except Exception:  # e.g. still used by another image: reported, not raised
            results.append({"SnapshotId": snapshot.id, "ReturnCode": "error"})
        return ActionResult({"Return": True, "DeleteSnapshotResults": results})

    AmisResponse.deregister_image = deregister_image  # type: ignore[method-assign]
