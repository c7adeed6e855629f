"""file: exists (or not), its mode and owner, and whether it contains a text.

``ls -ld`` rather than ``stat -c`` for the mode and owner: it answers the same
on every Ubuntu and in the sandbox guest, and its output is what a student
would look at themselves.
"""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict, first_line, q
from stemcell.checks.probe import Probe
from stemcell.checks.ssh_remote import CommandResult
from stemcell.content.models import CheckSpec

_SPECIAL = {  # position in the permission string -> (set bit, letter when x set, when not)
    3: (0o4000, "s", "S"),
    6: (0o2000, "s", "S"),
    9: (0o1000, "t", "T"),
}


def parse_mode(perms: str) -> int:
    """``-rwxr-sr-T`` -> 0o3754 (the first letter is the file type)."""
    if len(perms) < 10:
        raise ValueError(f"not a permission string: {perms!r}")
    mode = 0
    for i, char in enumerate(perms[1:10], start=1):
        bit = 1 << (9 - i)
        if i in _SPECIAL:
            special, with_x, without_x = _SPECIAL[i]
            if char in (with_x, without_x):
                mode |= special
                if char == with_x:
                    mode |= bit
                continue
        if char != "-":
            mode |= bit
    return mode


def parse_ls(line: str) -> tuple[int, str, str]:
    """(mode, owner, group) from one ``ls -ld`` line."""
    fields = line.split()
    if len(fields) < 4:
        raise ValueError(f"unexpected ls output: {line!r}")
    return parse_mode(fields[0][:10]), fields[2], fields[3]


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    path = spec.path or ""
    exists = probe.sh(f"test -e {q(path)}").exit_status == 0
    if not spec.exists:
        return Verdict(not exists, f"{path} absent", f"{path} {'exists' if exists else 'absent'}")
    if not exists:
        return Verdict(False, f"{path} exists", f"{path} does not exist")
    expected = [f"{path} exists"]
    actual = [f"{path} exists"]
    problems: list[str] = []
    if spec.mode is not None or spec.owner is not None:
        listing = probe.sh(f"ls -ld {q(path)}")
        mode, owner, group = parse_ls(first_line(listing.stdout))
        if spec.mode is not None:
            want = int(spec.mode, 8)
            expected.append(f"mode {want:o}")
            actual.append(f"mode {mode:o}")
            if mode != want:
                problems.append(f"mode is {mode:o}, not {want:o}")
        if spec.owner is not None:
            want_owner, _, want_group = spec.owner.partition(":")
            expected.append(f"owner {spec.owner}")
            actual.append(f"owner {owner}:{group}")
            if owner != want_owner or (want_group and group != want_group):
                problems.append(f"owned by {owner}:{group}, not {spec.owner}")
    if spec.contains is not None:
        grep = f"grep -F -c {q(spec.contains)} {q(path)}"
        found = probe.sh(grep)
        if found.exit_status == 2 and "Permission denied" in found.stderr:
            # Content and permissions are separate questions (a mode check asks the
            # latter); read as root, never prompting (-n), to answer the former.
            found = probe.sh(f"sudo -n {grep}")
            if found.exit_status != 0 and found.stderr.startswith("sudo:"):
                found = CommandResult(2, found.stdout, found.stderr)
        count = first_line(found.stdout)
        expected.append(f"contains {spec.contains!r}")
        if found.exit_status == 0:
            actual.append(f"contains it ({count} line(s))")
        elif found.exit_status == 1:
            actual.append("does not contain it")
            problems.append(f"{path} lacks {spec.contains!r}")
        else:
            actual.append(f"could not read it ({first_line(found.stderr) or 'grep failed'})")
            problems.append(f"{path} could not be read")
    return Verdict(not problems, ", ".join(expected), ", ".join(actual), "; ".join(problems))
