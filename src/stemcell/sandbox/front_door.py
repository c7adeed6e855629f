"""The sandbox's front door: every API request passes here before moto sees it.

AWS refuses, throttles and forgets in front of its services; moto never does.
The front door is where the sandbox does the same, through a chain of small
filters that each look at one parsed request (``ApiRequest``) and either let it
pass (``None``) or refuse it (``Refusal``), rendered in the service's own error
format so botocore parses it exactly as it would a real AWS answer. Observers
see each request with moto's answer afterwards (to learn a new resource's id,
for instance). Order matters and is the caller's: authentication first, then
faults and AWS realism.

It also stamps every request with the sandbox's account id, which is how the
lifecycle hooks tell the sandbox's requests from another moto user's.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from stemcell.engine.clock import Clock, WallClock

ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"
MAX_BODY = 64 * 1024 * 1024  # larger than any bundle the lab uploads

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class ApiRequest:
    """One API request as the filters see it."""

    service: str  # from the SigV4 scope: "ec2", "s3", "elasticloadbalancing", "sts", ...
    region: str
    operation: str  # query protocol's Action; for S3 a REST guess ("GetObject", "PutObject", ...)
    params: Mapping[str, list[str]]  # query string and form body, merged
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    access_key_id: str  # "" when the request is not signed
    environ: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def param(self, name: str, default: str = "") -> str:
        values = self.params.get(name)
        return values[0] if values else default

    def params_like(self, prefix: str) -> list[str]:
        """Every value of ``Prefix.1``, ``Prefix.2``, ... (the query protocol's lists), in order."""
        numbered = []
        for key, values in self.params.items():
            head, _, n = key.rpartition(".")
            if head == prefix and n.isdigit() and values:
                numbered.append((int(n), values[0]))
        return [value for _, value in sorted(numbered)]


@dataclass(frozen=True)
class Refusal:
    """An AWS-style error answer."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


RequestFilter = Callable[[ApiRequest], "Refusal | None"]
ResponseObserver = Callable[[ApiRequest, int, bytes], None]


class FrontDoor:
    """A WSGI app: parse, filter, stamp, forward to moto, observe."""

    def __init__(self, account_id: str, inner: WsgiApp | None = None) -> None:
        self.account_id = account_id
        self.inner: WsgiApp | None = inner  # moto's app, set when the server starts
        self.filters: list[RequestFilter] = []
        self.observers: list[ResponseObserver] = []
        self.clock: Clock = WallClock()  # the sandbox's ModelClock, set by the runtime
        self._lock = threading.Lock()

    def add_filter(self, fn: RequestFilter) -> None:
        with self._lock:
            self.filters = [*self.filters, fn]

    def add_observer(self, fn: ResponseObserver) -> None:
        with self._lock:
            self.observers = [*self.observers, fn]

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.inner is not None, "the front door opens once moto's app is set"
        with self.clock.busy():  # answering is host work, whoever asked
            return self._answer(environ, start_response)

    def _answer(self, environ: dict[str, Any],
                start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.inner is not None
        body = _read_body(environ)
        request = parse_request(environ, body)
        for check in self.filters:
            refusal = check(request)
            if refusal is not None:
                status, headers, payload = render_refusal(request, refusal)
                start_response(status, headers)
                return [payload]
        environ[ACCOUNT_HEADER] = self.account_id
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        observers = self.observers
        if not observers:
            return self.inner(environ, start_response)
        seen: dict[str, int] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else \
                start_response(status, headers)

        chunks = list(self.inner(environ, capture))
        answer = b"".join(chunks)
        for observe in observers:
            observe(request, seen.get("status", 0), answer)
        return [answer]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return bytes(environ["wsgi.input"].read(min(length, MAX_BODY)))


def parse_request(environ: Mapping[str, Any], body: bytes) -> ApiRequest:
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items()
               if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    query = str(environ.get("QUERY_STRING", ""))
    params: dict[str, list[str]] = {k: list(v) for k, v in
                                    parse_qs(query, keep_blank_values=True).items()}
    if "x-www-form-urlencoded" in headers.get("content-type", "") and body:
        for key, values in parse_qs(body.decode("utf-8", "replace"),
                                    keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
    access_key, region, service = "", "", ""
    match = _SCOPE.search(headers.get("authorization", ""))
    if match:
        access_key, _, region, service = match.groups()
    elif "X-Amz-Credential" in params:  # a presigned URL
        parts = params["X-Amz-Credential"][0].split("/")
        if len(parts) == 5:
            access_key, _, region, service, _ = parts
    method = str(environ.get("REQUEST_METHOD", "GET"))
    path = str(environ.get("PATH_INFO", "/"))
    operation = params.get("Action", [""])[0]
    if not service:  # unsigned: still answer in the format of the service it was meant for
        service = _guess_service(operation, params)
    if not operation and service == "s3":
        operation = _s3_operation(method, path, params)
    return ApiRequest(service=service, region=region, operation=operation, params=params,
                      method=method, path=path, query=query, headers=headers, body=body,
                      access_key_id=access_key, environ=environ)


def _guess_service(operation: str, params: Mapping[str, list[str]]) -> str:
    if not operation:
        return "s3"  # moto serves S3 at any path that is not another service's
    version = params.get("Version", [""])[0]
    return "ec2" if version == "2016-11-15" else ""


def _s3_operation(method: str, path: str, params: Mapping[str, list[str]]) -> str:
    key = "/" in path.strip("/")
    if not path.strip("/"):
        return "ListBuckets"
    names = {("GET", True): "GetObject", ("PUT", True): "PutObject",
             ("HEAD", True): "HeadObject", ("DELETE", True): "DeleteObject",
             ("GET", False): "ListObjects", ("PUT", False): "CreateBucket",
             ("HEAD", False): "HeadBucket", ("DELETE", False): "DeleteBucket",
             ("POST", False): "DeleteObjects" if "delete" in params else "PostBucket"}
    if not key and "tagging" in params:
        return {"PUT": "PutBucketTagging", "GET": "GetBucketTagging"}.get(method, "BucketTagging")
    if not key and "versions" in params:
        return "ListObjectVersions"
    return names.get((method, key), method.title())


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable"}


def render_refusal(request: ApiRequest, refusal: Refusal) -> tuple[str, list[tuple[str, str]],
                                                                   bytes]:
    """The refusal in the wire format of the request's service (what botocore parses)."""
    code, message = escape(refusal.code), escape(refusal.message)
    if request.service == "ec2":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>sandbox-front-door</RequestID></Response>")
    elif request.service == "s3":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
                f"<Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>sandbox-front-door</RequestId></Error>")
    else:  # query-protocol services: ELBv2, STS, IAM, ...
        body = ("<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>sandbox-front-door</RequestId></ErrorResponse>")
    payload = body.encode()
    status = f"{refusal.status} {_REASONS.get(refusal.status, 'Error')}"
    headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(payload))),
               *refusal.headers.items()]
    return status, headers, payload
