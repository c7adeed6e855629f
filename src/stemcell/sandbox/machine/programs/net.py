"""curl, wget, ss, hostname.

The sandbox reaches only loopback: a URL on 127.0.0.1/localhost is fetched for
real (the sandbox's S3 serving presigned URLs, test servers), except the guest's
own web server ports, which inside the guest *are* the guest (answered in
process). The instance metadata service (169.254.169.254, IMDSv2) is simulated.
Everything else fails like an unreachable network.
"""

from __future__ import annotations

import posixpath
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from stemcell.engine.redact import redact
from stemcell.sandbox.machine import apache_server
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
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


def _write_out(sh: Shell, dest: str, data: bytes, prog: str) -> None:
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
        try:
            code, hdrs, body = fetch_following(
                sh, url, method=method, headers=headers,
                timeout=float(o.get("m", "max-time") or 30), follow=o.has("L", "location"))
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
        if o.has("I", "head", "i", "include"):
            io.print(f"HTTP/1.1 {code}\r")
            for k, v in hdrs.items():
                io.print(f"{k}: {v}\r")
            io.print("\r")
        if method == "HEAD":
            continue
        dest = o.get("o", "output")
        if o.has("O", "remote-name"):
            dest = posixpath.basename(urllib.parse.urlsplit(url).path) or "index.html"
        if dest and dest != "-":
            try:
                _write_out(sh, dest, body, "curl")
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
        shown = redact(url)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sh.system.now()))
        if not quiet:
            io.eprint(f"--{stamp}--  {shown}")
        try:
            code, _hdrs, body = fetch(sh, url)
        except FetchError as exc:
            if not quiet:
                host = urllib.parse.urlsplit(url).hostname
                io.eprint(f"Connecting to {host}... failed: {exc}.")
            status = 4
            continue
        if code >= 400:
            if not quiet:
                io.eprint(f"HTTP request sent, awaiting response... {code} ERROR\n"
                          f"{stamp} ERROR {code}.")
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
                _write_out(sh, dest, body, "wget")
            except CmdError as exc:
                io.eprint(f"{dest}: {str(exc).split(': ', 1)[-1]}")
                status = 3
                continue
        if not quiet:
            io.eprint(f"HTTP request sent, awaiting response... {code} OK\n"
                      f"Length: {len(body)}\nSaving to: ‘{dest}’\n\n"
                      f"{stamp} - ‘{dest}’ saved [{len(body)}/{len(body)}]\n")
    return status


@command("ss")
def ss(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and not a.startswith("--"))
    system = sh.system
    show_proc = "p" in flags
    rows: list[tuple[str, str]] = []
    if system.is_active("ssh"):
        rows.append(("0.0.0.0:22", 'users:(("sshd",pid=800,fd=3))'))
        rows.append(("[::]:22", 'users:(("sshd",pid=800,fd=4))'))
    rows.append(("127.0.0.53%lo:53", 'users:(("systemd-resolve",pid=520,fd=14))'))
    rows.append(("127.0.0.54:53", 'users:(("systemd-resolve",pid=520,fd=16))'))
    if system.is_active("apache2"):
        for port in sorted(set(apache_server.read_config(system.disk).listen or [80])):
            rows.append((f"*:{port}", 'users:(("apache2",pid=1234,fd=4))'))
    io.print("State  Recv-Q Send-Q Local Address:Port  Peer Address:Port" +
             ("Process" if show_proc else ""))
    for local, proc in rows:
        peer = "0.0.0.0:*" if not local.startswith(("[", "*")) else "*:*"
        io.print(f"LISTEN 0      4096   {local:>18} {peer:>18}" + (f" {proc}" if show_proc
                                                                     else ""))
    return 0


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
