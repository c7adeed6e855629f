"""Keep a live sandbox's data when ``mock_aws`` resets moto in the same process.

An in-process sandbox shares moto's global backends with any ``mock_aws`` used
elsewhere in the process (a test, a tool). ``mock_aws`` wipes *all* backends
when it starts and stops; that would silently empty a running sandbox. The
sandbox owns its own account ids, so a reset keeps those accounts and wipes
everything else exactly as before. With no sandbox running, reset is unchanged.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_protected: list[Callable[[], set[str]]] = []


def protect_from_resets(accounts: Callable[[], set[str]]) -> None:
    """Make moto's ``BackendDict.reset`` spare the accounts ``accounts()`` names."""
    from moto.core.base_backend import BackendDict, backend_lock

    instances: list[Any] = BackendDict._instances  # type: ignore[misc]
    with _lock:
        if _protected:
            _protected.append(accounts)
            return
        _protected.append(accounts)
        original: Callable[[], None] = BackendDict.reset

        @functools.wraps(original)
        def reset() -> None:
            keep = set().union(*(source() for source in _protected))
            if not keep:
                return original()
            with backend_lock:  # re-entrant: the original takes it too
                saved: list[tuple[Any, dict[str, Any]]] = []
                for backend_dict in list(instances):
                    entries = {a: dict.__getitem__(backend_dict, a)
                               for a in keep if dict.__contains__(backend_dict, a)}
                    for account in entries:
                        dict.__delitem__(backend_dict, account)
                    saved.append((backend_dict, entries))
                original()
                for backend_dict, entries in saved:
                    if entries:
                        dict.update(backend_dict, entries)
                        if backend_dict not in instances:
                            instances.append(backend_dict)
            return None

        BackendDict.reset = staticmethod(reset)  # type: ignore[method-assign]


def forget_accounts(accounts: set[str]) -> None:
    """Drop a closed sandbox's moto data (its account ids are never reused)."""
    from moto.core.base_backend import BackendDict, backend_lock

    instances: list[Any] = BackendDict._instances  # type: ignore[misc]
    with backend_lock:
        for backend_dict in list(instances):
            for account in accounts:
                if dict.__contains__(backend_dict, account):
                    dict.__delitem__(backend_dict, account)
