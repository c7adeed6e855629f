"""CPU credit modes as EC2 reports them: the launch's choice, else the family default.

T2 instances launch in ``standard`` credit mode by default, T3/T3a/T4g in
``unlimited`` (surplus credits billed per vCPU-hour) unless RunInstances says
``CreditSpecification={'CpuCredits': 'standard'}`` ("Burstable performance
instances: unlimited mode" and "Credit specification", Amazon EC2 User Guide,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode.html).
moto ignores the parameter and reports every instance ``standard``, so a launch
that forgot it would look right; the sandbox remembers what each launch asked
for and answers DescribeInstanceCreditSpecifications with it.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Any

from stemcell.sandbox.front_door import ApiRequest

_lock = threading.Lock()
_installed = False
# account id -> instance id -> "standard" | "unlimited"
_modes: dict[str, dict[str, str]] = {}

_INSTANCE_ID = re.compile(rb"<instanceId>(i-[0-9a-f]+)</instanceId>")


def default_mode(instance_type: str) -> str:
    family = instance_type.split(".", 1)[0]
    if family in ("t3", "t3a", "t4g"):
        return "unlimited"
    return "standard"


def mode_of(account_id: str, instance_id: str, instance_type: str) -> str:
    return _modes.get(account_id, {}).get(instance_id) or default_mode(instance_type)


def launch_observer(account_id: str) -> Callable[[ApiRequest, int, bytes], None]:
    """Remember each RunInstances' credit mode, keyed by the ids moto answered with."""
    def observe(request: ApiRequest, status: int, body: bytes) -> None:
        if request.service != "ec2" or request.operation != "RunInstances" or status != 200:
            return
        itype = request.param("InstanceType", "m1.small")
        mode = request.param("CreditSpecification.CpuCredits") or default_mode(itype)
        with _lock:
            known = _modes.setdefault(account_id, {})
            for match in _INSTANCE_ID.finditer(body):
                known[match.group(1).decode()] = mode
    return observe


def forget(account_id: str) -> None:
    with _lock:
        _modes.pop(account_id, None)


def install(is_sandbox: Callable[[str], bool]) -> None:
    """Answer DescribeInstanceCreditSpecifications from what was launched (sandbox only)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core.responses import ActionResult
        from moto.ec2.responses.instances import InstanceResponse

        original: Callable[..., Any] = InstanceResponse.describe_instance_credit_specifications

        @functools.wraps(original)
        def describe(self: Any) -> Any:
            account = self.current_account
            if not is_sandbox(account):
                return original(self)
            ids = self._get_param("InstanceIds", [])
            instances = self.ec2_backend.describe_instance_credit_specifications(ids)
            return ActionResult({"InstanceCreditSpecifications": [
                {"InstanceId": i.id, "CpuCredits": mode_of(account, i.id, i.instance_type)}
                for i in instances]})

        InstanceResponse.describe_instance_credit_specifications = describe  # type: ignore
        _installed = True
