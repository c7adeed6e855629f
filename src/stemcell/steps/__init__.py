"""The lab's step kinds, one module each; ``build_steps`` turns a lab into steps."""

from __future__ import annotations

import importlib
from typing import Any

from stemcell.engine.step import Step

# kind -> (module, class). measure and compare are the timing area's; they are
# looked up the same way and must exist before a lab that uses them can run.
REGISTRY: dict[str, tuple[str, str]] = {
    "explain": ("explain", "ExplainStep"),
    "find_base_image": ("find_base_image", "FindBaseImageStep"),
    "key_pair": ("key_pair", "KeyPairStep"),
    "security_group": ("security_group", "SecurityGroupStep"),
    "launch_builder": ("launch_builder", "LaunchBuilderStep"),
    "provision": ("provision", "ProvisionStep"),
    "grant_ta_access": ("grant_ta_access", "GrantTaAccessStep"),
    "stop_builder": ("stop_builder", "StopBuilderStep"),
    "create_image": ("create_image", "CreateImageStep"),
    "upload_bundles": ("upload_bundles", "UploadBundlesStep"),
    "launch_roles": ("launch_roles", "LaunchRolesStep"),
    "measure": ("measure", "MeasureStep"),
    "compare": ("compare", "CompareStep"),
    "load_balancer": ("load_balancer", "LoadBalancerStep"),
    "share_image": ("share_image", "ShareImageStep"),
    "cleanup": ("cleanup", "CleanupStep"),
}


def step_class(kind: str) -> Any:
    module_name, class_name = REGISTRY[kind]
    module = importlib.import_module(f"stemcell.steps.{module_name}")
    cls = getattr(module, class_name, None)
    if cls is None:  # tolerate another class name in the timing area's modules
        from stemcell.engine.step import BaseStep

        candidates = [v for v in vars(module).values()
                      if isinstance(v, type) and issubclass(v, BaseStep) and v is not BaseStep
                      and v.__module__ == module.__name__]
        if len(candidates) != 1:
            raise LookupError(f"stemcell.steps.{module_name} has no step class {class_name}")
        cls = candidates[0]
    return cls


def build_steps(lab: Any) -> list[Step]:
    return [step_class(spec.kind)(spec) for spec in lab.steps]
