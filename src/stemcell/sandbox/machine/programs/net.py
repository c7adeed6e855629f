"""curl, wget, ss, hostname.

The sandbox reaches only loopback: a URL on 127.0.0.1/localhost is fetched for
real (the sandbox's S3 serving presigned URLs, test servers), except the guest's
own web server ports, which inside the guest *are* the guest (answered in
process). The instance metadata service (169.254.169.254, IMDSv2) is simulated.
Everything else fails like an unreachable network.
"""

from __future__ import annotations

import http
import posixpath
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from stemcell.engine.redact import redact
from stemcell.sandbox.machine import apache_server
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.programs.resources import human as human_size
from stemcell.sandbox.machine.shell import IO, CmdError, Shell

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
IMDS = "169.254.169.254"


class FetchError(Exception):
    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(msg)
        self.kind = kind  # resolve | connect | timeout


def _imds(sh: Shell, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    system = sh.system
    tokens = system.imds_tokens
    if path == "/latest/api/token":
        if method != "PUT":
            return 405, b""
        token = secrets.token_urlsafe(40)
        tokens.add(token)
        return 200, token.encode()
    if headers.get("x-aws-ec2-metadata-token") not in tokens:
        # Instances we launch require IMDSv2 (HttpTokens=required).
        return 401, b""
    values = {
        "/latest/meta-data/instance-id": system.instance_id,
        "/latest/meta-data/local-ipv4": system.private_ip,
        "/latest/meta-data/public-ipv4": system.public_ip,
        "/latest/meta-data/hostname": f"{system.hostname}.ec2.internal",
        "/latest/meta-data/local-hostname": f"{system.hostname}.ec2.internal",
        "/latest/meta-data/placement/availability-zone": "us-east-1a",
        "/latest/meta-data/placement/region": "us-east-1",
        "/latest/meta-data/instance-type": "t3.micro",
        "/latest/meta-data/ami-id": system.image_id,
    }
    if path.rstrip("/") == "/latest/meta-data":
        return 200, "\n".join(sorted(k.rsplit("/", 1)[-1] for k in values)).encode()
    if values.get(path):
        return 200, values[path].encode()
    return 404, b""


def fetch(sh: Shell, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request from inside the guest; raises FetchError like a network would."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("protocol", f"Protocol \"{parts.scheme}\" not supported")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    system = sh.system
    if host == IMDS:
        sh.sleep(0.002)
        code, body = _imds(sh, method, path, headers)
        return code, {"Content-Type": "text/plain"}, body
    if host not in LOOPBACK:
        raise FetchError("connect", f"Failed to connect to {host} port {port}: Network is "
                                    "unreachable (the sandbox reaches loopback URLs only, such"
                                    " as its own S3; this would work on AWS)")
    own_ports = set(apache_server.read_config(system.disk).listen or [80]) | {80}
    if port in own_ports:
        local = system.local_http
        if local is None or not system.is_active("apache2"):
            raise FetchError("connect", f"Failed to connect to {host} port {port}: "
                                        "Connection refused")
        target = path + (f"?{parts.query}" if parts.query else "")
        code, hdrs, body = local(method, target, headers)
        return code, hdrs, body
    if port == 22:
        raise FetchError("connect", f"Failed to connect to {host} port 22: not an HTTP server")
    # No redirect is followed here: a redirect may point off loopback (S3 answers 307
    # to its regional host); curl -L follows it through fetch() again, which checks.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            body = resp.read()
            code = resp.status
            hdrs = dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        code = exc.code
        hdrs = dict(exc.headers.items()) if exc.headers else {}
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError("connect", f"Failed to connect to {host} port {port}: {reason}") \
            from None
    # In-region transfer time; the wall time the loopback call took is absorbed by the
    # command's timeline (see Shell.sleep).
    sh.sleep(0.02 + len(body) / system.model.mirror_bytes_per_s)
    return code, hdrs, body


def reason(code: int) -> str:
    """The standard reason phrase (Apache and curl print them: "HTTP/1.1 404 Not Found")."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch_following(sh: Shell, url: str, *, method: str, headers: dict[str, str],
                    timeout: float, follow: bool) -> tuple[int, dict[str, str], bytes]:
    """fetch(); with ``follow`` (curl -L) each redirect is fetched again, at most 10 hops."""
    for _ in range(10):
        code, hdrs, body = fetch(sh, url, method=method, headers=headers, timeout=timeout)
        location = {k.lower(): v for k, v in hdrs.items()}.get("location")
        if not follow or code not in (301, 302, 303, 307, 308) or not location:
            return code, hdrs, body
        url = urllib.parse.urljoin(url, location)
    raise FetchError("redirects", "Maximum (10) redirects followed")


def _write_out(sh: Shell, dest: str, data: bytes) -> None:
    if dest == "/dev/null":
        return
    disk = sh.system.disk
    full = sh.path(dest)
    if disk.is_dir(full):
        raise CmdError(f"{dest}: Is a directory", 23)
    if not disk.can_write(full, sh.user):
        raise CmdError(f"{dest}: Permission denied", 23)
    if not disk.is_dir(posixpath.dirname(disk.resolve(full))):
        raise CmdError(f"{dest}: No such file or directory", 23)
    with sh.system.lock:
        new = not disk.exists(full)
        disk.write(full, data, owner=sh.user if new else None, group=sh.user if new else None)


# What curl's --retry counts as transient (curl(1), --retry): a timeout, and HTTP 408,
# 429, 500, 502, 503 and 504; a refused connection only with --retry-connrefused, any
# error with --retry-all-errors. Without --retry-delay it waits 1 s, doubling.
_TRANSIENT = (408, 429, 500, 502, 503, 504)


def _fetch_retrying(sh: Shell, o: Any, url: str, method: str, headers: dict[str, str],
                    io: IO, silent: bool) -> tuple[int, dict[str, str], bytes]:
    left = int(o.get("retry") or 0)
    fixed = o.get("retry-delay")
    delay = float(fixed) if fixed else 1.0
    while True:
        try:
            code, hdrs, body = fetch_following(
                sh, url, method=method, headers=headers,
                timeout=float(o.get("m", "max-time") or 30), follow=o.has("L", "location"))
            problem = "HTTP error" if code in _TRANSIENT or (
                code >= 400 and o.has("retry-all-errors")) else ""
        except FetchError as exc:
            refused = exc.kind == "connect"
            if not left or not (exc.kind == "timeout" or o.has("retry-all-errors")
                                or (refused and o.has("retry-connrefused"))):
                raise
            problem, code, hdrs, body = "timeout" if exc.kind == "timeout" else "error", 0, {}, b""
        if not problem or not left:
            return code, hdrs, body
        if not silent:
            io.eprint(f"Warning: Problem : {problem}. Will retry in {delay:g} seconds. "
                      f"{left} retries left.")
        sh.system.sleep(delay)
        left -= 1
        if not fixed:
            delay = min(delay * 2, 600.0)


@command("curl")
def curl(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="fsSLOIkvi#", valued="oXHdwmA",
              long=("fail", "silent", "show-error", "location", "remote-name", "head",
                    "insecure", "verbose", "include", "compressed", "fail-with-body",
                    "retry-connrefused", "retry-all-errors", "no-progress-meter"),
              long_valued=("output", "request", "header", "data", "write-out", "max-time",
                           "retry", "retry-delay", "connect-timeout", "user-agent"))
    if not o.args:
        io.eprint("curl: try 'curl --help' or 'curl --manual' for more information")
        return 2
    silent = o.has("s", "silent") or o.has("no-progress-meter")
    show_err = o.has("S", "show-error") or not silent
    method = o.get("X", "request") or ("HEAD" if o.has("I", "head") else "GET")
    headers = {}
    for h in [v for k, v in o.values.items() if k in ("H", "header")]:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    status = 0
    for url in o.args:
        if "://" not in url:
            url = "http://" + url  # curl's default protocol
        try:
            code, hdrs, body = _fetch_retrying(sh, o, url, method, headers, io, silent)
        except FetchError as exc:
            if show_err:
                num = {"resolve": 6, "protocol": 1, "redirects": 47}.get(exc.kind, 7)
                io.eprint(f"curl: ({num}) {exc}")
            status = {"resolve": 6, "protocol": 1, "redirects": 47}.get(exc.kind, 7)
            continue
        if code >= 400 and o.has("f", "fail"):
            if show_err:
                io.eprint(f"curl: (22) The requested URL returned error: {code}")
            status = 22
            continue
        status_line = f"HTTP/1.1 {code} {reason(code)}".rstrip()
        if o.has("v", "verbose"):
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addr = "127.0.0.1" if host == "localhost" else host
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sent = {"Host": parts.netloc, "User-Agent": "curl/8.5.0", "Accept": "*/*",
                    **headers}
            io.eprint(f"*   Trying {addr}:{port}...\n* Connected to {host} ({addr}) port "
                      f"{port}\n> {method} {target} HTTP/1.1")
            for k, v in sent.items():
                io.eprint(f"> {k}: {v}")
            io.eprint("> \n< " + status_line)
            for k, v in hdrs.items():
                io.eprint(f"< {k}: {v}")
            io.eprint("< ")
        if o.has("I", "head", "i", "include"):
            io.print(f"{status_line}\r")
            for k, v in hdrs.items():
                io.print(f"{k}: {v}\r")
            io.print("\r")
        if method == "HEAD":
            if o.has("v", "verbose"):
                io.eprint(f"* Connection #0 to host {urllib.parse.urlsplit(url).hostname} "
                          "left intact")
            continue
        dest = o.get("o", "output")
        if o.has("O", "remote-name"):
            dest = posixpath.basename(urllib.parse.urlsplit(url).path) or "index.html"
        if dest and dest != "-":
            try:
                _write_out(sh, dest, body)
            except CmdError as exc:
                io.eprint(f"curl: (23) Failure writing output to destination: {exc}")
                status = 23
                continue
            if not silent:
                n = len(body)
                io.eprint("  % Total    % Received % Xferd  Average Speed   Time    Time     Time"
                          "  Current\n                                 Dload  Upload   Total   "
                          "Spent    Left  Speed")
                io.eprint(f"100 {n:>5}  100 {n:>5}    0     0  {n * 10:>5}      0 --:--:-- "
                          f"--:--:-- --:--:-- {n * 10:>5}")
        else:
            io.out(body)
        if o.has("v", "verbose"):
            io.eprint(f"* Connection #0 to host {urllib.parse.urlsplit(url).hostname} left "
                      "intact")
        w = o.get("w", "write-out")
        if w:
            io.print(w.replace("%{http_code}", str(code)).replace("\\n", "\n"), end="")
    return status


@command("wget")
def wget(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="qcnvN", valued="OPT", long=("quiet", "no-verbose", "continue"),
              long_valued=("output-document", "directory-prefix", "timeout", "tries"),
              strict=False)
    if not o.args:
        io.eprint("wget: missing URL")
        return 1
    quiet = o.has("q", "quiet")
    status = 0
    for url in o.args:
        if "://" not in url:
            url = "http://" + url  # wget's default scheme
        shown = redact(url)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sh.system.wall_now()))
        if not quiet:
            io.eprint(f"--{stamp}--  {shown}")
        parts = urllib.parse.urlsplit(url)
        if not quiet and (parts.hostname or "") in LOOPBACK:
            host: str = parts.hostname or ""
            addr = "127.0.0.1" if host == "localhost" else host
            port = parts.port or (443 if parts.scheme == "https" else 80)
            io.eprint(f"Resolving {host} ({host})... {addr}\n"
                      f"Connecting to {host} ({host})|{addr}|:{port}... connected.")
        try:
            code, _hdrs, body = fetch(sh, url)
        except FetchError as exc:
            if not quiet:
                io.eprint(f"Connecting to {parts.hostname}... failed: {exc}.")
            status = 4
            continue
        if code >= 400:
            if not quiet:
                io.eprint(f"HTTP request sent, awaiting response... {code} {reason(code)}\n"
                          f"{stamp} ERROR {code}: {reason(code)}.")
            status = 8
            continue
        dest = o.get("O", "output-document") or \
            posixpath.basename(urllib.parse.urlsplit(url).path) or "index.html"
        prefix = o.get("P", "directory-prefix")
        if prefix and dest != "-":
            dest = posixpath.join(prefix, dest)
        if dest == "-":
            io.out(body)
        else:
            try:
                _write_out(sh, dest, body)
            except CmdError as exc:
                io.eprint(f"{dest}: {str(exc).split(': ', 1)[-1]}")
                status = 3
                continue
        if not quiet:
            ctype = next((v for k, v in _hdrs.items() if k.lower() == "content-type"),
                         "text/html")
            io.eprint(f"HTTP request sent, awaiting response... {code} {reason(code)}\n"
                      f"Length: {len(body)} ({human_size(len(body))}) [{ctype}]\n"
                      f"Saving to: ‘{dest}’\n\n"
                      f"{stamp} - ‘{dest}’ saved [{len(body)}/{len(body)}]\n")
    return status


def apache_ports(sh: Shell) -> list[int]:
    """The ports Apache listens on: `Listen` lines, skipping `<IfModule m>` blocks whose
    module is not enabled (Debian's ports.conf wraps 443 in <IfModule ssl_module>)."""
    disk = sh.system.disk
    ports: list[int] = []
    skipping = 0
    for _path, raw in apache_server.config_lines(disk):
        words = raw.strip().split()
        if not words:
            continue
        key = words[0].lower()
        if key == "<ifmodule":
            name = words[1].rstrip(">") if len(words) > 1 else ""
            negate = name.startswith("!")
            mod = name.lstrip("!").removesuffix("_module").removeprefix("mod_")
            mod = mod.removesuffix(".c")
            on = apache_server.enabled(disk, "mod", mod)
            if skipping or on == negate:
                skipping += 1
            continue
        if key == "</ifmodule>":
            skipping = max(0, skipping - 1)
            continue
        if key == "listen" and not skipping and len(words) > 1:
            port = words[1].rsplit(":", 1)[-1]
            if port.isdigit() and int(port) not in ports:
                ports.append(int(port))
    return sorted(ports) or [80]


def _listeners(sh: Shell) -> list[tuple[str, str, str, str]]:
    """Listening sockets: (netid, local address, peer, process) as ss prints them."""
    system = sh.system
    pids = {p.unit: p.pid for p in reversed(system.processes.list()) if p.unit}
    rows: list[tuple[str, str, str, str]] = []
    resolved = pids.get("systemd-resolved.service", 0)
    if resolved:
        rows.append(("udp", "127.0.0.54:53", "0.0.0.0:*",
                     f'users:(("systemd-resolve",pid={resolved},fd=16))'))
        rows.append(("udp", "127.0.0.53%lo:53", "0.0.0.0:*",
                     f'users:(("systemd-resolve",pid={resolved},fd=14))'))
    networkd = pids.get("systemd-networkd.service", 0)
    if networkd:
        rows.append(("udp", f"{system.private_ip}%ens5:68", "0.0.0.0:*",
                     f'users:(("systemd-network",pid={networkd},fd=23))'))
    if resolved:
        rows.append(("tcp", "127.0.0.53%lo:53", "0.0.0.0:*",
                     f'users:(("systemd-resolve",pid={resolved},fd=15))'))
        rows.append(("tcp", "127.0.0.54:53", "0.0.0.0:*",
                     f'users:(("systemd-resolve",pid={resolved},fd=17))'))
    if system.is_active("ssh"):
        pid = pids.get("ssh.service", 0)
        rows.append(("tcp", "0.0.0.0:22", "0.0.0.0:*", f'users:(("sshd",pid={pid},fd=3))'))
        rows.append(("tcp", "[::]:22", "[::]:*", f'users:(("sshd",pid={pid},fd=4))'))
    if system.is_active("apache2"):
        pid = pids.get("apache2.service", 0)
        for port in apache_ports(sh):
            rows.append(("tcp", f"*:{port}", "*:*",
                         f'users:(("apache2",pid={pid},fd=4),("apache2",pid={pid + 1},fd=4),'
                         f'("apache2",pid={pid + 2},fd=4))'))
    return rows


@command("ss")
def ss(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="tulnpaHe4", long=(
        "tcp", "udp", "listening", "numeric", "processes", "all", "no-header", "unix"))
    tcp = o.has("t", "tcp")
    udp = o.has("u", "udp")
    if o.has("unix"):
        raise CmdError("unix sockets are not simulated in the sandbox (it would run on AWS)",
                       127)
    if not tcp and not udp:
        tcp = udp = True
    listening = o.has("l", "listening")
    if not listening and not o.has("a", "all"):
        # Without -l ss shows established connections only; the guest keeps none of its own.
        io.print("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process"
                 if tcp and udp else "State Recv-Q Send-Q Local Address:Port Peer Address:Port"
                 " Process")
        return 0
    show_proc = o.has("p", "processes")
    if show_proc and sh.user != "root":
        show_proc = False  # ss shows other users' processes only to root
    rows = [r for r in _listeners(sh) if (r[0] == "tcp" and tcp) or (r[0] == "udp" and udp)]
    both = tcp and udp
    table = [(["Netid"] if both else []) + ["State", "Recv-Q", "Send-Q", "Local Address:Port",
                                            "Peer Address:Port", "Process"]]
    for netid, local, peer, proc in rows:
        state = "LISTEN" if netid == "tcp" else "UNCONN"
        send = "4096" if netid == "tcp" and "apache2" not in proc else (
            "511" if netid == "tcp" else "0")
        table.append(([netid] if both else []) + [state, "0", send, local, peer,
                                                   proc if show_proc else ""])
    # iproute2 6.1 right-aligns both address columns and glues "Process" to the peer
    # header ("Peer Address:PortProcess"), as Ubuntu 24.04's ss prints it.
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    lp = len(table[0]) - 3
    for i, r in enumerate(table):
        if i == 0 and o.has("H", "no-header"):
            continue
        cells = [text.rjust(widths[c]) if c in (lp, lp + 1) else text.ljust(widths[c])
                 for c, text in enumerate(r[:-1])]
        if i == 0:
            cells[lp] = r[lp].ljust(widths[lp])
            io.print(" ".join(cells[:lp + 1]) + " " + r[lp + 1].rjust(widths[lp + 1]) + r[-1])
            continue
        io.print((" ".join(cells) + " " + r[-1]).rstrip())
    return 0


@command("ip")
def ip(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if a not in ("-4", "-6", "-c", "-color")]
    brief = False
    if args and args[0] in ("-br", "-brief"):
        brief = True
        args = args[1:]
    obj = args[0] if args else ""
    system = sh.system
    ip_ = system.private_ip
    octets = [int(x) for x in ip_.split(".")]
    mac = "0a:" + ":".join(f"{(o * 7 + i * 13) % 256:02x}" for i, o in enumerate(octets)) + ":01"
    if obj in ("a", "addr", "address", "ad"):
        if brief:
            io.print(f"lo               UNKNOWN        127.0.0.1/8 ::1/128 \n"
                     f"ens5             UP             {ip_}/20 fe80::8ff:fe00:1/64 ")
            return 0
        io.print("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group "
                 "default qlen 1000\n"
                 "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
                 "    inet 127.0.0.1/8 scope host lo\n"
                 "       valid_lft forever preferred_lft forever\n"
                 "    inet6 ::1/128 scope host noprefixroute \n"
                 "       valid_lft forever preferred_lft forever\n"
                 "2: ens5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP group "
                 "default qlen 1000\n"
                 f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff\n"
                 "    altname enp0s5\n"
                 f"    inet {ip_}/20 metric 100 brd {octets[0]}.{octets[1]}.{octets[2] | 15}.255 "
                 "scope global dynamic ens5\n"
                 "       valid_lft 3412sec preferred_lft 3412sec\n"
                 "    inet6 fe80::8ff:fe00:1/64 scope link \n"
                 "       valid_lft forever preferred_lft forever")
        return 0
    if obj in ("r", "route", "ro"):
        net = f"{octets[0]}.{octets[1]}.{octets[2] & ~15}.0"
        gw = f"{octets[0]}.{octets[1]}.{octets[2] & ~15}.1"
        dns = f"{octets[0]}.{octets[1]}.0.2"
        io.print(f"default via {gw} dev ens5 proto dhcp src {ip_} metric 100 \n"
                 f"{dns} via {gw} dev ens5 proto dhcp src {ip_} metric 100 \n"
                 f"{net}/20 dev ens5 proto kernel scope link src {ip_} metric 100 \n"
                 f"{gw} dev ens5 proto dhcp scope link src {ip_} metric 100 ")
        return 0
    if obj in ("l", "link"):
        io.print("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode "
                 "DEFAULT group default qlen 1000\n"
                 "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
                 "2: ens5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP mode "
                 "DEFAULT group default qlen 1000\n"
                 f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff\n    altname enp0s5")
        return 0
    if not obj:
        io.eprint("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
        return 255
    raise CmdError(f"ip {obj} is not simulated in the sandbox (it would run on AWS)", 127)


@command("hostname")
def hostname(sh: Shell, argv: list[str], io: IO) -> int:
    system = sh.system
    if "-I" in argv or "--all-ip-addresses" in argv:
        io.print(f"{system.private_ip} ")
    elif "-i" in argv:
        io.print(system.private_ip)
    elif "-f" in argv:
        io.print(f"{system.hostname}.ec2.internal")
    elif len(argv) > 1 and not argv[1].startswith("-"):
        raise CmdError("you must be root to change the host name", 4)
    else:
        io.print(system.hostname)
    return 0
