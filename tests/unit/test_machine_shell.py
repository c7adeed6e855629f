"""The guest's bash subset and its commands, run against a disk model (no sockets)."""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile

import pytest

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System

FAST = 1e7  # modeled seconds per wall second: sleeps are instant


def make(speed: float = FAST) -> System:
    return System(Disk.ubuntu(), ModelClock.starting_now(speed), hostname="ip-172-31-5-6",
                  private_ip="172.31.5.6")


def run(system: System, script: str, *, user: str = "ubuntu",
        stdin: bytes = b"") -> tuple[int, str, str]:
    out: list[bytes] = []
    err: list[bytes] = []
    code = Shell(system, user=user).run(script, IO(stdin, out.append, err.append))
    return code, b"".join(out).decode(), b"".join(err).decode()


@pytest.fixture
def m() -> System:
    return make()


@pytest.fixture
def web(m: System) -> System:
    code, _, err = run(m, "sudo apt-get update -qq && sudo apt-get install -y apache2 unzip")
    assert code == 0, err
    return m


# --- language ------------------------------------------------------------------------


def test_sequences_and_or_chains(m: System) -> None:
    assert run(m, "echo a; echo b")[1] == "a\nb\n"
    assert run(m, "true && echo yes || echo no")[1] == "yes\n"
    assert run(m, "false && echo yes || echo no")[1] == "no\n"
    assert run(m, "false; echo $?")[1] == "1\n"
    assert run(m, "! false && echo negated")[1] == "negated\n"


def test_variables_quoting_and_expansion(m: System) -> None:
    _code, out, _ = run(m, 'A="two words"; B=x\nexport C=${B}y\necho "$A" \'$A\' $C ${UNSET:-dflt}')
    assert out == "two words $A xy dflt\n"
    assert run(m, 'echo "$(hostname) $((2+3))" `whoami`')[1] == "ip-172-31-5-6 5 ubuntu\n"
    assert run(m, 'for w in $(echo one two); do echo "[$w]"; done')[1] == "[one]\n[two]\n"
    assert run(m, "echo ~ ~/x")[1] == "/home/ubuntu /home/ubuntu/x\n"
    assert run(m, "echo a\\ b 'c\"d' \"e'f\"")[1] == "a b c\"d e'f\n"


def test_set_e_stops_at_the_first_failure_but_not_in_conditions(m: System) -> None:
    code, out, _ = run(m, "set -e\necho one\nfalse\necho two")
    assert (code, out) == (1, "one\n")
    code, out, _ = run(m, "set -e\nfalse || true\nif false; then echo no; fi\nfalse && echo x\n"
                          "echo reached")
    assert (code, out) == (0, "reached\n")
    code, out, _ = run(m, "set -eux\necho hi\nexit 3\necho never")
    assert code == 3 and out == "hi\n"


def test_xtrace_prints_commands_to_stderr(m: System) -> None:
    _, out, err = run(m, "set -x\nX=1\necho $X")
    assert out == "1\n" and "+ X=1" in err and "+ echo 1" in err


def test_redirections(m: System) -> None:
    code, out, err = run(m, "echo one > f; echo two >> f; cat f; ls /nope 2>/dev/null; "
                            "ls /nope 2>&1 | grep -c 'No such'; ls /nope > g 2>&1; cat g")
    assert code == 0
    assert out.startswith("one\ntwo\n1\nls: cannot access '/nope'")
    assert err == ""
    assert run(m, "echo err >&2")[2] == "err\n"
    assert run(m, "cat < f")[1] == "one\ntwo\n"


def test_heredocs_quoted_and_expanding(m: System) -> None:
    _code, out, _ = run(m, "NAME=web\ncat <<'EOF' > q.txt\nrole $NAME\nEOF\n"
                          "cat <<EOF > e.txt\nrole $NAME\nEOF\ncat q.txt e.txt")
    assert out == "role $NAME\nrole web\n"
    assert run(m, "cat <<-END\n\tindented\n\tEND")[1] == "indented\n"


def test_if_for_while(m: System) -> None:
    script = ("if [ -d /etc ]; then echo dir; elif true; then echo no; else echo no; fi\n"
              "for i in 1 2 3; do echo $i; done\n"
              "n=0; while [ $n -lt 2 ]; do n=$((n+1)); done; echo n=$n\n"
              "until true; do echo never; done")
    assert run(m, script)[1] == "dir\n1\n2\n3\nn=2\n"


def test_syntax_errors_are_reported_not_raised(m: System) -> None:
    code, _, err = run(m, "if true; then echo x")
    assert code == 2 and "syntax error" in err


def test_unknown_commands_exit_127_with_the_sandbox_message(m: System) -> None:
    code, _, err = run(m, "strace -f ls")
    assert code == 127
    assert err == "not simulated in the sandbox: strace (it would run on AWS)\n"


def test_simulated_command_missing_from_the_disk_is_not_found(m: System) -> None:
    code, _, err = run(m, "unzip bundle.zip")
    assert code == 127 and "unzip: command not found" in err


# --- permissions and sudo ------------------------------------------------------------


def test_ubuntu_gets_permission_denied_and_sudo_fixes_it(m: System) -> None:
    code, _, err = run(m, "echo x > /etc/stemcell")
    assert code == 1 and "Permission denied" in err
    code, _, err = run(m, "sudo echo x > /etc/stemcell")  # the redirect is still ubuntu's
    assert code == 1 and "Permission denied" in err
    assert run(m, "echo x | sudo tee /etc/stemcell >/dev/null; cat /etc/stemcell")[1] == "x\n"
    assert run(m, "sudo bash -c 'echo y > /etc/stemcell2' && cat /etc/stemcell2")[1] == "y\n"
    assert run(m, "mkdir /opt/app")[0] == 1
    assert run(m, "sudo mkdir -p /opt/app/sub && ls -d /opt/app/sub")[1] == "/opt/app/sub\n"
    assert run(m, "sudo whoami; id -u")[1] == "root\n1000\n"


def test_files_commands(m: System) -> None:
    script = ("mkdir -p a/b && touch a/b/c && cp -r a z && mv z/b/c z/b/d && ls z/b\n"
              "ln -s /home/ubuntu/a/b link && ls link\n"
              "chmod 600 a/b/c && ls -l a/b/c | cut -c1-10 || true\n"
              "chmod u+x,go-r a/b/c\n"
              "rm -rf a z && ls\n")
    _code, out, _ = run(m, script)
    assert "d\n" in out and "c\n" in out
    disk = m.disk
    assert not disk.exists("/home/ubuntu/a")
    assert run(m, "touch f && chmod 640 f && stat -c %a f")[1] == "640\n"
    node = disk.get("/home/ubuntu/f")
    assert node is not None and node.mode == 0o640
    assert run(m, "chown root f")[0] == 1
    assert run(m, "sudo chown -R www-data:www-data f")[0] == 0
    node = disk.get("/home/ubuntu/f")
    assert node is not None and node.owner == "www-data"


def test_text_commands(m: System) -> None:
    run(m, "printf 'alpha\\nBeta\\ngamma\\n' > t")
    assert run(m, "grep -i beta t")[1] == "Beta\n"
    assert run(m, "grep -c a t")[1] == "3\n"
    assert run(m, "grep -q zeta t")[0] == 1
    assert run(m, "grep -F 'a.' t")[0] == 1
    assert run(m, "head -n 1 t; tail -1 t; wc -l t")[1] == "alpha\ngamma\n3 t\n"
    assert run(m, "sed -n 2p t")[1] == "Beta\n"
    assert run(m, "sed -n '1,2p' t")[1] == "alpha\nBeta\n"
    assert run(m, "sed 's/a/A/g' t | head -1")[1] == "AlphA\n"
    run(m, "sed -i 's/gamma/delta/' t")
    assert "delta" in m.disk.read_text("/home/ubuntu/t")
    assert run(m, "echo -n x; echo -e 'a\\tb'")[1] == "xa\tb\n"
    assert run(m, "printf '%s=%d\\n' a 1 b 2")[1] == "a=1\nb=2\n"
    assert run(m, "cat t | tee -a t2 > /dev/null; cat t2 | wc -l")[1] == "3\n"


def test_test_builtin(m: System) -> None:
    assert run(m, "[ -f /etc/hostname ] && [ ! -d /etc/hostname ] && test -n x && echo ok")[1] \
        == "ok\n"
    assert run(m, "[ a = b ]")[0] == 1
    assert run(m, "[ 3 -gt 2 ] && [ -z '' ] && [ -e /etc ] && echo ok")[1] == "ok\n"


def test_looking_around(m: System) -> None:
    out = run(m, "whoami; pwd; cd /etc && pwd; hostname; hostname -I; uname -r; uname -m")[1]
    assert out.splitlines() == ["ubuntu", "/home/ubuntu", "/etc", "ip-172-31-5-6",
                                "172.31.5.6 ", "6.8.0-1019-aws", "x86_64"]
    assert "Linux ip-172-31-5-6" in run(m, "uname -a")[1]
    assert run(m, "id")[1].startswith("uid=1000(ubuntu) gid=1000(ubuntu)")
    assert run(m, "which curl python3")[1] == "/usr/bin/curl\n/usr/bin/python3\n"
    assert run(m, "python3 --version")[1] == "Python 3.12.3\n"
    assert "HOME=/home/ubuntu" in run(m, "env")[1]
    assert run(m, "date +%Y")[1].strip().isdigit()
    assert "os-release" in run(m, "ls -la /etc")[1]
    assert run(m, "cd /root")[0] == 1


def test_sleep_is_modeled_time() -> None:
    m = make(speed=1000)
    before = m.now()
    assert run(m, "sleep 2")[0] == 0
    # modeled seconds, not wall seconds: 2 s at speed 1000 is 2 ms of wall time
    assert 2.0 <= m.now() - before < 500


# --- packages and services -----------------------------------------------------------


def test_apt_needs_root_and_an_update_first(m: System) -> None:
    code, _, err = run(m, "apt-get install -y apache2")
    assert code == 100 and "are you root?" in err
    code, _, err = run(m, "sudo apt-get install -y apache2")
    assert code == 100 and "Unable to locate package apache2" in err
    code, _out, _ = run(m, "sudo apt-get install apache2")
    assert code == 100


def test_apt_takes_a_dpkg_lock_timeout_option(m: System) -> None:
    # Profiles wait for unattended-upgrades' lock at first boot, as on real Ubuntu.
    code, _, err = run(m, "sudo apt-get -o DPkg::Lock::Timeout=300 update && "
                          "sudo apt-get -o DPkg::Lock::Timeout=300 install -y apache2")
    assert code == 0, err
    code, _, err = run(m, "sudo apt-get -o DPkg::Lock::Timeout install -y apache2")
    assert code == 100
    assert "Configuration item specification must have an =<val>" in err


def test_apt_install_output_and_effects(m: System) -> None:
    code, out, err = run(m, "sudo apt-get update && sudo apt-get install -y apache2")
    assert code == 0, err
    assert "Fetched" in out and "Reading package lists..." in out
    lines = out.splitlines()
    gets = [re.sub(r"^Get:\d+ ", "Get:N ", ln) for ln in lines
            if ln.startswith("Get:") and "apache2-bin amd64" in ln]
    assert gets == ["Get:N http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble-updates/main "
                    "amd64 apache2-bin amd64 2.4.58-1ubuntu8.5 [1331 kB]"]
    assert "Need to get 2086 kB of archives." in lines
    assert "Setting up apache2 (2.4.58-1ubuntu8.5) ..." in lines
    assert any(ln.startswith("Fetched 2086 kB in ") for ln in lines)
    assert run(m, "systemctl is-active apache2; systemctl is-enabled apache2")[1] == \
        "active\nenabled\n"
    assert run(m, "dpkg-query -W apache2")[1] == "apache2\t2.4.58-1ubuntu8.5\n"
    assert run(m, "dpkg-query -W -f '${Version}' apache2")[1] == "2.4.58-1ubuntu8.5"
    assert "Status: install ok installed" in run(m, "dpkg-query -s apache2")[1]
    assert run(m, "dpkg -l apache2")[1].splitlines()[-1].startswith("ii  apache2 ")
    assert run(m, "dpkg-query -W nginx")[0] == 1
    assert "apache2 is already the newest version" in run(m, "sudo apt-get install -y apache2")[1]


def test_apt_takes_modeled_time_from_sizes() -> None:
    m = make(speed=2000)
    before = m.now()
    run(m, "sudo apt-get update -qq")
    after_update = m.now()
    run(m, "sudo apt-get install -y -qq apache2")
    model = m.model
    assert after_update - before >= model.apt_update * 0.99
    # 10 packages: unpack + configure + download + triggers + a service start
    assert m.now() - after_update >= 10 * (model.unpack_per_package +
                                           model.configure_per_package)


def test_systemctl_and_service(web: System) -> None:
    m = web
    assert run(m, "systemctl stop apache2")[0] == 1  # needs root
    assert run(m, "sudo systemctl stop apache2; systemctl is-active apache2")[1] == "inactive\n"
    assert run(m, "systemctl is-active apache2")[0] == 3
    assert run(m, "sudo service apache2 start; systemctl is-active apache2")[1] == "active\n"
    assert run(m, "sudo systemctl disable apache2 && systemctl is-enabled apache2")[1] == \
        "disabled\n"
    assert run(m, "sudo systemctl enable --now apache2 && systemctl is-enabled apache2")[1] == \
        "enabled\n"
    assert "Active: active (running)" in run(m, "systemctl status apache2")[1]
    assert run(m, "sudo systemctl restart apache2 && sudo systemctl reload apache2")[0] == 0
    assert run(m, "sudo systemctl daemon-reload")[0] == 0
    assert run(m, "systemctl status nope")[0] == 4
    assert run(m, "sudo systemctl start nope")[0] == 5


def test_apache_tools(web: System) -> None:
    m = web
    assert "Syntax OK" in run(m, "apache2ctl -t")[2]
    assert run(m, "a2enmod wsgi")[0] == 1  # not root, and the module is not there yet
    run(m, "sudo apt-get install -y libapache2-mod-wsgi-py3")
    code, out, _ = run(m, "sudo a2enmod wsgi")
    assert "already enabled" in out
    assert " wsgi_module (shared)" in run(m, "apache2ctl -M")[1]
    site = ("<VirtualHost *:80>\n  DocumentRoot /var/www/app\n"
            "  WSGIScriptAlias / /var/www/app/app.wsgi\n</VirtualHost>\n")
    run(m, f"sudo tee /etc/apache2/sites-available/app.conf >/dev/null <<'EOF'\n{site}EOF")
    out = run(m, "sudo a2ensite app && sudo a2dissite 000-default")[1]
    assert "Enabling site app." in out and "Site 000-default disabled." in out
    assert "systemctl reload apache2" in out
    run(m, "sudo a2dismod -q wsgi")
    code, _, err = run(m, "apache2ctl configtest")
    assert code == 1 and "Invalid command 'WSGIScriptAlias'" in err
    assert run(m, "sudo systemctl restart apache2")[0] == 1
    assert run(m, "systemctl is-active apache2")[1] == "failed\n"
    assert run(m, "sudo a2enmod missing")[0] == 1


def test_ss_lists_listening_ports(web: System) -> None:
    m = web
    m.start_service("ssh", modeled=False)
    out = run(m, "ss -tln")[1]
    assert "0.0.0.0:22" in out and "*:80" in out
    assert "apache2" in run(m, "sudo ss -tlnp")[1]


# --- network and archives ------------------------------------------------------------


def test_curl_and_wget_refuse_the_internet(m: System) -> None:
    code, _, err = run(m, "curl -fsSL https://example.com/x.zip -o x.zip")
    assert code == 7 and "Network is unreachable" in err and "loopback" in err
    code, _, err = run(m, "wget -q https://example.com/x.zip")
    assert code == 4


def test_imds_v2_is_simulated(m: System) -> None:
    script = ('T=$(curl -s -X PUT http://169.254.169.254/latest/api/token '
              '-H "X-aws-ec2-metadata-token-ttl-seconds: 21600")\n'
              'curl -s -H "X-aws-ec2-metadata-token: $T" '
              'http://169.254.169.254/latest/meta-data/local-ipv4\n'
              'curl -s -f http://169.254.169.254/latest/meta-data/instance-id || echo " v1=$?"')
    assert run(m, script)[1] == "172.31.5.6 v1=22\n"


def test_curl_reaches_the_guests_own_apache(web: System) -> None:
    m = web
    m.local_http = lambda method, target, headers: (200, {}, b"own page\n")
    assert run(m, "curl -s http://localhost/")[1] == "own page\n"
    run(m, "sudo systemctl stop apache2")
    assert run(m, "curl -s http://localhost/")[0] == 7


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_unzip_and_tar_real_bytes(web: System) -> None:
    m = web
    m.disk.write("/tmp/b.zip", _zip({"index.html": b"<h1>web</h1>", "static/app.js": b"js"}))
    code, out, _ = run(m, "sudo unzip -o /tmp/b.zip -d /var/www/html")
    assert code == 0 and "inflating: /var/www/html/index.html" in out
    assert m.disk.read("/var/www/html/static/app.js") == b"js"
    out = run(m, "sudo unzip /tmp/b.zip -d /var/www/html")[1]
    assert "treating as \"[N]one\"" in out
    assert run(m, "unzip -q /tmp/b.zip -d /var/www/x")[0] != 0  # ubuntu may not write there
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"print('hi')\n"
        ti = tarfile.TarInfo("app/main.py")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    m.disk.write("/tmp/b.tgz", buf.getvalue())
    assert run(m, "sudo mkdir -p /opt/x && sudo tar xzf /tmp/b.tgz -C /opt/x")[0] == 0
    assert m.disk.read("/opt/x/app/main.py") == b"print('hi')\n"
    assert run(m, "tar -tzf /tmp/b.tgz")[1] == "app/main.py\n"
    assert run(m, "unzip /tmp/missing.zip")[0] == 9


# --- cloud-init command --------------------------------------------------------------


def test_cloud_init_status_formats(m: System) -> None:
    m.cloud_init.status = "done"
    m.cloud_init.last_update = m.now()
    assert run(m, "cloud-init status")[1] == "status: done\n"
    assert run(m, "cloud-init status --wait")[1] == "status: done\n"
    long_ = run(m, "cloud-init status --long")[1]
    assert "extended_status: done" in long_ and "errors: []" in long_
    doc = json.loads(run(m, "cloud-init status --format json")[1])
    assert doc["status"] == "done" and doc["errors"] == []
    m.cloud_init.status = "error"
    m.cloud_init.errors = ["boom"]
    assert run(m, "cloud-init status")[0] == 1


def test_custom_units_from_etc_systemd(web: System) -> None:
    m = web
    unit = ("[Unit]\nDescription=worker\n[Service]\nExecStart=/usr/bin/python3 /opt/w.py\n"
            "[Install]\nWantedBy=multi-user.target\n")
    m.disk.write("/etc/systemd/system/worker.service", unit)
    code, _, err = run(m, "sudo systemctl daemon-reload && sudo systemctl enable worker && "
                          "sudo systemctl start worker && systemctl is-active worker")
    assert code == 0 and "/etc/systemd/system/worker.service" in err
    assert m.disk.units["worker.service"] is True
    m.disk.write("/etc/systemd/system/broken.service", unit.replace("/usr/bin/python3",
                                                                    "/usr/bin/nothere"))
    code, _, err = run(m, "sudo systemctl start broken")
    assert code == 1 and "Job for broken.service failed" in err
    assert "status=203/EXEC" in run(m, "systemctl status broken")[1]


def test_bash_s_reads_its_script_from_stdin(m: System) -> None:
    code, out, _ = run(m, "sudo bash -s", stdin=b"set -e\nwhoami\necho $((40+2))\n")
    assert (code, out) == (0, "root\n42\n")
    assert run(m, "bash", stdin=b"exit 4\n")[0] == 4
