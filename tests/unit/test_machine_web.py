"""The guest's Apache request logic: static files, 404s, WSGI apps, the PHP subset."""

from __future__ import annotations

import pytest

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System
from stemcell.sandbox.machine.php import PhpContext, PhpError, render
from stemcell.sandbox.machine.web import WebServer


def sh(system: System, script: str) -> None:
    out: list[bytes] = []
    code = Shell(system, user="root").run(script, IO(b"", out.append, out.append))
    assert code == 0, b"".join(out).decode()


@pytest.fixture
def system() -> System:
    s = System(Disk.ubuntu(), ModelClock.starting_now(1e7), hostname="ip-172-31-5-6",
               private_ip="172.31.5.6")
    sh(s, "apt-get update -qq && apt-get install -y -qq apache2")
    return s


def test_default_page_and_headers(system: System) -> None:
    resp = WebServer(system).handle("GET", "/", {"Host": "x"})
    assert resp.status == 200 and b"Apache2 Ubuntu Default Page" in resp.body
    headers = dict(resp.headers)
    assert headers["Server"] == "Apache/2.4.58 (Ubuntu)"
    assert headers["Content-Type"].startswith("text/html")
    assert "access.log" in " ".join(system.disk.listdir("/var/log/apache2"))


def test_404_403_and_directory_redirect(system: System) -> None:
    web = WebServer(system)
    resp = web.handle("GET", "/missing.html", {})
    assert resp.status == 404 and b"The requested URL was not found on this server." in resp.body
    sh(system, "mkdir -p /var/www/html/sub && echo hi > /var/www/html/sub/index.html")
    resp = web.handle("GET", "/sub", {})
    assert resp.status == 301 and ("Location", "/sub/") in resp.headers
    assert web.handle("GET", "/sub/", {}).body == b"hi\n"
    sh(system, "echo s > /var/www/html/secret.txt && chmod 600 /var/www/html/secret.txt")
    assert web.handle("GET", "/secret.txt", {}).status == 403
    assert web.handle("HEAD", "/", {}).body == b""


WSGI_APP = '''\
import json
import socket

from helper import greeting


def application(environ, start_response):
    body = json.dumps({"role": "app-api", "host": socket.gethostname(),
                       "path": environ["PATH_INFO"], "msg": greeting()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
'''


def test_wsgi_app_runs_for_real_with_guest_imports(system: System) -> None:
    sh(system, "apt-get install -y -qq libapache2-mod-wsgi-py3 && mkdir -p /var/www/app")
    system.disk.write("/var/www/app/app.wsgi", WSGI_APP)
    system.disk.write("/var/www/app/helper.py", "def greeting():\n    return 'hello'\n")
    system.disk.write("/etc/apache2/sites-available/app.conf",
                      "<VirtualHost *:80>\n  WSGIScriptAlias /api /var/www/app/app.wsgi\n"
                      "</VirtualHost>\n")
    sh(system, "a2ensite app")
    web = WebServer(system)
    resp = web.handle("GET", "/api/health?x=1", {})
    assert resp.status == 200, resp.body
    assert resp.body == (b'{"role": "app-api", "host": "ip-172-31-5-6", "path": "/health", '
                         b'"msg": "hello"}')
    assert web.handle("GET", "/", {}).status == 200  # static still served outside /api
    system.disk.write("/var/www/app/app.wsgi", "def application(e, s):\n    raise ValueError\n")
    assert web.handle("GET", "/api/", {}).status == 500
    assert "Exception occurred processing WSGI script" in \
        system.disk.read_text("/var/log/apache2/error.log")


def test_wsgi_needs_the_module_enabled(system: System) -> None:
    system.disk.write("/etc/apache2/sites-available/app.conf",
                      "WSGIScriptAlias / /var/www/app/app.wsgi\n")
    sh(system, "a2ensite app")
    out: list[bytes] = []
    code = Shell(system, user="root").run("apache2ctl -t", IO(b"", out.append, out.append))
    assert code == 1 and b"Invalid command 'WSGIScriptAlias'" in b"".join(out)


def test_php_is_text_without_mod_php_and_runs_with_it(system: System) -> None:
    system.disk.write("/var/www/html/info.php", "<?php echo 'hi from ' . gethostname(); ?>\n")
    web = WebServer(system)
    resp = web.handle("GET", "/info.php", {})
    assert resp.status == 200 and resp.body.startswith(b"<?php")
    sh(system, "apt-get install -y -qq php libapache2-mod-php")
    resp = web.handle("GET", "/info.php", {})
    assert resp.body == b"hi from ip-172-31-5-6"


def test_php_subset() -> None:
    ctx = PhpContext(hostname="ip-1", now=lambda: 0.0, version="8.3.6")
    src = ('<html><?php header("Content-Type: application/json");\n'
           '$role = "web"; // a comment\n'
           "echo json_encode(['role' => $role, 'host' => gethostname(), 'n' => 2]); ?>"
           '</html> <?= "at " . date(\'c\') ?>')
    assert render(src, ctx) == ('<html>{"role":"web","host":"ip-1","n":2}</html> at '
                                "1970-01-01T00:00:00+00:00")
    assert ctx.headers == [("Content-Type", "application/json")]
    assert render('<?php echo "Hello $role";', ctx) == "Hello web"
    with pytest.raises(PhpError):
        render("<?php system('ls'); ?>", ctx)
