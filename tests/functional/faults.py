"""Fault injection through botocore's event hooks (no patching of our code).

``before-send`` faults sit below botocore's retry handler, so they exercise its
retries exactly as a real throttled response would. ``before-call`` faults
short-circuit one logical call (no retry), like errors AWS does not retry.
``after-call`` edits a parsed reply (an image that turns ``failed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body


def ec2_error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}'
            f"</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>fault-injected</RequestID></Response>").encode()


def send_failures(client: Any, operation: str, code: str, times: int,
                  status: int = 503) -> dict[str, int]:
    """The next ``times`` HTTP attempts of ``operation`` get ``code``; counts attempts."""
    seen = {"attempts": 0, "failed": 0}

    def handler(request: Any = None, **kwargs: Any) -> AWSResponse | None:
        seen["attempts"] += 1
        if seen["failed"] >= times:
            return None
        seen["failed"] += 1
        # botocore calls every before-send handler; moto's in-process stubber would
        # still act on this request unless it no longer looks like an AWS URL.
        url, request.url = request.url, "https://fault.invalid/"
        return AWSResponse(url, status, {}, _Raw(ec2_error_xml(code, "injected")))

    client.meta.events.register_first(f"before-send.ec2.{operation}", handler)
    return seen


def call_failures(client: Any, operation: str, code: str, times: int,
                  message: str = "injected") -> dict[str, int]:
    """The next ``times`` calls of ``operation`` fail with ``code`` (not retried)."""
    seen = {"calls": 0, "failed": 0}
    service = client.meta.service_model.service_id.hyphenize()

    def handler(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen["calls"] += 1
        if seen["failed"] >= times:
            return None
        seen["failed"] += 1
        http = AWSResponse("https://fault.invalid/", 400, {}, _Raw(b""))
        return http, {"Error": {"Code": code, "Message": message},
                      "ResponseMetadata": {"HTTPStatusCode": 400}}

    client.meta.events.register_first(f"before-call.{service}.{operation}", handler)
    return seen


def edit_reply(client: Any, operation: str, edit: Callable[[dict[str, Any]], None]) -> None:
    service = client.meta.service_model.service_id.hyphenize()

    def handler(parsed: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if parsed is not None and "Error" not in parsed:
            edit(parsed)

    client.meta.events.register(f"after-call.{service}.{operation}", handler)
