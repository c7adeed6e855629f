"""What the guest's Apache answers to one request: static files from the
document root and Aliases, WSGI apps (mod_wsgi), PHP (mod_php subset)."""

from __future__ import annotations

import mimetypes
import posixpath
import time
import urllib.parse
from dataclasses import dataclass, field

from stemcell.sandbox.machine import apache_server, php, software_versions, worker, wsgi
from stemcell.sandbox.machine.system import System

REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
WWW = "www-data"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reason: str = ""

    def status_line(self) -> str:
        return f"{self.status} {self.reason or REASONS.get(self.status, 'Unknown')}"


def error_page(status: int, host: str, port: int, message: str, *, server: str) -> Response:
    reason = REASONS.get(status, "Error")
    body = (f'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
            f"<title>{status} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n"
            f"<p>{message}</p>\n<hr>\n<address>{server} Server at {host} Port {port}</address>"
            "\n</body></html>\n").encode()
    return Response(status, [("Content-Type", "text/html; charset=iso-8859-1")], body)


class WebServer:
    """The request logic of the guest's Apache (sockets live in httpd.py)."""

    def __init__(self, system: System) -> None:
        self.system = system
        # What the WSGI daemon prints goes to Apache's error log, as with mod_wsgi.
        worker.worker_for(system).on_wsgi_stderr = \
            lambda line: self._error_log("wsgi:error", line)

    def banner(self) -> str:
        """``Apache/<version> (Ubuntu)`` from the guest's apache2 package (2.4.52 on
        jammy, 2.4.58 on noble): the Server header, SERVER_SOFTWARE, error pages."""
        return software_versions.server_banner(self.system.disk, self.system.catalogue)

    def _error_page(self, status: int, host: str, port: int, message: str) -> Response:
        return error_page(status, host, port, message, server=self.banner())

    def _readable(self, path: str) -> bool:
        return self.system.disk.can_read(path, WWW)

    def _error_log(self, level: str, msg: str, client: str = "127.0.0.1") -> None:
        now = self.system.wall_now()
        stamp = time.strftime("%a %b %d %H:%M:%S", time.gmtime(now)) + \
            f".{int((now % 1) * 1e6):06d} " + time.strftime("%Y", time.gmtime(now))
        lines = "".join(f"[{stamp}] [{level}] [pid 1234:tid 140000] [client {client}] {ln}\n"
                        for ln in msg.rstrip().splitlines())
        with self.system.lock:
            try:
                self.system.disk.write("/var/log/apache2/error.log", lines, append=True,
                                       parents=True)
            except OSError:
                pass

    def _access_log(self, client: str, method: str, target: str, status: int, size: int,
                    agent: str) -> None:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(self.system.wall_now()))
        line = f'{client} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} "-" ' \
               f'"{agent}"\n'
        with self.system.lock:
            try:
                self.system.disk.write("/var/log/apache2/access.log", line, append=True,
                                       parents=True)
            except OSError:
                pass

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes = b"",
               *, client: str = "127.0.0.1", port: int = 80) -> Response:
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            resp = self._route(method, target, headers, body, client, port)
        except Exception as exc:  # a broken app must not take the server down
            self._error_log("core:error", f"Unexpected error: {exc!r}", client)
            resp = self._error_page(500, self.system.private_ip, port, "The server encountered an "
                              "internal error or misconfiguration and was unable to complete "
                              "your request.")
        # Date: the guest's wall clock, the one its logs and `date` read.
        base = [("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                       time.gmtime(self.system.wall_now()))),
                ("Server", self.banner())]
        names = {k.lower() for k, _ in resp.headers}
        resp.headers = base + [h for h in resp.headers if h[0].lower() not in ("date", "server")]
        if "content-type" not in names:
            resp.headers.append(("Content-Type", "text/html; charset=UTF-8"))
        if method == "HEAD":
            resp.headers.append(("Content-Length", str(len(resp.body))))
            resp.body = b""
        self._access_log(client, method, target, resp.status, len(resp.body),
                         headers.get("user-agent", "-"))
        return resp

    def _route(self, method: str, target: str, headers: dict[str, str], body: bytes,
               client: str, port: int) -> Response:
        system = self.system
        disk = system.disk
        cfg = apache_server.read_config(disk)
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path or "/")
        if ".." in path.split("/"):
            return self._error_page(400, system.private_ip, port, "Your browser sent a request that"
                              " this server could not understand.")
        host = headers.get("host", system.private_ip).split(":")[0]
        if "wsgi" in cfg.modules:
            for prefix, script in cfg.wsgi:
                p = prefix.rstrip("/")
                if p == "" or path == p or path.startswith(p + "/"):
                    return self._wsgi(method, script, p, path[len(p):], parts.query, headers,
                                      body, host, port, client, cfg.document_root)
        fs_path = None
        for prefix, folder in cfg.aliases:
            p = prefix.rstrip("/")
            if path == p or path.startswith(p + "/") or (prefix.endswith("/") and
                                                         path.startswith(prefix)):
                fs_path = folder.rstrip("/") + path[len(p):]
                break
        if fs_path is None:
            fs_path = cfg.document_root.rstrip("/") + path
        node = disk.get(fs_path)
        if node is None:
            return self._error_page(404, host, port, "The requested URL was not found on this "
                              "server.")
        if node.kind == "dir":
            if not path.endswith("/"):
                loc = path + "/" + (f"?{parts.query}" if parts.query else "")
                resp = self._error_page(301, host, port, f'The document has moved <a href="{loc}">'
                                  "here</a>.")
                resp.headers.append(("Location", loc))
                return resp
            for index in cfg.directory_index:
                cand = posixpath.join(fs_path, index)
                if disk.is_file(cand):
                    fs_path = cand
                    break
            else:
                return self._listing(path, fs_path, host, port)
        if not self._readable(fs_path):
            self._error_log("core:error", f"(13)Permission denied: [client {client}] AH00132: "
                            f"file permissions deny server access: {fs_path}", client)
            return self._error_page(403, host, port, "You don't have permission to access this "
                              "resource.")
        if fs_path.endswith(".php") and "php" in cfg.modules:
            return self._php(fs_path, method, path, parts.query, headers, host, port, client,
                             cfg.document_root)
        data = disk.read(fs_path)
        ctype = mimetypes.guess_type(fs_path)[0] or "text/plain"
        if fs_path.endswith(".php"):
            ctype = "application/x-httpd-php"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=UTF-8" if ctype.startswith("text/html") else ""
        node = disk.get(fs_path)
        mtime = node.mtime if node else self.system.wall_now()
        return Response(200, [("Last-Modified", time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                              time.gmtime(mtime))),
                              ("ETag", f'"{len(data):x}-{int(mtime * 1e6):x}"'),
                              ("Accept-Ranges", "bytes"), ("Content-Type", ctype)], data)

    def _listing(self, path: str, folder: str, host: str, port: int) -> Response:
        names = self.system.disk.listdir(folder)
        rows = "".join(f'<li><a href="{urllib.parse.quote(n)}">{n}</a></li>\n' for n in names)
        server = self.banner()
        body = (f"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n"
                f"  <title>Index of {path}</title>\n </head>\n <body>\n<h1>Index of {path}</h1>"
                f"\n<ul>\n{rows}</ul>\n<address>{server} Server at {host} Port {port}</address>\n"
                "</body></html>\n").encode()
        return Response(200, [("Content-Type", "text/html;charset=UTF-8")], body)

    def _wsgi(self, method: str, script: str, script_name: str, path_info: str, query: str,
              headers: dict[str, str], body: bytes, host: str, port: int, client: str,
              docroot: str) -> Response:
        env = wsgi.environ(method, script_name, path_info, query, headers, body,
                           server_name=host, port=port, remote=client, document_root=docroot,
                           server_software=self.banner())
        internal = ("The server encountered an internal error or misconfiguration and was "
                    "unable to complete your request.")
        try:
            reply = wsgi.serve(self.system, script, env, body)
        except wsgi.WsgiAppError as exc:
            for line in exc.errors:
                self._error_log("wsgi:error", line, client)
            if exc.kind == "not-found":
                self._error_log("wsgi:error", f"mod_wsgi (pid=1234): {exc}", client)
                return self._error_page(404, host, port, "The requested URL was not found on this "
                                  "server.")
            what = str(exc) if exc.kind == "load" else (
                f"mod_wsgi (pid=1234): Exception occurred processing WSGI script '{script}'."
                f"\n{exc}")
            self._error_log("wsgi:error", what, client)
            return self._error_page(500, host, port, internal)
        except wsgi.WorkerError as exc:
            self._error_log("wsgi:error", f"mod_wsgi (pid=1234): {exc}", client)
            if exc.kind == "timeout":
                return self._error_page(504, host, port, "The gateway did not receive a timely "
                                  "response from the upstream server or application.")
            if exc.kind == "start":
                return self._error_page(503, host, port, "The server is temporarily unable to "
                                  "service your request due to maintenance downtime or "
                                  "capacity problems. Please try again later.")
            return self._error_page(500, host, port, internal)
        for line in reply.errors:
            self._error_log("wsgi:error", line, client)
        code, _, reason = reply.status.partition(" ")
        try:
            status = int(code)
        except ValueError:
            self._error_log("wsgi:error", f"mod_wsgi (pid=1234): Invalid status line "
                            f"'{reply.status[:80]}' returned by WSGI application.", client)
            return self._error_page(500, host, port, internal)
        return Response(status, reply.headers, reply.body, reason)

    def _php(self, fs_path: str, method: str, path: str, query: str, headers: dict[str, str],
             host: str, port: int, client: str, docroot: str) -> Response:
        system = self.system
        ctx = php.PhpContext(
            hostname=system.hostname, now=system.wall_now,
            version=software_versions.php_version(system.disk, system.catalogue),
            server={"SERVER_NAME": host, "SERVER_ADDR": system.private_ip,
                    "SERVER_PORT": str(port), "REMOTE_ADDR": client, "REQUEST_URI": path +
                    (f"?{query}" if query else ""), "REQUEST_METHOD": method,
                    "DOCUMENT_ROOT": docroot, "SCRIPT_FILENAME": fs_path,
                    "SERVER_SOFTWARE": self.banner(), "HTTP_HOST": headers.get("host", host)})
        try:
            out = php.render(system.disk.read_text(fs_path), ctx)
        except php.PhpError as exc:
            self._error_log("php:error", f"PHP Parse error:  {exc} in {fs_path}", client)
            return self._error_page(500, host, port, "The server encountered an internal error or "
                              "misconfiguration and was unable to complete your request.")
        hdrs = list(ctx.headers)
        if not any(k.lower() == "content-type" for k, _ in hdrs):
            hdrs.append(("Content-Type", "text/html; charset=UTF-8"))
        return Response(ctx.status, hdrs, out.encode())

