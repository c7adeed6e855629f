"""The run's instances: one record each, kept in one place, ``state.timings["instances"]``.

A record starts when the instance is launched (``track``: role, setup, image),
gains its addresses once it runs (``set_addresses``: then it is one of the
run's role servers, which later steps use), and its marks and measurements as
the boot is watched (``Context.mark``, the measure step). The comparison, the
report, the TUI and the checks all read these records; nothing keeps a second
copy.

Run folders written before this (stemcell <= the house wave) also kept the role
servers in ``state.bag["instances"]``; ``role_servers`` still reads their
addresses from there, so such a run resumes and is checked as before.
"""

from __future__ import annotations

from typing import Any

from stemcell.engine.errors import StepFailed
from stemcell.engine.state import RunState

KEY = "instances"  # in state.timings
ROLE_SETUPS = ("1", "2")  # the role servers' setups (the builder's is "builder")
_LEGACY_BAG_KEY = "instances"  # the bag's copy in older state files


def records(state: RunState) -> dict[str, dict[str, Any]]:
    """Every instance's record, by id (the live dict: hold the store's lock to change it)."""
    found: dict[str, dict[str, Any]] = state.timings.setdefault(KEY, {})
    return found


def track(state: RunState, instance_id: str, role: str, setup: str, image_id: str) -> bool:
    """Start an instance's record (a record already there is kept); True if it is new."""
    table = records(state)
    if instance_id in table:
        return False
    table[instance_id] = {"role": role, "setup": setup, "image_id": image_id, "marks": {}}
    return True


def set_addresses(state: RunState, instance_id: str, public_ip: str, private_ip: str) -> None:
    """A running instance's addresses: from now on it is one of the run's role servers."""
    entry = records(state).setdefault(
        instance_id, {"role": "", "setup": "", "image_id": "", "marks": {}})
    entry["public_ip"], entry["private_ip"] = public_ip, private_ip


def role_servers(state: RunState) -> dict[str, dict[str, Any]]:
    """The running role servers (setups #1 and #2) by id: role, setup, image and addresses."""
    legacy: dict[str, dict[str, Any]] = state.bag.get(_LEGACY_BAG_KEY) or {}
    out: dict[str, dict[str, Any]] = {}
    for iid, entry in (state.timings.get(KEY) or {}).items():
        old = legacy.get(iid, {})
        if "private_ip" not in entry and "private_ip" not in old:
            continue  # launched but not (yet) running
        setup = str(entry.get("setup") or old.get("setup", ""))
        if setup not in ROLE_SETUPS:
            continue
        out[iid] = {
            "role": str(entry.get("role") or old.get("role", "")),
            "setup": setup,
            "image_id": str(entry.get("image_id") or old.get("image_id", "")),
            "public_ip": str(entry.get("public_ip", old.get("public_ip", ""))),
            "private_ip": str(entry.get("private_ip", old.get("private_ip", ""))),
        }
    # An older run whose timings never saw an instance the bag names.
    for iid, old in legacy.items():
        if iid not in out and str(old.get("setup")) in ROLE_SETUPS:
            out[iid] = {k: str(old.get(k, "")) for k in
                        ("role", "setup", "image_id", "public_ip", "private_ip")}
    return out


def need_role_servers(state: RunState) -> dict[str, dict[str, Any]]:
    """``role_servers``, or the step fails: an earlier step should have launched them."""
    found = role_servers(state)
    if not found:
        raise StepFailed(
            "this step needs the role servers, which an earlier step should have launched",
            hint="Run the lab's steps in order (or resume the run that launched them).")
    return found
