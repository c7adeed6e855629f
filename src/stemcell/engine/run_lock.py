"""Who is running a run right now: an advisory lock held in the run's folder.

The process running a run holds ``run.lock`` (``fcntl.flock``, exclusive) for as
long as it runs; the kernel drops the lock when the process dies, however it
dies, so "a run whose lock nobody holds" is exactly "a run whose process
ended". ``stemcell runs`` shows such a run still marked ``running`` as
``interrupted``; ``stemcell cleanup --all`` leaves runs whose lock is held alone.
The file holds the pid, for people reading the folder.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from stemcell.engine.run_folder import RunFolder


@contextmanager
def hold(folder: RunFolder) -> Iterator[bool]:
    """Hold the run's lock; yields False (and goes on) if another process holds it."""
    folder.ensure()
    fd = os.open(folder.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(folder: RunFolder) -> bool:
    """Does a live process (this one included) hold the run's lock?"""
    try:
        fd = os.open(folder.lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
