"""The lab's step kinds, one module each; ``build_steps`` turns a lab into steps."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stemcell.engine.step import BaseStep, Step

if TYPE_CHECKING:
    from stemcell.content.models import Lab

# kind -> (module, class). measure and compare are the timing area's; they are
# looked up the same way and must exist before a lab that uses them can run.
REGISTRY: dict[str, tuple[str, str]] = {
    "explain": ("step_explain_concept", "ExplainStep"),
    "find_base_image": ("step_find_base_image", "FindBaseImageStep"),
    "key_pair": ("step_create_key_pair", "KeyPairStep"),
    "security_group": ("step_create_security_group", "SecurityGroupStep"),
    "launch_builder": ("step_launch_builder", "LaunchBuilderStep"),
    "provision": ("step_provision_builder", "ProvisionStep"),
    "grant_ta_access": ("step_grant_ta_access", "GrantTaAccessStep"),
    "stop_builder": ("step_stop_builder", "StopBuilderStep"),
    "create_image": ("step_create_image", "CreateImageStep"),
    "upload_bundles": ("step_upload_bundles", "UploadBundlesStep"),
    "launch_roles": ("step_launch_roles", "LaunchRolesStep"),
    "measure": ("step_measure_boots", "MeasureStep"),
    "compare": ("step_compare_setups", "CompareStep"),
    "load_balancer": ("step_create_load_balancer", "LoadBalancerStep"),
    "share_image": ("step_share_image", "ShareImageStep"),
    "cleanup": ("step_clean_up", "CleanupStep"),
}


def step_class(kind: str) -> type[BaseStep]:
    module_name, class_name = REGISTRY[kind]
    module = importlib.import_module(f"stemcell.steps.{module_name}")
    cls = getattr(module, class_name, None)
    if cls is None:  # tolerate another class name in the timing area's modules
        candidates = [v for v in vars(module).values()
                      if isinstance(v, type) and issubclass(v, BaseStep) and v is not BaseStep
                      and v.__module__ == module.__name__]
        if len(candidates) != 1:
            raise LookupError(f"stemcell.steps.{module_name} has no step class {class_name}")
        cls = candidates[0]
    return cls


def build_steps(lab: Lab) -> list[Step]:
    return [step_class(spec.kind)(spec) for spec in lab.steps]
