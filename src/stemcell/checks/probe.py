"""The only way a check looks at the world, so everything it did is recorded.

A check asks the ``Probe`` to run a command over SSH, fetch a page from the
checker's machine, or read a cloud fact; the probe records each question and
its answer verbatim as an ``Exchange`` that ends up in the report.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stemcell.checks.cloudfacts import CloudFacts
from stemcell.checks.model import Exchange
from stemcell.checks.ssh_remote import CommandResult, CommandTimeout, Remote
from stemcell.checks.targets import HostSpec
from stemcell.remote.watchdog import Watchdog


class NotApplicable(Exception):
    """The check cannot be judged here (no AMI given, no credentials): skip it."""


class CheckError(Exception):
    """The check could not finish (a command timed out)."""


@dataclass
class HostContext:
    spec: HostSpec
    remote: Remote | None
    http: Callable[[int], tuple[str, int]] | None
    cloud: CloudFacts | None = None
    course_account: str | None = None
    deadline: float = field(default_factory=lambda: time.monotonic() + 60)
    command_timeout: float = 15.0
    watchdog: Watchdog | None = None  # closes HTTP connections too when time is up

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no HTTP answer at all
    body: str
    error: str = ""


class Probe:
    def __init__(self, host: HostContext) -> None:
        self.host = host
        self.exchanges: list[Exchange] = []

    def sh(self, command: str) -> CommandResult:
        if self.host.remote is None:
            raise NotApplicable("no SSH connection to this host")
        timeout = min(self.host.command_timeout, self.host.remaining())
        if timeout <= 0:
            raise CheckError("the host's deadline passed before this check ran")
        try:
            result = self.host.remote.run(command, timeout)
        except CommandTimeout as exc:
            self.exchanges.append(Exchange(command, None, "", f"(no answer: {exc})"))
            raise CheckError(f"`{command}` did not finish: {exc}") from exc
        self.exchanges.append(Exchange(command, result.exit_status, _kept(result.stdout),
                                       _kept(result.stderr)))
        return result

    def get(self, path: str, port: int = 80) -> HttpAnswer:
        """GET ``path`` from the checker's machine, as a visitor's browser would."""
        if self.host.http is None:
            raise NotApplicable("no HTTP route to this host")
        address = self.host.http(port)
        shown = f"GET http://{self.host.spec.host}{'' if port == 80 else f':{port}'}{path}"
        timeout = max(0.5, min(self.host.command_timeout, self.host.remaining()))
        conn = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
        try:
            if self.host.watchdog is not None:
                # A server that drips one byte per timeout would otherwise stretch a
                # read of 1 MB far past the host's deadline.
                conn.connect()
                self.host.watchdog.watch(conn)
            conn.request(
                "GET", path, headers={"Host": self.host.spec.host, "User-Agent": "stemcell-check"}
            )
            response = conn.getresponse()
            body = response.read(1_000_000).decode("utf-8", "replace")
            answer = HttpAnswer(response.status, body)
            self.exchanges.append(
                Exchange(
                    shown,
                    None,
                    _kept(f"HTTP {response.status} {response.reason}\n{body}"),
                    where="checker",
                )
            )
            return answer
        except (OSError, http.client.HTTPException) as exc:
            error = _describe(exc)
            self.exchanges.append(Exchange(shown, None, "", error, where="checker"))
            return HttpAnswer(None, "", error)
        finally:
            conn.close()

    def api(self, call: str, fn: Callable[[CloudFacts], Any]) -> Any:
        """Ask the EC2 API (read-only) through ``fn``; record ``call`` and the answer."""
        if self.host.cloud is None:
            raise NotApplicable("no AWS credentials given (pass --aws-profile/--region)")
        try:
            answer = fn(self.host.cloud)
        except Exception as exc:  # botocore errors: record and judge as no answer
            self.exchanges.append(Exchange(call, None, "", str(exc), where="cloud"))
            raise CheckError(f"{call} failed: {exc}") from exc
        self.exchanges.append(
            Exchange(call, None, json.dumps(answer, default=str, indent=1), where="cloud")
        )
        return answer


# A check judges the whole answer (up to the SSH client's 1 MB per command), but the
# report keeps only this much of it: a roster of 20 flooding servers must not hold
# 20 x checks x 1 MB until the report is written.
# The head and the tail are kept (the tail often says why, or that it was cut).
KEPT = 64 * 1024
TAIL = 2 * 1024


def _kept(text: str) -> str:
    if len(text) <= KEPT:
        return text
    dropped = len(text) - KEPT
    return (f"{text[:KEPT - TAIL]}\n[stemcell: {dropped} characters not kept]\n"
            f"{text[-TAIL:]}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
