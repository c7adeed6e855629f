"""The checker against a hostile student server: memory under a flood, time of a hang.

Runs the real ``stemcell check`` (a subprocess, as a TA would) against SSH servers
on 127.0.0.1 from the attack suite (``tests/attacks/hostile_sshd.py``):

- a well-behaved server, for the baseline peak RSS;
- a server that answers every command with endless output: peak RSS of the
  checker (``wait4``'s ``ru_maxrss``) with ``--deadline 10``; each command keeps
  at most 1 MB, so the peak stays near the baseline instead of growing by
  hundreds of MB a second;
- a server that accepts SSH and never answers the exec request: wall time of
  ``check --deadline 10`` (the watchdog closes the transport at the deadline);
- a roster of 20 flooding servers with ``--jobs 20`` (the report keeps a 64 KB
  head and tail of each answer, so memory does not grow with the class);
- the same hang for a roster of 20 students with ``--jobs 20``, and a Ctrl-C.

    .venv/bin/python bench/checker.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "attacks"))

from hostile_sshd import HostileSshd, pem


def run(home: Path, *args: str) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak RSS in MB) of one ``stemcell`` command."""
    env = dict(os.environ, STEMCELL_HOME=str(home))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - started
    return os.waitstatus_to_exitcode(status), took, usage.ru_maxrss // 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        key = home / "ta"
        key.write_text(pem())
        key.chmod(0o600)
        servers = {name: HostileSshd(name) for name in ("ok", "flood", "hang")}

        def check(server: HostileSshd, deadline: str) -> tuple[int, float, int]:
            return run(home, "check", "--host", "127.0.0.1", "--port", str(server.port),
                       "--key", str(key), "--accept-new", "--step", "install-stack",
                       "--deadline", deadline, "--format", "json")

        code, took, base = check(servers["ok"], "30")
        print(f"well-behaved server: exit {code}, {took:.1f} s, peak RSS {base} MB")
        code, took, peak = check(servers["flood"], "10")
        print(f"flooding server, --deadline 10: exit {code}, {took:.1f} s, "
              f"peak RSS {peak} MB (+{peak - base} MB over the baseline; "
              "1 MB kept per command)")
        code, took, _ = check(servers["hang"], "10")
        print(f"server that never answers exec, --deadline 10: exit {code}, {took:.1f} s")

        flooders = home / "flood.csv"
        flooders.write_text("student,host,port,key\n" + "".join(
            f"s{n:02d},127.0.0.1,{servers['flood'].port},{key}\n" for n in range(20)))
        code, took, peak = run(home, "check", "--roster", str(flooders), "--step",
                               "install-stack", "--deadline", "10", "--jobs", "20",
                               "--format", "json")
        print(f"roster of 20 flooding servers, --jobs 20 --deadline 10: exit {code}, "
              f"{took:.1f} s, peak RSS {peak} MB (+{peak - base} MB)")

        roster = home / "class.csv"
        roster.write_text("student,host,port,key\n" + "".join(
            f"s{n:02d},127.0.0.1,{servers['hang'].port},{key}\n" for n in range(20)))
        code, took, peak = run(home, "check", "--roster", str(roster), "--step",
                               "install-stack", "--deadline", "10", "--jobs", "20",
                               "--format", "json")
        print(f"roster of 20 hung servers, --jobs 20 --deadline 10: exit {code}, "
              f"{took:.1f} s, peak RSS {peak} MB")

        # Ctrl-C in the middle of that roster.
        env = dict(os.environ, STEMCELL_HOME=str(home))
        proc = subprocess.Popen([sys.executable, "-m", "stemcell", "check", "--roster",
                                 str(roster), "--step", "install-stack", "--deadline", "300",
                                 "--jobs", "20"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        threading.Event().wait(5.0)
        sent = time.monotonic()
        proc.send_signal(2)
        code = proc.wait()
        print(f"Ctrl-C on that roster (--deadline 300): exit {code}, "
              f"{time.monotonic() - sent:.2f} s after the signal")
        for server in servers.values():
            server.close()


if __name__ == "__main__":
    main()
