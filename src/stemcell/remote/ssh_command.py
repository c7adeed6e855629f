"""The OpenSSH command line a person types to log into an instance, built in one place.

The app copies it to the clipboard, ``stemcell sandbox status`` prints it and
hands-on steps show it in the commands a student types. It uses the run's own
key and, when given, the run's own known_hosts: stemcell pins each host key
there when it first connects (``remote/host_keys.py``), so the student's ``ssh``
checks the very key stemcell verified instead of asking again.
"""

from __future__ import annotations

import shlex
from pathlib import Path

USER = "ubuntu"  # Canonical's Ubuntu AMIs log in as ubuntu


def ssh_command(host: str, port: int, key: str | Path, known_hosts: str | Path | None = None,
                user: str = USER, host_key_alias: str | None = None, *,
                accept_new: bool = False) -> str:
    """``ssh [-p PORT] -i KEY [-o UserKnownHostsFile=FILE] [-o HostKeyAlias=ID] USER@HOST``,
    shell-quoted. stemcell pins a host key under the instance id (``host_key_alias``).

    ``accept_new``: a command a student runs with a script on its stdin (hands-on):
    only this key is offered, nothing prompts, and a host key nobody pinned yet is
    trusted on first use (``StrictHostKeyChecking=accept-new``).
    """
    words = ["ssh"]
    if port != 22:
        words += ["-p", str(port)]
    words += ["-i", str(key)]
    if accept_new:
        words += ["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                  "-o", "StrictHostKeyChecking=accept-new"]
    if known_hosts is not None:
        words += ["-o", f"UserKnownHostsFile={known_hosts}"]
    if host_key_alias:
        words += ["-o", f"HostKeyAlias={host_key_alias}"]
    words.append(f"{user}@{host}")
    return shlex.join(words)
