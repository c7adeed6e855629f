"""EBS encryption as AWS has it, and the one thing it forbids: sharing the default key.

An encrypted volume launched without a key uses the account's AWS managed key
``alias/aws/ebs``; an image made from it has snapshots encrypted with that key;
and AWS refuses to share such an image with another account: ModifyImageAttribute
answers ``InvalidParameter`` ("Snapshots encrypted with the AWS Managed CMK can't
be shared. Specify another snapshot."), because only a customer managed key's
policy can let another account decrypt ("Share an AMI with specific AWS
accounts" and "Amazon EBS encryption", Amazon EC2 / EBS User Guides,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html,
https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html). Encrypted
images can never be made public.

moto gets each of these wrong: its image snapshots are never encrypted, its
``aws/ebs`` key calls itself customer managed, and it shares anything.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from stemcell.sandbox.front_door import ApiRequest, Refusal

DEFAULT_ALIAS = "alias/aws/ebs"
_lock = threading.Lock()
_installed = False


def _kms(account_id: str, region: str) -> Any:
    from moto.kms import kms_backends

    return kms_backends[account_id][region]


def is_aws_managed(account_id: str, region: str, key_id: str | None) -> bool:
    """True for the account's ``aws/ebs`` key (by ARN, id or alias)."""
    if not key_id:
        return True  # encrypted with no key named: the default key
    kms = _kms(account_id, region)
    try:
        key = kms.describe_key(key_id)
    except Exception:
        return False
    if getattr(key, "key_manager", "") == "AWS":
        return True
    default = kms.get_key_id_from_alias(DEFAULT_ALIAS) if kms.alias_exists(DEFAULT_ALIAS) \
        else None
    return bool(default) and default in (key.id, key.arn)


def share_filter(account_id: str) -> Callable[[ApiRequest], Refusal | None]:
    """Refuse sharing an image whose snapshots use the AWS managed key, as EC2 does."""
    def check(request: ApiRequest) -> Refusal | None:
        if request.service != "ec2" or request.operation != "ModifyImageAttribute":
            return None
        # LaunchPermission.Add.N.UserId / .Group, or the older OperationType=add form.
        adds = [k for k in request.params if k.startswith("LaunchPermission.Add.")]
        if request.param("OperationType") == "add":
            adds += [k for k in request.params if k.startswith(("UserId.", "UserGroup."))]
        if not adds:
            return None
        public = any(request.params[k][0] == "all" for k in adds if k.endswith(".Group")
                     or k.startswith("UserGroup."))
        from moto.ec2.models import ec2_backends

        region = request.region or "us-east-1"
        image = ec2_backends[account_id][region].amis.get(request.param("ImageId"))
        snapshot = getattr(image, "ebs_snapshot", None)
        if snapshot is None or not getattr(snapshot, "encrypted", False):
            return None
        if public:
            return Refusal(400, "InvalidParameter", "Encrypted AMIs cannot be made public.")
        if is_aws_managed(account_id, region, getattr(snapshot, "kms_key_id", None)):
            return Refusal(400, "InvalidParameter",
                           "Snapshots encrypted with the AWS Managed CMK can't be shared. "
                           "Specify another snapshot.")
        return None
    return check


def install(is_sandbox: Callable[[str], bool]) -> None:
    """An image's snapshot is encrypted like its instance's root volume; aws/ebs is AWS's."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.ec2.models.amis import AmiBackend
        from moto.ec2.models.elastic_block_store import EBSBackend

        make_key: Callable[..., Any] = EBSBackend._create_default_encryption_key

        @functools.wraps(make_key)
        def create_default_key(self: Any) -> str:
            arn = str(make_key(self))
            if is_sandbox(self.account_id):
                _kms(self.account_id, self.region_name).describe_key(arn).key_manager = "AWS"
            return arn

        create_image: Callable[..., Any] = AmiBackend.create_image

        @functools.wraps(create_image)
        def create_image_encrypted(self: Any, instance_id: str, name: str, description: str,
                                   tag_specifications: list[dict[str, Any]]) -> Any:
            image = create_image(self, instance_id, name, description,
                                 tag_specifications=tag_specifications)
            if is_sandbox(self.account_id):
                instance = self.get_instance(instance_id)
                for device, mapping in instance.get_block_device_mapping:
                    if device != instance.root_device_name or not mapping.volume_id:
                        continue
                    volume = self.get_volume(mapping.volume_id)
                    if getattr(volume, "encrypted", False):
                        image.ebs_snapshot.encrypted = True
                        image.ebs_snapshot.kms_key_id = volume.kms_key_id
            return image

        EBSBackend._create_default_encryption_key = create_default_key  # type: ignore
        AmiBackend.create_image = create_image_encrypted  # type: ignore[method-assign]
        _installed = True
