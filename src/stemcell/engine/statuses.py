"""The statuses a run, its steps and its resources go through, as ``StrEnum``s.

Each member *is* its string (``StepStatus.DONE == "done"``), so ``state.json``
and recordings keep the words they always had and old files load unchanged;
code compares members, never spelled-out words.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


class RunStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class ResourceStatus(StrEnum):
    """A ledger entry's state.

    ``GONE``: it had disappeared when stemcell came to delete it (deleted outside
    stemcell, or with something else). ``FAILED`` is what a caller of
    ``Context.mark_resource`` says when a deletion failed - the entry then stays
    ``LIVE`` with ``extra["delete_error"]`` - and what older state files stored for
    it, which counts as live too.
    """

    LIVE = "live"
    DELETED = "deleted"
    GONE = "gone"
    FAILED = "failed"

    @property
    def is_live(self) -> bool:
        """Still costs money: counted by ``runs``, retried by ``cleanup --run``."""
        return self in (ResourceStatus.LIVE, ResourceStatus.FAILED)

    @property
    def is_removed(self) -> bool:
        return self in (ResourceStatus.DELETED, ResourceStatus.GONE)


# A step that started: cleanup must undo it (in this session or the one resumed).
STARTED = frozenset({StepStatus.RUNNING, StepStatus.DONE, StepStatus.FAILED,
                     StepStatus.INTERRUPTED})
# A run that ended; a ``RUNNING`` one whose lock nobody holds is reported as interrupted.
ENDED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.INTERRUPTED})


class Actor(StrEnum):
    """Who did a step or made a resource (hands-on runs tell the two apart).

    ``GUIDED`` is a guided run's step: nobody to name, and falsy like the empty
    word it is written as.
    """

    GUIDED = ""
    STUDENT = "student"
    STEMCELL = "stemcell"
