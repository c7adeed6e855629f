"""A guest's clocks: the time of day it shows is the host's (its wall clock was set from
the host's when it was created), while every duration it reports is modeled.

The sandbox's modeled clock here runs three hours ahead of the host, as it does after a
while at --speed > 1; nothing a student reads as a time of day may show that gap, and
nothing that measures an interval may lose the model's seconds. No sockets."""

from __future__ import annotations

import calendar
import re
import threading
import time

import pytest

from stemcell.sandbox.machine import IO, Disk, Shell, System
from stemcell.sandbox.machine.web import WebServer

AHEAD = 3 * 3600.0  # modeled minus host time when the guest is created
SPEED = 50.0
SLACK = 120.0  # modeled seconds a step of a test may take (at SPEED, 2.4 s of wall time)


class AheadClock:
    """A modeled clock ``ahead`` seconds in front of the host's, running ``speed`` times
    faster (the Clock protocol of engine/clock.py, whatever implementation the sandbox
    uses): what a sandbox's clock looks like after a while at --speed > 1."""

    simulated = True

    def __init__(self, speed: float, ahead: float) -> None:
        self.speed = speed
        self._wall0 = time.time()
        self._model0 = self._wall0 + ahead

    def now(self) -> float:
        return self._model0 + (time.time() - self._wall0) * self.speed

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        wall = max(0.0, seconds) / self.speed
        if cancel is None:
            time.sleep(wall)
            return True
        return not cancel.wait(wall)


def ahead_clock() -> AheadClock:
    return AheadClock(SPEED, AHEAD)


def run(system: System, script: str, *, user: str = "ubuntu") -> str:
    out: list[bytes] = []
    err: list[bytes] = []
    code = Shell(system, user=user).run(script, IO(b"", out.append, err.append))
    assert code == 0, b"".join(err).decode()
    return b"".join(out).decode()


_created: list[float] = []  # the host's time when the test's guest was created


@pytest.fixture
def system() -> System:
    _created[:] = [time.time()]
    s = System(Disk.ubuntu(), ahead_clock(), hostname="ip-172-31-5-6")
    s.power_on(s.now())
    for unit in ("ssh", "cron", "rsyslog"):
        s.start_service(unit, modeled=False)
    return s


def near_host(t: float) -> bool:
    """A time of day on the host's clock: not before the host's time when the guest was
    created, and ahead of the host's now by at most the modeled time the test took
    (well under half the modeled clock's three-hour lead, even on a loaded machine)."""
    return _created[0] - 2.0 <= t <= time.time() + AHEAD / 2


def test_wall_clock_is_the_hosts_and_the_modeled_instant_is_not(system: System) -> None:
    assert system.now() - time.time() > AHEAD - 5
    assert near_host(system.wall_now())
    # one clock: the offset to modeled time is constant (set at creation)
    assert system.now() - system.wall_now() == pytest.approx(system.clock_offset, abs=1e-3)
    assert system.wall_of(system.now()) == pytest.approx(system.wall_now(), abs=SLACK)


@pytest.mark.parametrize("script", ["date +%s", "date -u +%s", "date +%s.%N"])
def test_date_reads_the_guest_wall_clock(system: System, script: str) -> None:
    assert near_host(float(run(system, script)))


def test_date_formats(system: System) -> None:
    def parsed(script: str, fmt: str) -> float:
        return float(calendar.timegm(time.strptime(run(system, script).strip(), fmt)))

    assert near_host(parsed("date", "%a %b %d %H:%M:%S UTC %Y"))
    assert near_host(parsed("date -u", "%a %b %d %H:%M:%S UTC %Y"))
    assert near_host(parsed("date -R", "%a, %d %b %Y %H:%M:%S +0000"))
    assert near_host(parsed("date -Iseconds", "%Y-%m-%dT%H:%M:%S+00:00"))
    assert near_host(parsed("date --rfc-3339=seconds", "%Y-%m-%d %H:%M:%S+00:00"))
    # -d @N is that instant, whatever the clocks say (GNU date's output for @0 and @N)
    assert run(system, "date -u -d @0") == "Thu Jan  1 00:00:00 UTC 1970\n"
    assert run(system, "date -d @1700000000 +'%F %T %Z %z %:z %%s %s'") == \
        "2023-11-14 22:13:20 UTC +0000 +00:00 %s 1700000000\n"
    assert run(system, "date -R -d @1700000000") == "Tue, 14 Nov 2023 22:13:20 +0000\n"
    assert run(system, "date -d '2024-01-02 03:04' +%s") == "1704164640\n"
    assert run(system, "date -Ins -d @1.5") == "1970-01-01T00:00:01,500000000+00:00\n"
    assert run(system, "date -d @1.25 +%s.%3N") == "1.250\n"


def test_timedatectl_shows_the_wall_clock_in_ubuntus_layout(system: System) -> None:
    rows = run(system, "timedatectl").splitlines()
    labels = [r.split(":", 1)[0].strip() for r in rows]
    assert labels == ["Local time", "Universal time", "RTC time", "Time zone",
                      "System clock synchronized", "NTP service", "RTC in local TZ"]
    assert all(r.index(":") == rows[0].index(":") for r in rows)  # labels right-aligned
    local = rows[0].split(": ", 1)[1]
    assert near_host(calendar.timegm(time.strptime(local, "%a %Y-%m-%d %H:%M:%S UTC")))
    assert rows[3].endswith("Etc/UTC (UTC, +0000)")


def test_files_written_now_carry_the_wall_clock(system: System) -> None:
    run(system, "touch f && echo x > g")
    for name in ("f", "g"):
        assert near_host(float(run(system, f"stat -c %Y {name}")))
    assert run(system, "find . -maxdepth 1 -mmin -1 -name 'f' -o -maxdepth 1 -mmin -1 "
                       "-name g | sort") == "./f\n./g\n"
    row = run(system, "ls -l f").split()
    assert row[5:8] == time.strftime("%b %e %H:%M", time.gmtime(float(
        run(system, "stat -c %Y f")))).split()
    assert run(system, "date -r f +%s") == run(system, "stat -c %Y f")


def test_uptime_time_of_day_is_wall_and_its_duration_is_modeled(system: System) -> None:
    booted = system.booted_at
    system.clock.sleep(0)  # nothing modeled happens; the model's minutes still pass
    fields = run(system, "uptime").split()
    shown = calendar.timegm(time.strptime(
        time.strftime("%Y-%m-%d ", time.gmtime(system.wall_now())) + fields[0],
        "%Y-%m-%d %H:%M:%S"))
    assert abs(shown - system.wall_now()) < SLACK
    assert fields[1] == "up" and fields[3].rstrip(",") == "min"
    assert int(fields[2]) == int((system.now() - booted) // 60)


def test_process_start_is_a_time_of_day_and_elapsed_is_modeled(system: System) -> None:
    system.processes.spawn("/usr/bin/python3 /opt/app/worker.py", user="www-data",
                           started=system.now() - 600)  # started ten modeled minutes ago
    (row,) = [r for r in run(system, "ps -eo etimes,lstart,args").splitlines()
              if r.endswith("/opt/app/worker.py")]
    etimes, lstart = int(row.split()[0]), " ".join(row.split()[1:6])
    assert 600 <= etimes <= 600 + SLACK
    started = calendar.timegm(time.strptime(lstart, "%a %b %d %H:%M:%S %Y"))
    assert near_host(started + 600)


def test_systemctl_status_since_is_wall_and_ago_is_modeled(system: System) -> None:
    system.services["cron.service"] = system.now() - 300
    active = next(r for r in run(system, "systemctl status cron || true").splitlines()
                  if "Active:" in r)
    since = active.split(" since ", 1)[1].split(";")[0]
    assert near_host(calendar.timegm(time.strptime(since, "%a %Y-%m-%d %H:%M:%S UTC")) + 300)
    assert re.search(r"; 5min \d+s ago$", active), active


def test_journal_and_syslog_stamps_agree_with_date(system: System) -> None:
    system.journal.append("cron.service", "hello", when=system.now())
    line = run(system, "journalctl -u cron -o short-iso -n 1 --no-pager")
    stamp = line.split()[0]
    assert near_host(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S+00:00")))
    # intervals between entries stay modeled
    system.journal.append("cron.service", "a", when=system.now())
    system.journal.append("cron.service", "b", when=system.now() + 90)
    last2 = run(system, "journalctl -u cron -o short-iso -n 2 --no-pager").splitlines()
    a, b = (calendar.timegm(time.strptime(r.split()[0], "%Y-%m-%dT%H:%M:%S+00:00"))
            for r in last2)
    assert b - a in (89, 90, 91)


def test_http_date_php_time_and_access_log_read_the_wall_clock(system: System) -> None:
    run(system, "sudo apt-get update -qq && sudo apt-get install -y -qq apache2 "
                "libapache2-mod-php", user="ubuntu")
    run(system, "echo '<?php echo time(), \" \", date(\"Y-m-d H:i:s\"); ?>' | "
                "sudo tee /var/www/html/t.php >/dev/null")
    web = WebServer(system)
    resp = web.handle("GET", "/t.php", {"Host": "x"})
    assert resp.status == 200, resp.body
    date = dict(resp.headers)["Date"]
    assert near_host(calendar.timegm(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")))
    epoch, day, clock = resp.body.decode().split()
    assert near_host(float(epoch))
    assert near_host(calendar.timegm(time.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S")))
    access = system.disk.read_text("/var/log/apache2/access.log").splitlines()[-1]
    stamp = access.split("[", 1)[1].split("]", 1)[0]
    assert near_host(calendar.timegm(time.strptime(stamp, "%d/%b/%Y:%H:%M:%S +0000")))
