"""Hands-on mode: per step kind, what the student types and how stemcell recognises it.

One module per step kind (``<kind>_task.py``). Each task gives the runner a
``Brief`` (the goal, the exact AWS CLI / ssh commands with this run's values,
the console way in one sentence) and answers "done yet?" each tick: it finds
the student's resources by what the step asks for, adopts them into the run's
ledger (tagged with the run's tags, ``made_by=Actor.STUDENT``) and runs the step's
checks. Step kinds with no task here (explain, find_base_image, measure,
compare, cleanup) are done by stemcell, on the student's servers.
"""

from __future__ import annotations

import importlib

from stemcell.content.models import Lab
from stemcell.engine.student_desk import HandsOnTask

# kind -> module in this package; each module has one ``Task`` class.
TASKS: dict[str, str] = {
    "key_pair": "key_pair_task",
    "security_group": "security_group_task",
    "launch_builder": "launch_builder_task",
    "provision": "provision_task",
    "grant_ta_access": "grant_ta_access_task",
    "stop_builder": "stop_builder_task",
    "create_image": "create_image_task",
    "upload_bundles": "upload_bundles_task",
    "launch_roles": "launch_roles_task",
    "load_balancer": "load_balancer_task",
    "share_image": "share_image_task",
}


def build_tasks(lab: Lab) -> dict[str, HandsOnTask]:
    """The hands-on task of each step the student acts on, by step id."""
    tasks: dict[str, HandsOnTask] = {}
    for spec in lab.steps:
        module_name = TASKS.get(spec.kind)
        if module_name is None:
            continue
        module = importlib.import_module(f"stemcell.handson.{module_name}")
        tasks[spec.id] = module.Task(spec)
    return tasks
