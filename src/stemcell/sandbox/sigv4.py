"""SigV4 in front of moto: the sandbox answers only requests signed with its own key.

moto accepts any credentials; AWS accepts only a request whose Signature
Version 4 it can recompute with the secret of the access key it names. This
filter (the front door's first) does the same with the sandbox's one key, for
every service moto serves:

- header-signed requests (``Authorization: AWS4-HMAC-SHA256 Credential=...,
  SignedHeaders=..., Signature=...``) and presigned URLs (``X-Amz-Signature``
  and friends in the query);
- the canonical request is rebuilt from what arrived (method, the path as sent,
  the query, the signed headers, the payload hash) as AWS's "Create a signed
  AWS API request" describes, the signature recomputed with the secret and
  compared in constant time (``hmac.compare_digest``);
- S3's ``x-amz-content-sha256`` (a hash, ``UNSIGNED-PAYLOAD`` or a streaming
  marker) is what S3 signs; a hash that does not match the body is refused
  (S3's ``XAmzContentSHA256Mismatch``). Other services sign the body's hash.
- A header-signed request more than 15 minutes from the sandbox's wall clock
  is refused (``RequestExpired`` / ``RequestTimeTooSkewed``); a presigned URL
  past ``X-Amz-Date + X-Amz-Expires`` (at most 7 days) is refused
  (S3: ``AccessDenied``, "Request has expired"). Signing times are the
  client's wall clock, so these windows are wall seconds, not modeled ones.

Refusals use each service's own codes and statuses (sources: the EC2 API
Reference "Error codes" page, the common errors of the query APIs, and the S3
API Reference "Error responses" list):

============ =================== ======================== ======================
service      unsigned            unknown access key       wrong signature
============ =================== ======================== ======================
EC2          401 AuthFailure     401 AuthFailure          401 AuthFailure
S3           403 AccessDenied    403 InvalidAccessKeyId   403 SignatureDoesNotMatch
others       403 MissingAuth...  403 InvalidClientTokenId 403 SignatureDoesNotMatch
============ =================== ======================== ======================

Not verified: the per-chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``
uploads (the seed signature over the headers is); no SDK sends them over the
plain HTTP the sandbox speaks.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
import time
from calendar import timegm
from collections.abc import Callable, Mapping
from urllib.parse import quote, unquote

from stemcell.sandbox.credentials import SandboxCredentials
from stemcell.sandbox.front_door import ApiRequest, Refusal

ALGORITHM = "AWS4-HMAC-SHA256"
SKEW = 15 * 60  # seconds either side of the server's clock (SigV4 docs: 15 minutes)
MAX_EXPIRES = 7 * 24 * 3600  # presigned URLs live at most a week (S3 docs)
UNSIGNED = "UNSIGNED-PAYLOAD"
_STREAMING = ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
              "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_AUTH_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_SPACES = re.compile(r"\s+")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class _Denied(Exception):
    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(kind)
        # unsigned | unknown-key | signature | expired | skewed | malformed | v2 | token |
        # content-sha256
        self.kind = kind
        self.message = message


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(secret: str, amz_date: str, scope: str, canonical_request: str) -> str:
    """The hex signature of ``canonical_request`` under ``scope`` (date/region/service/...)."""
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    date, region, service, _ = scope.split("/")
    return hmac.new(signing_key(secret, date, region, service), string_to_sign.encode(),
                    hashlib.sha256).hexdigest()


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(raw_query: str, drop: str = "") -> str:
    """Each name and value decoded, re-encoded RFC 3986 style, sorted (SigV4 step 1)."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name, value = unquote(name), unquote(value)
        if name == drop:
            continue
        pairs.append((_uri_encode(name), _uri_encode(value)))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_path(raw_path: str, service: str) -> str:
    """S3 signs the path as sent; every other service a normalized, twice-encoded one."""
    path = raw_path or "/"
    if service == "s3":
        return path
    normalized = posixpath.normpath(path) if path != "/" else "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_request(method: str, raw_path: str, query: str, headers: Mapping[str, str],
                      signed_headers: list[str], payload_hash: str, service: str) -> str:
    lines = [method, canonical_path(raw_path, service), query]
    lines += [f"{name}:{_SPACES.sub(' ', headers.get(name, '').strip())}"
              for name in signed_headers]
    return "\n".join([*lines, "", ";".join(signed_headers), payload_hash])


class SigV4Verifier:
    """The front-door filter: ``(ApiRequest) -> Refusal | None`` for one sandbox's key."""

    def __init__(self, credentials: SandboxCredentials,
                 now: Callable[[], float] = time.time) -> None:
        self._credentials = credentials
        self._now = now

    def __call__(self, request: ApiRequest) -> Refusal | None:
        try:
            self.verify(request)
        except _Denied as denied:
            return _refusal(request, denied)
        return None

    def verify(self, request: ApiRequest) -> None:
        query = _query_params(request.query)
        if "x-amz-security-token" in request.headers or "X-Amz-Security-Token" in query:
            # The sandbox's key is a long-term one: a session token with it is
            # someone else's (AWS: InvalidClientTokenId), and never ours to accept.
            raise _Denied("token")
        if request.headers.get("authorization", "").startswith(ALGORITHM):
            self._verify_header(request)
        elif "X-Amz-Signature" in query:
            self._verify_presigned(request, query)
        elif "authorization" in request.headers or "Signature" in query:
            # SigV2 (header or presigned) and anything else: retired by AWS for
            # new S3 buckets and never accepted in newer regions.
            raise _Denied("v2", "The authorization mechanism you have provided is not "
                                "supported. Please use AWS4-HMAC-SHA256.")
        else:
            raise _Denied("unsigned")

    # -- header-signed ------------------------------------------------------------------
    def _verify_header(self, request: ApiRequest) -> None:
        parts = dict(_AUTH_PART.findall(request.headers["authorization"]))
        credential, signed, signature = (parts.get(k, "") for k in
                                         ("Credential", "SignedHeaders", "Signature"))
        if not (credential and signed and signature):
            raise _Denied("malformed", "Authorization header requires Credential, "
                                       "SignedHeaders and Signature")
        key, scope = self._scope(credential)
        signed_headers = signed.split(";")
        if "host" not in signed_headers:
            raise _Denied("signature", "the host header must be signed")
        amz_date = request.headers.get("x-amz-date", "")
        signed_at = _parse_amz_date(amz_date)
        if signed_at is None:
            raise _Denied("malformed", "X-Amz-Date is missing or malformed")
        if amz_date[:8] != scope.split("/")[0]:
            raise _Denied("signature", "the credential scope's date is not X-Amz-Date's")
        if abs(self._now() - signed_at) > SKEW:
            raise _Denied("skewed")
        payload = self._payload_hash(request)
        canonical = canonical_request(request.method, _raw_path(request),
                                      canonical_query(request.query), request.headers,
                                      signed_headers, payload, _scope_service(scope))
        self._compare(key, amz_date, scope, canonical, signature)

    # -- presigned URLs -----------------------------------------------------------------
    def _verify_presigned(self, request: ApiRequest, query: Mapping[str, list[str]]) -> None:
        def one(name: str) -> str:
            values = query.get(name) or [""]
            return values[0]

        if one("X-Amz-Algorithm") != ALGORITHM:
            raise _Denied("malformed", "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'")
        key, scope = self._scope(one("X-Amz-Credential"))
        amz_date = one("X-Amz-Date")
        signed_at = _parse_amz_date(amz_date)
        try:
            expires = int(one("X-Amz-Expires"))
        except ValueError:
            raise _Denied("malformed", "X-Amz-Expires must be a number of seconds") from None
        if signed_at is None or amz_date[:8] != scope.split("/")[0]:
            raise _Denied("malformed", "X-Amz-Date is missing or malformed")
        if not 0 < expires <= MAX_EXPIRES:
            raise _Denied("malformed", "X-Amz-Expires must be between 1 and 604800 seconds")
        now = self._now()
        if signed_at - now > SKEW:
            raise _Denied("expired", "Request is not yet valid")
        if now > signed_at + expires:
            raise _Denied("expired", "Request has expired")
        signed_headers = one("X-Amz-SignedHeaders").split(";")
        if "host" not in signed_headers:
            raise _Denied("signature", "the host header must be signed")
        # S3 presigns UNSIGNED-PAYLOAD (the URL is made before any body exists);
        # botocore's other presigners hash the (empty) body.
        payload = request.headers.get("x-amz-content-sha256", UNSIGNED) \
            if request.service == "s3" else self._payload_hash(request)
        canonical = canonical_request(request.method, _raw_path(request),
                                      canonical_query(request.query, drop="X-Amz-Signature"),
                                      request.headers, signed_headers, payload,
                                      _scope_service(scope))
        self._compare(key, amz_date, scope, canonical, one("X-Amz-Signature"))

    # -- shared -------------------------------------------------------------------------
    def _scope(self, credential: str) -> tuple[str, str]:
        key, _, scope = credential.partition("/")
        pieces = scope.split("/")
        if len(pieces) != 4 or pieces[3] != "aws4_request" or not all(pieces):
            raise _Denied("malformed", "Credential must be KEY/date/region/service/aws4_request")
        if not hmac.compare_digest(key.encode(), self._credentials.access_key_id.encode()):
            raise _Denied("unknown-key")
        return key, scope

    def _payload_hash(self, request: ApiRequest) -> str:
        claimed = request.headers.get("x-amz-content-sha256", "")
        actual = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
        if request.service == "s3" and claimed and (claimed == UNSIGNED
                                                     or claimed in _STREAMING):
            return claimed
        if claimed and _HEX64.match(claimed) and not hmac.compare_digest(claimed, actual):
            raise _Denied("content-sha256")
        return actual

    def _compare(self, key: str, amz_date: str, scope: str, canonical: str,
                 given: str) -> None:
        expected = sign(self._credentials.secret_access_key, amz_date, scope, canonical)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise _Denied("signature")


def _query_params(raw: str) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for item in raw.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        params.setdefault(unquote(name), []).append(unquote(value))
    return params


def _raw_path(request: ApiRequest) -> str:
    # The path exactly as the client sent it (werkzeug keeps it in RAW_URI);
    # PATH_INFO is already percent-decoded and would not match what was signed.
    raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")
    if raw.startswith(("http://", "https://")):  # an absolute-form request line
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    path = raw.split("?", 1)[0]
    return path or quote(request.path, safe="/~!$&'()*+,;=:@%")


def _scope_service(scope: str) -> str:
    return scope.split("/")[2]


def _parse_amz_date(value: str) -> float | None:
    if not re.fullmatch(r"\d{8}T\d{6}Z", value or ""):
        return None
    try:
        parsed = time.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    return float(timegm(parsed))


_S3 = {"unsigned": (403, "AccessDenied", "Access Denied"),
       "unknown-key": (403, "InvalidAccessKeyId",
                       "The AWS Access Key Id you provided does not exist in our records."),
       "signature": (403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your key and signing method."),
       "expired": (403, "AccessDenied", "Request has expired"),
       "skewed": (403, "RequestTimeTooSkewed",
                  "The difference between the request time and the current time is too "
                  "large."),
       "malformed": (400, "AuthorizationQueryParametersError", ""),
       "v2": (400, "InvalidRequest", ""),
       "token": (400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
       "content-sha256": (400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what "
                          "was computed.")}
_EC2 = {"unsigned": (401, "AuthFailure",
                     "AWS was not able to validate the provided access credentials"),
        "unknown-key": (401, "AuthFailure",
                        "AWS was not able to validate the provided access credentials"),
        "signature": (401, "AuthFailure",
                      "AWS was not able to validate the provided access credentials"),
        "expired": (400, "RequestExpired", "Request has expired."),
        "skewed": (400, "RequestExpired", "Request has expired."),
        "malformed": (400, "IncompleteSignature", ""),
        "v2": (401, "AuthFailure", ""),
        "token": (401, "AuthFailure",
                  "AWS was not able to validate the provided access credentials"),
        "content-sha256": (401, "AuthFailure",
                           "AWS was not able to validate the provided access credentials")}
_QUERY = {"unsigned": (403, "MissingAuthenticationToken",
                       "Request is missing Authentication Token"),
          "unknown-key": (403, "InvalidClientTokenId",
                          "The security token included in the request is invalid."),
          "signature": (403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature "
                        "you provided. Check your AWS Secret Access Key and signing method."),
          "expired": (403, "SignatureDoesNotMatch", "Signature expired"),
          "skewed": (403, "SignatureDoesNotMatch", "Signature expired"),
          "malformed": (400, "IncompleteSignature", ""),
          "v2": (400, "IncompleteSignature", ""),
          "token": (403, "InvalidClientTokenId",
                    "The security token included in the request is invalid."),
          "content-sha256": (403, "SignatureDoesNotMatch",
                             "The request signature we calculated does not match the "
                             "signature you provided.")}


def _refusal(request: ApiRequest, denied: _Denied) -> Refusal:
    table = _S3 if request.service == "s3" else _EC2 if request.service == "ec2" else _QUERY
    status, code, message = table[denied.kind]
    return Refusal(status, code, denied.message or message)
