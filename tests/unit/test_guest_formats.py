"""The guest's commands print what Ubuntu 24.04 prints: each output's *format*
(headers, columns, alignment, separators, reason phrases) is compared with a real
sample under tests/fixtures/ubuntu/ (sources named in each file). Values differ by
design (pids, sizes, times); the shape must not. No sockets: a shell on a System."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System
from stemcell.sandbox.machine.web import WebServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ubuntu"
FAST = 1e7


def sample(name: str) -> list[str]:
    """A fixture's output lines (its `# source:` comment dropped)."""
    text = (FIXTURES / name).read_text()
    return [ln for ln in text.splitlines() if not ln.startswith("# source:")]


def run(system: System, script: str, *, user: str = "ubuntu") -> tuple[int, str, str]:
    out: list[bytes] = []
    err: list[bytes] = []
    code = Shell(system, user=user).run(script, IO(b"", out.append, err.append))
    return code, b"".join(out).decode(), b"".join(err).decode()


def lines(system: System, script: str, *, user: str = "ubuntu") -> list[str]:
    code, out, err = run(system, script, user=user)
    assert code == 0, err
    return out.splitlines()


@pytest.fixture(scope="module")
def web() -> System:
    """A guest after `apt-get install apache2` (services running, as after a bake)."""
    system = System(Disk.ubuntu(), ModelClock.starting_now(FAST), hostname="ip-172-31-5-6",
                    private_ip="172.31.5.6")
    system.power_on(system.now())
    for unit in ("ssh", "cron", "rsyslog", "systemd-networkd", "systemd-resolved"):
        system.start_service(unit, modeled=False)
    code, _, err = run(system, "sudo apt-get update -qq && sudo apt-get install -y -qq apache2")
    assert code == 0, err
    server = WebServer(system)

    def local_http(method: str, target: str,
                   headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        resp = server.handle(method, target, headers, client="127.0.0.1")
        return resp.status, dict(resp.headers), resp.body

    system.local_http = local_http  # curl http://localhost/ inside the guest, as Guest does
    return system


def right_edges(header: str, names: list[str]) -> dict[str, int]:
    return {n: header.index(n) + len(n) for n in names}


def assert_right_aligned(header: str, rows: list[str], names: list[str]) -> None:
    """Numeric columns end where their header ends (while the value fits)."""
    for name, end in right_edges(header, names).items():
        for row in rows:
            assert row[end - 1] != " ", f"{name} not right-aligned in {row!r}"
            assert len(row) == end or row[end] == " ", f"{name} overflows in {row!r}"


def assert_left_aligned(header: str, rows: list[str], names: list[str]) -> None:
    for name in names:
        start = header.index(name)
        for row in rows:
            assert row[start] != " " and (start == 0 or row[start - 1] == " "), \
                f"{name} not left-aligned in {row!r}"


def shape(pattern: str, rows: list[str]) -> None:
    for row in rows:
        assert re.fullmatch(pattern, row), f"{row!r} does not match {pattern}"


# --- processes -----------------------------------------------------------------------

PS_AUX = (r"\S+ +\d+ +\d+\.\d +\d+\.\d +\d+ +\d+ \S+ +[A-Za-z<+]+ +(\d\d:\d\d|[A-Z][a-z]{2}\d\d)"
          r" +\d+:\d\d .+")


@pytest.mark.parametrize("source", ["fixture", "guest"])
def test_ps_aux(web: System, source: str) -> None:
    out = sample("ps_aux.txt") if source == "fixture" else lines(web, "ps aux")
    header, rows = out[0], out[1:]
    assert header == sample("ps_aux.txt")[0]
    short = [r for r in rows if len(r.split()[4]) <= 6]  # VSZ fits its column
    assert_right_aligned(header, short, ["PID", "%CPU", "%MEM", "VSZ", "RSS", "TIME"])
    assert_left_aligned(header, short, ["TTY"])  # an overflow shifts TTY (procps)
    assert_left_aligned(header, rows, ["STAT", "COMMAND"])
    shape(PS_AUX, rows)
    if source == "guest":
        commands = {r.split(None, 10)[10] for r in rows}
        assert {"/sbin/init", "/usr/sbin/apache2 -k start", "/usr/sbin/cron -f -P",
                "ps aux"} <= commands
        users = {r.split()[0] for r in rows if r.endswith("apache2 -k start")}
        assert users == {"root", "www-data"}


@pytest.mark.parametrize("source", ["fixture", "guest"])
def test_ps_ef_and_eo(web: System, source: str) -> None:
    ef = sample("ps_ef.txt") if source == "fixture" else lines(web, "ps -ef")
    assert ef[0] == sample("ps_ef.txt")[0]
    assert_right_aligned(ef[0], ef[1:], ["PID", "PPID", "C", "TIME"])
    shape(r"\S+ +\d+ +\d+ +\d+ \S+ \S+ +\d\d:\d\d:\d\d .+", ef[1:])
    eo = sample("ps_eo.txt") if source == "fixture" else lines(web, "ps -eo pid,user,comm")
    assert eo[0] == "    PID USER     COMMAND"
    assert_right_aligned(eo[0], eo[1:], ["PID"])
    assert_left_aligned(eo[0], eo[1:], ["USER", "COMMAND"])


def test_ps_selection_forms(web: System) -> None:
    one = lines(web, "ps -p 1 -o pid,ppid,user,comm,args")
    assert one[0] == "    PID    PPID USER     COMMAND         COMMAND"
    assert one[1].split()[:4] == ["1", "0", "root", "init"]
    assert lines(web, "ps -o user= -p 1") == ["root"]
    assert lines(web, "ps --no-headers -o user -p 1") == ["root"]
    code, _, _ = run(web, "ps -p 999999")
    assert code == 1
    # testinfra's form: widths given per column, lstart's five words, then args.
    rows = lines(web, "ps -Aww -o comm:50,pcpu:50,pid:50,pmem:50,user:50,lstart,args")
    assert rows[0].split() == ["COMMAND", "%CPU", "PID", "%MEM", "USER", "STARTED", "COMMAND"]
    first = rows[1].split()
    assert first[0] == "init" and first[2] == "1" and first[4] == "root"
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}",
                        " ".join(first[5:10]))
    by_mem = lines(web, "ps aux --sort=-%mem")[1:]
    mems = [float(r.split()[3]) for r in by_mem]
    assert mems == sorted(mems, reverse=True)
    by_pid = [int(r.split()[0]) for r in lines(web, "ps -eo pid,comm --sort pid")[1:]]
    assert by_pid == sorted(by_pid)
    code, _, err = run(web, "ps -o nosuchkey")
    assert code == 1 and "unknown user-defined format specifier" in err


def test_top_batch(web: System) -> None:
    got = lines(web, "top -bn1")
    fixture = sample("top_bn1.txt")
    assert re.fullmatch(r"top - \d\d:\d\d:\d\d up .+,  \d+ users?,  load average: "
                        r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d", got[0])
    for i in range(1, 5):  # the same labels, numbers aside
        assert re.sub(r"\d+(\.\d+)?", "N", got[i]).split() == \
            re.sub(r"\d+(\.\d+)?", "N", fixture[i]).split()
    assert got[5] == ""
    assert got[6] == fixture[6]
    assert_right_aligned(got[6], got[7:], ["PID", "VIRT", "RES", "SHR", "%CPU", "%MEM",
                                           "TIME+"])
    assert_right_aligned(fixture[6], fixture[7:], ["PID", "VIRT", "RES", "SHR", "%CPU"])
    assert run(web, "top") == (1, "", "top: failed tty get\n")  # no terminal (ssh host top)


def test_pgrep_pkill_kill(web: System) -> None:
    got = lines(web, "pgrep -a apache2")
    shape(r"\d+ /usr/sbin/apache2 -k start", got)
    shape(r"\d+ /usr/sbin/apache2 -k start", sample("pgrep_a.txt"))
    assert len(lines(web, "pgrep apache2")) == 3
    assert lines(web, "pgrep -l cron")[0].endswith(" cron")
    assert run(web, "pgrep -f 'nginx: master'")[0] == 1
    pid = lines(web, "pgrep -o apache2")[0]
    code, _, err = run(web, f"kill {pid}")
    assert code == 1 and err == f"bash: kill: ({pid}) - Operation not permitted\n"
    assert run(web, "kill 4000000")[2] == "bash: kill: (4000000) - No such process\n"
    system = System(Disk.ubuntu(), ModelClock.starting_now(FAST))
    run(system, "sudo apt-get update -qq && sudo apt-get install -y -qq apache2")
    pid = lines(system, "pgrep -o apache2")[0]
    assert run(system, f"sudo kill -HUP {pid} && sudo kill -0 {pid}")[0] == 0  # a reload
    assert run(system, "systemctl is-active apache2")[1] == "active\n"
    assert run(system, "kill -BOGUS 1")[2] == "bash: kill: BOGUS: invalid signal specification\n"
    assert run(system, f"sudo kill {pid}")[0] == 0
    assert run(system, "systemctl is-active apache2")[1] == "inactive\n"
    assert run(system, "pgrep apache2")[0] == 1


# --- disk and memory -----------------------------------------------------------------


@pytest.mark.parametrize(("cmd", "fixture", "numeric"), [
    ("df", "df.txt", ["1K-blocks", "Used", "Available", "Use%"]),
    ("df -h", "df_h.txt", ["Size", "Used", "Avail", "Use%"]),
    ("df -T /", "df_T.txt", ["1K-blocks", "Used", "Available", "Use%"]),
])
def test_df(web: System, cmd: str, fixture: str, numeric: list[str]) -> None:
    for out in (sample(fixture), lines(web, cmd)):
        assert out[0].split() == sample(fixture)[0].split()
        if cmd == "df -h":
            assert " Size  Used Avail Use% Mounted on" in out[0]
        assert_right_aligned(out[0], out[1:], numeric)
        assert_left_aligned(out[0], out[1:], ["Filesystem", "Mounted on"])
        assert [r.split()[0] for r in out[1:]][:1] == ["/dev/root"]
    if cmd == "df -h":
        shape(r"\S+ +(\d+(\.\d)?[KMG]?|0) +(\d+(\.\d)?[KMG]?|0) +(\d+(\.\d)?[KMG]?|0) +"
              r"\d+% /.*", lines(web, cmd)[1:])


@pytest.mark.parametrize(("cmd", "fixture"), [("free", "free.txt"), ("free -h", "free_h.txt"),
                                               ("free -m", "free.txt")])
def test_free(web: System, cmd: str, fixture: str) -> None:
    got = lines(web, cmd)
    want = sample(fixture)
    assert got[0] == want[0]
    names = ["total", "used", "free", "shared", "buff/cache", "available"]
    assert_right_aligned(got[0], got[1:2], names)
    assert_right_aligned(want[0], want[1:2], names)
    assert [r.split()[0] for r in got[1:]] == ["Mem:", "Swap:"]
    if cmd == "free -h":
        shape(r"Mem: +(\s+\d+(\.\d)?[KMG]i){6}", got[1:2])
        assert got[2].split() == ["Swap:", "0B", "0B", "0B"]


def test_lsblk_du_nproc(web: System) -> None:
    got = lines(web, "lsblk")
    want = sample("lsblk.txt")
    assert got[0] == want[0]
    for out in (got, want):
        assert_right_aligned(out[0], out[1:], ["RM", "SIZE", "RO"])
        colon = out[0].index(":")
        assert all(row[colon] == ":" for row in out[1:])
    assert "├─nvme0n1p1" in "\n".join(got) and got[-1].startswith("└─")
    du = lines(web, "du -sh /etc/apache2")
    shape(r"\d+(\.\d)?[KMG]?\t/etc/apache2", du)
    shape(r"\d+(\.\d)?[KMG]?\t\S+", sample("du_sh.txt"))
    assert lines(web, "nproc") == ["2"]
    assert lines(web, "du /var/www")[-1].endswith("\t/var/www")


# --- network -------------------------------------------------------------------------


def test_ip_addr_and_route(web: System) -> None:
    for cmd, fixture in (("ip addr", "ip_addr.txt"), ("ip a", "ip_addr.txt"),
                         ("ip route", "ip_route.txt"), ("ip r", "ip_route.txt")):
        got = lines(web, cmd)
        want = sample(fixture)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            # Same words where they are not addresses or lifetimes.
            assert re.sub(r"[0-9a-f:./]+|\d+sec", "X", g) == re.sub(r"[0-9a-f:./]+|\d+sec",
                                                                   "X", w)
    assert lines(web, "hostname -I") == ["172.31.5.6 "]
    assert "inet 172.31.5.6/20" in "\n".join(lines(web, "ip addr"))


def test_ss_listeners(web: System) -> None:
    got = lines(web, "sudo ss -tlnp")
    want = sample("ss_tlnp.txt")
    assert got[0].split() == want[0].split()
    assert "Peer Address:PortProcess" in got[0]
    for row in got[1:]:
        fields = row.split()
        assert fields[0] == "LISTEN" and fields[1] == "0"
        assert re.fullmatch(r"users:\(\(\"[\w-]+\",pid=\d+,fd=\d+\).*\)", fields[5])
    local = {r.split()[3] for r in got[1:]}
    assert {"0.0.0.0:22", "[::]:22", "*:80"} <= local
    assert "*:443" not in local  # ports.conf's Listen 443 needs mod_ssl
    plain = lines(web, "ss -tln")  # without root: no process column
    assert all(len(r.split()) == 5 for r in plain[1:])
    udp = lines(web, "ss -tulpn")
    assert udp[0].split()[0] == "Netid" and any(r.startswith("udp") for r in udp)
    assert lines(web, "ss --numeric --listening --tcp")[1:] == plain[1:]


def test_curl_reason_phrases(web: System) -> None:
    code, out, _ = run(web, "curl -sI http://localhost/")
    assert code == 0
    head = out.split("\r\n")
    want = sample("curl_I.txt")
    assert head[0] == want[0] == "HTTP/1.1 200 OK"
    assert any(h.startswith("Server: Apache/2.4.58 (Ubuntu)") for h in head)
    assert head[-2:] == ["", ""]
    assert run(web, "curl -sI localhost/missing")[1].startswith("HTTP/1.1 404 Not Found\r\n")
    assert run(web, "curl -si localhost/")[1].startswith("HTTP/1.1 200 OK\r\n")
    code, _, err = run(web, "curl -sv -o /dev/null http://localhost/")
    assert code == 0
    assert "> GET / HTTP/1.1\n> Host: localhost\n> User-Agent: curl/8.5.0\n" in err
    assert "< HTTP/1.1 200 OK\n" in err
    code, out, err = run(web, "wget -qO- http://localhost/ | head -c 15; wget localhost/nope")
    assert out.startswith("<!DOCTYPE html") or out
    assert "HTTP request sent, awaiting response... 404 Not Found" in err


# --- logs ----------------------------------------------------------------------------


def test_journalctl(web: System) -> None:
    pattern = r"[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d ip-172-31-5-6 [\w-]+(\[\d+\])?: .+"
    shape(pattern, sample("journalctl_u.txt"))
    got = lines(web, "journalctl -u apache2 --no-pager")
    shape(pattern, got)
    assert got[-1].endswith("systemd[1]: Started apache2.service - The Apache HTTP Server.")
    assert re.search(r" apachectl\[\d+\]: AH00558: apache2: Could not reliably determine the "
                     r"server's fully qualified domain name, using 172\.31\.5\.6\.", got[-2])
    assert len(lines(web, "journalctl -n 3 --no-pager")) == 3
    assert lines(web, "journalctl -u nosuch --no-pager") == ["-- No entries --"]
    assert lines(web, "journalctl -b -u ssh -o cat")[-1].startswith("Started ssh.service")
    assert lines(web, "journalctl -k -o cat")[0].startswith("Linux version")
    _code, out, _ = run(web, "journalctl -u apache2", user="www-data")
    assert "Users in groups 'adm', 'systemd-journal' can see all messages." in out


# --- systemd and identity ------------------------------------------------------------


def test_systemctl_status_and_lists(web: System) -> None:
    got = lines(web, "systemctl status apache2")
    want = sample("systemctl_status.txt")
    for g, w in zip(got[:9], want[:9], strict=True):
        assert g.split(":")[0] == w.split(":")[0]
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert re.fullmatch(r"     Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d "
                        r"\d\d:\d\d:\d\d UTC; .+ ago", got[2])
    assert got[9].startswith("             ├─") and got[11].startswith("             └─")
    assert got[12] == ""
    units = lines(web, "systemctl list-units --type=service --state=running")
    fixture = sample("systemctl_list_units.txt")
    assert units[0].split() == fixture[0].split()
    assert units[-7:-2] == fixture[-7:-2]  # the legend
    assert re.fullmatch(r"\d+ loaded units listed\. Pass --all to see loaded but inactive "
                        r"units, too\.", units[-2])
    rows = [u for u in units[1:] if u.startswith("  ") and "loaded" in u]
    assert any(r.split()[0] == "apache2.service" for r in rows)
    assert all(r.split()[1:4] == ["loaded", "active", "running"] for r in rows)
    cat = lines(web, "systemctl cat apache2")
    assert cat[0] == "# /usr/lib/systemd/system/apache2.service"
    assert "ExecStart=/usr/sbin/apachectl start" in cat
    assert run(web, "systemctl is-enabled apache2")[1] == "enabled\n"
    assert run(web, "systemctl list-unit-files | grep -q '^apache2.service'")[0] == 0


def test_identity(web: System) -> None:
    assert lines(web, "id") == sample("id.txt")
    assert lines(web, "id -u") == ["1000"]
    assert lines(web, "id -g") == ["1000"]
    assert lines(web, "id -G") == ["1000 4 24 27 30 105"]
    assert lines(web, "id -Gn") == lines(web, "id -nG ubuntu") == \
        ["ubuntu adm cdrom sudo dip lxd"]
    assert lines(web, "id -un") == ["ubuntu"]
    assert lines(web, "id -ng www-data") == ["www-data"]
    assert lines(web, "id root") == ["uid=0(root) gid=0(root) groups=0(root)"]
    assert run(web, "id mallory")[2] == "id: ‘mallory’: no such user\n"
    uname = lines(web, "uname -a")[0]
    assert uname.split()[:3] == sample("uname_a.txt")[0].split()[:3]
    assert uname.split()[-4:] == sample("uname_a.txt")[0].split()[-4:]
    assert lines(web, "uname -r") == ["6.8.0-1019-aws"]
    assert lines(web, "uname -s") == ["Linux"]
    assert lines(web, "uname -m") == ["x86_64"]
    _code, out, err = run(web, "lsb_release -a")
    assert out.splitlines() == sample("lsb_release_a.txt")
    assert err == "No LSB modules are available.\n"
    assert run(web, "lsb_release -cs") == (0, "noble\n", "")
    assert run(web, "lsb_release -rs") == (0, "24.04\n", "")
    host = lines(web, "hostnamectl")
    assert [ln.split(":")[0] for ln in host] == [ln.split(":")[0] for ln in
                                                  sample("hostnamectl.txt")]
    env = lines(web, "env")
    assert "HOME=/home/ubuntu" in env and "USER=ubuntu" in env


# --- files ---------------------------------------------------------------------------


def test_stat_readlink_find(web: System) -> None:
    got = lines(web, "stat /etc/passwd")
    want = sample("stat.txt")
    for g, w in zip(got, want, strict=True):
        assert re.sub(r"\d+", "9", g).split()[:2] == re.sub(r"\d+", "9", w).split()[:2]
    assert got[3] == "Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)"
    shape(r"\d{3,4} \S+ \S+ \d+ \S+", sample("stat_c.txt") +
          lines(web, "stat -Lc '%a %U %G %s %n' /etc/passwd /etc/apache2/apache2.conf"))
    assert lines(web, "stat -c %F /etc /bin") == ["directory", "symbolic link"]
    assert lines(web, "stat -Lc %a /etc/shadow") == ["640"]
    assert lines(web, "readlink -f /sbin/init") == ["/usr/lib/systemd/systemd"]
    assert lines(web, "readlink /etc/apache2/sites-enabled/000-default.conf") == \
        ["../sites-available/000-default.conf"]
    assert run(web, "readlink /etc/passwd")[0] == 1
    assert lines(web, "realpath /bin/../etc/./hosts") == ["/etc/hosts"]
    found = lines(web, "find /etc/apache2 -maxdepth 1 -name '*.conf' -type f")
    assert found == ["/etc/apache2/apache2.conf", "/etc/apache2/ports.conf"]
    assert lines(web, "find /var/www -type f -exec wc -c {} \\;")[0].endswith(
        " /var/www/html/index.html")
    assert lines(web, "find /etc/apache2/sites-enabled -type l") == \
        ["/etc/apache2/sites-enabled/000-default.conf"]
    web.disk.write("/tmp/old.log", "x\n")
    web.disk.nodes["/tmp/old.log"].mtime = web.wall_now() - 3 * 86400  # mtimes: the wall clock
    assert lines(web, "find /tmp -name '*.log' -mtime +2") == ["/tmp/old.log"]
    assert lines(web, "find /tmp -name '*.log' -mtime -2") == []
    run(web, "mkdir -p d/e && touch d/e/f d/g")
    assert lines(web, "find d -depth") == ["d/e/f", "d/e", "d/g", "d"]
    assert run(web, "find d -delete && ls d")[2] == "ls: cannot access 'd': No such file or " \
                                                    "directory\n"
    assert run(web, "find /etc -maxdepth 1 -name hostname -delete")[2] == \
        "find: cannot delete ‘/etc/hostname’: Permission denied\n"
    code, _out, err = run(web, "find /root /etc/hostname")
    assert code == 1 and "find: ‘/root’: Permission denied" in err
    run(web, "mkdir t && echo hi > t/a && ln -s a t/b && chmod u=rwx,g=rx,o= t/a && "
             "chmod 0700 t && sudo chown www-data t/a")
    assert lines(web, "stat -c '%a %U %N' t/a t/b") == ["750 www-data 't/a'",
                                                        "777 ubuntu 't/b' -> 'a'"]


LS_L = r"[-dl][-rwxsStT]{9} +\d+ \S+ +\S+ +\d+ [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) .+"


def test_ls_long(web: System) -> None:
    for out in (sample("ls_l.txt"), lines(web, "ls -l /etc/apache2")):
        assert re.fullmatch(r"total \d+", out[0])
        shape(LS_L, out[1:])
        starts = {re.search(r" [A-Z][a-z]{2} [ \d]\d ", r).start()  # type: ignore[union-attr]
                  for r in out[1:]}
        assert len(starts) == 1  # columns padded to the widest: the dates line up
    home = lines(web, "ls -la ~")
    assert [r.split()[-1] for r in home[1:3]] == [".", ".."]
    assert lines(web, "ls -l /etc/apache2/sites-enabled")[1].endswith(
        "000-default.conf -> ../sites-available/000-default.conf")
    assert lines(web, "ls -ld /tmp")[0].startswith("drwxrwxrwt ")
    assert run(web, "ls /nope") == (2, "", "ls: cannot access '/nope': No such file or "
                                           "directory\n")


def test_text_tools(web: System) -> None:
    web.disk.write("/tmp/team.txt", "alice 30 eng\nbob 25 ops\ncarol 35 eng\n")
    counts = lines(web, "awk '{print $3}' /tmp/team.txt | sort | uniq -c")
    assert counts == sample("uniq_c.txt")
    assert lines(web, "wc /etc/hostname /etc/hosts")[-1].endswith(" total")
    wc = lines(web, "wc /tmp/team.txt /etc/hostname")
    shape(r" *\d+ +\d+ +\d+ \S+", wc)
    assert len({len(r) - len(r.split()[-1]) for r in wc}) == 1  # counts share one width
    shape(r" *\d+ +\d+ +\d+ \S+", sample("wc.txt"))
    assert lines(web, "awk -F: '$3 >= 1000 {print $1}' /etc/passwd") == ["ubuntu"]
    assert lines(web, "awk '{s+=$2} END {printf \"%d %.1f\\n\", s, s/NR}' /tmp/team.txt") == \
        ["90 30.0"]
    assert lines(web, "awk 'BEGIN{FS=\":\"} NR==1{print NF, $NF}' /etc/passwd") == \
        ["7 /bin/bash"]
    assert lines(web, "sed -n '2p' /tmp/team.txt") == ["bob 25 ops"]
    assert lines(web, "sed 's/e/E/g;/bob/d' /tmp/team.txt") == ["alicE 30 Eng",
                                                                "carol 35 Eng"]
    assert lines(web, "grep -c eng /tmp/team.txt; grep -vn eng /tmp/team.txt") == \
        ["2", "2:bob 25 ops"]
    assert lines(web, "grep -rl Listen /etc/apache2") == ["/etc/apache2/ports.conf"]
    assert lines(web, "grep -ow 'eng' /tmp/team.txt | wc -l") == ["2"]
    assert lines(web, "cut -d: -f1,7 /etc/passwd | head -1") == ["root:/bin/bash"]
    assert lines(web, "sort -k2 -n -r /tmp/team.txt | cut -d' ' -f1") == ["carol", "alice",
                                                                          "bob"]
    assert lines(web, "sort -t: -k3 -n -u /etc/group | head -1") == ["root:x:0:"]
    assert lines(web, "printf 'b\\na\\nb\\n' | sort | uniq -d") == ["b"]
    assert lines(web, "echo /etc/hostname /etc/hosts | xargs -n1 basename") == \
        ["hostname", "hosts"]
    assert lines(web, "echo a | tee /tmp/t1 /tmp/t2; cat /tmp/t1 /tmp/t2") == ["a", "a", "a"]


def test_archives(web: System) -> None:
    assert lines(web, "tar --version")[0] == sample("tar_version.txt")[0]
    run(web, "mkdir -p site && echo hi > site/index.html && tar czf site.tgz site")
    assert lines(web, "tar tzf site.tgz") == ["site", "site/index.html"]
    run(web, "cp site/index.html page.html && chmod 640 page.html && gzip page.html")
    assert lines(web, "ls page*") == ["page.html.gz"]
    assert lines(web, "stat -c %a page.html.gz") == ["640"]
    assert lines(web, "zcat page.html.gz") == ["hi"]
    assert run(web, "gunzip page.html.gz && cat page.html")[1] == "hi\n"
    assert run(web, "gzip page.html && gzip page.html.gz")[2] == \
        "gzip: page.html.gz already has .gz suffix -- unchanged\n"


def test_bash_expansions(web: System) -> None:
    script = ('x=Hello.tar.gz; p=/var/www/html/index.html; '
              'echo "${x^^} ${x,,} ${#x} ${x%.*} ${x%%.*} ${x#*.} ${x##*.} ${p#*/} ${p##*/} '
              '${x/l/L} ${x//l/L} ${u:-dflt} ${v:=set} $v ${x:0:5}"')
    assert lines(web, script) == ["HELLO.TAR.GZ hello.tar.gz 12 Hello.tar Hello tar.gz gz "
                                  "var/www/html/index.html index.html HeLlo.tar.gz "
                                  "HeLLo.tar.gz dflt set set Hello"]


# --- releases and architectures ------------------------------------------------------


@pytest.mark.parametrize(("release", "arch", "machine", "deb", "apache", "php", "python"), [
    ("24.04", "x86_64", "x86_64", "amd64", "2.4.58", "php8.3", "3.12"),
    ("22.04", "x86_64", "x86_64", "amd64", "2.4.52", "php8.1", "3.10"),
    ("24.04", "arm64", "aarch64", "arm64", "2.4.58", "php8.3", "3.12"),
    ("22.04", "arm64", "aarch64", "arm64", "2.4.52", "php8.1", "3.10"),
])
def test_release_and_architecture_honesty(release: str, arch: str, machine: str, deb: str,
                                          apache: str, php: str, python: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    system = System(Disk.ubuntu(release, arch), ModelClock.starting_now(FAST))
    codename = "noble" if release == "24.04" else "jammy"
    assert lines(system, "uname -m") == [machine]
    assert lines(system, "dpkg --print-architecture") == [deb]
    assert lines(system, "lsb_release -cs") == [codename]
    assert f"VERSION_CODENAME={codename}" in lines(system, "cat /etc/os-release")
    assert lines(system, "python3 --version")[0].startswith(f"Python {python}.")
    if release == "22.04":
        keys = [ln.split("=")[0] for ln in sample("os_release_jammy.txt")]
        assert [ln.split("=")[0] for ln in lines(system, "cat /etc/os-release")] == keys
    out = lines(system, "sudo apt-get update -qq && sudo apt-get install -y "
                        "libapache2-mod-php apache2-bin")
    gets = [ln for ln in out if ln.startswith("Get:")]
    assert gets
    for g in gets:
        assert re.match(rf"Get:\d+ http://\S+ {codename}(-updates)?/(main|universe) {deb} ", g)
    if arch == "arm64":
        assert all("ports.ubuntu.com/ubuntu-ports" in g for g in gets)
    assert lines(system, "dpkg-query -W -f '${Version}' apache2")[0].startswith(apache)
    mod_php = "libapache2-mod-" + php
    assert lines(system, f"dpkg-query -W -f '${{Architecture}}' {mod_php}") == [deb]
    assert lines(system, "apache2ctl -v")[0] == f"Server version: Apache/{apache} (Ubuntu)"
    assert lines(system, "apache2 -v")[0] == f"Server version: Apache/{apache} (Ubuntu)"
    # PHP_VERSION as each release's build reports it: jammy's php8.1 appends the Debian
    # revision ("PHP 8.1.2-1ubuntu2.19 (cli)"), noble's php8.3 does not ("PHP 8.3.6 (cli)").
    php_version = "8.1.2-1ubuntu2.19" if release == "22.04" else "8.3.6"
    banner = lines(system, "php -v")
    assert re.fullmatch(rf"PHP {re.escape(php_version)} \(cli\) \(built: "
                        r"\w{3} [ \d]\d \d{4} \d\d:\d\d:\d\d\) \(NTS\)", banner[0]), banner
    assert banner[1:3] == ["Copyright (c) The PHP Group", "Zend Engine v4." +
                           ".".join(php_version.split("-")[0].split(".")[1:]) +
                           ", Copyright (c) Zend Technologies"]
    assert banner[3] == f"    with Zend OPcache v{php_version}, Copyright (c), by Zend Technologies"
    assert lines(system, "php -r 'echo PHP_VERSION, \" \", phpversion();'") == \
        [f"{php_version} {php_version}"]
    # the web server: Server header, error pages, SERVER_SOFTWARE and phpversion()
    run(system, "printf '%s' '<?= phpversion() . \"|\" . $_SERVER[\"SERVER_SOFTWARE\"] ?>' "
                "| sudo tee /var/www/html/v.php")
    web = WebServer(system)
    server = f"Apache/{apache} (Ubuntu)"
    missing = web.handle("GET", "/missing", {"Host": "x"})
    assert dict(missing.headers)["Server"] == server
    assert f"<address>{server} Server at x Port 80</address>".encode() in missing.body
    page = web.handle("GET", "/v.php", {"Host": "x"})
    assert page.body.decode() == f"{php_version}|{server}"
    captured: dict[str, str] = {}

    def serve(_system: System, _script: str, env: dict[str, str], _body: bytes) -> None:
        captured.update(env)
        raise RuntimeError("captured")

    run(system, "sudo apt-get install -y -qq libapache2-mod-wsgi-py3 && echo 'WSGIScriptAlias "
                "/app /var/www/app.wsgi' | sudo tee /etc/apache2/conf-enabled/app.conf && "
                "echo x | sudo tee /var/www/app.wsgi")
    monkeypatch.setattr("stemcell.sandbox.machine.wsgi.serve", serve)
    web.handle("GET", "/app", {"Host": "x"})
    assert captured["SERVER_SOFTWARE"] == server


def test_custom_unit_processes_and_journal() -> None:
    system = System(Disk.ubuntu(), ModelClock.starting_now(FAST))
    system.power_on(system.now())
    system.disk.write("/opt/app/worker.py", "print('hi')\n", parents=True)
    system.disk.write("/etc/systemd/system/worker.service",
                      "[Unit]\nDescription=Stem cell worker\n\n[Service]\n"
                      "ExecStart=/usr/bin/python3 /opt/app/worker.py\nUser=www-data\n\n"
                      "[Install]\nWantedBy=multi-user.target\n")
    assert run(system, "sudo systemctl start worker")[0] == 0
    rows = [r for r in lines(system, "ps -ef") if r.endswith("/opt/app/worker.py")]
    assert len(rows) == 1 and rows[0].split()[0] == "www-data" and rows[0].split()[2] == "1"
    status = lines(system, "systemctl status worker")
    assert status[0] == "● worker.service - Stem cell worker"
    assert status[1] == "     Loaded: loaded (/etc/systemd/system/worker.service; disabled; " \
                        "preset: enabled)"
    assert any(r.startswith("   Main PID: ") and r.endswith(" (python3)") for r in status)
    assert lines(system, "journalctl -u worker -o cat") == [
        "Starting worker.service - Stem cell worker...",
        "Started worker.service - Stem cell worker."]
    assert run(system, "sudo systemctl stop worker")[0] == 0
    assert run(system, "pgrep -f worker.py")[0] == 1
    assert lines(system, "journalctl -u worker -o cat -n 1") == [
        "Stopped worker.service - Stem cell worker."]


def test_journal_rotates_and_followers_keep_their_place() -> None:
    from stemcell.sandbox.machine.processes import MAX_ENTRIES, Journal

    journal = Journal()
    for n in range(MAX_ENTRIES + 1):
        journal.append("cron.service", f"line {n}", when=float(n))
    kept = journal.snapshot()
    assert len(kept) <= MAX_ENTRIES and kept[-1].message == f"line {MAX_ENTRIES}"
    fresh, total = journal.since(journal.total - 2)
    assert [e.message for e in fresh] == [f"line {MAX_ENTRIES - 1}", f"line {MAX_ENTRIES}"]
    assert total == MAX_ENTRIES + 1
    assert not journal.wait_beyond(total, 0.01)
    journal.append("cron.service", "new")
    assert journal.wait_beyond(total, 0.01)
    assert [e.message for e in journal.since(total)[0]] == ["new"]


@pytest.mark.parametrize(("release", "warns"), [("24.04", True), ("22.04", False)])
def test_egrep_fgrep_warn_as_grep_3_8_and_later_do(release: str, warns: bool) -> None:
    # grep 3.8 made egrep/fgrep print this (noble ships 3.11, jammy 3.7); they still work.
    system = System(Disk.ubuntu(release), ModelClock.starting_now(FAST))
    code, out, err = run(system, "echo 'a.b' | egrep 'a|x' && echo 'a.b' | fgrep '.'")
    assert code == 0 and out == "a.b\na.b\n"
    assert err == ("egrep: warning: egrep is obsolescent; using grep -E\n"
                   "fgrep: warning: fgrep is obsolescent; using grep -F\n" if warns else "")
