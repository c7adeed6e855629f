"""Another local user calls the sandbox's control API: every route wants the token."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pytest

from stemcell.sandbox.loopback_dialer import SandboxDialer, fetch_json
from stemcell.sandbox.runtime import Sandbox

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ROUTES = [("GET", "/health"), ("GET", "/clock"), ("POST", "/clock"), ("GET", "/guests"),
          ("POST", "/shutdown"),
          ("GET", "/nope"), ("POST", "/nope"), ("PUT", "/guests"), ("DELETE", "/health")]


def _call(sb: Sandbox, method: str, path: str, authorization: str | None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    request = urllib.request.Request(sb.control_url + path, method=method, headers=headers,
                                     data=b"" if method in ("POST", "PUT") else None)
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_token_is_401_on_every_route(sandbox: Sandbox, method: str, path: str) -> None:
    status, body = _call(sandbox, method, path, None)
    assert status == 401
    assert sandbox.account_id not in body
    assert _call(sandbox, method, path, "Basic dXNlcjpwYXNz")[0] == 401
    assert _call(sandbox, method, path, "Bearer ")[0] == 401


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_wrong_token_is_403_on_every_route(sandbox: Sandbox, method: str, path: str) -> None:
    token = sandbox.credentials.control_token
    for wrong in (secrets.token_urlsafe(32), token[:-1], token + "x", token.upper()):
        if wrong == token:
            continue
        status, body = _call(sandbox, method, path, f"Bearer {wrong}")
        assert status == 403, wrong
        assert sandbox.account_id not in body


def test_the_right_token_answers_and_shutdown_stays_the_starters(sandbox: Sandbox) -> None:
    token = sandbox.credentials.control_token
    health = fetch_json(sandbox.control_url + "/health", token)
    assert health["ok"] and health["account_id"] == sandbox.account_id
    assert json.dumps(health).find(sandbox.credentials.secret_access_key) == -1
    assert SandboxDialer(sandbox.control_url, token).refresh() == {}
    # An in-process sandbox belongs to its process: even with the token, no remote shutdown.
    assert _call(sandbox, "POST", "/shutdown", f"Bearer {token}")[0] == 403
    assert _call(sandbox, "GET", "/nope", f"Bearer {token}")[0] == 404


def test_the_dialer_without_the_token_learns_nothing(sandbox: Sandbox) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        SandboxDialer(sandbox.control_url, "not-the-token").refresh()
    assert caught.value.code == 403


def _post_clock(sb: Sandbox, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        sb.control_url + "/clock", method="POST", data=body,
        headers={"Authorization": f"Bearer {sb.credentials.control_token}"})
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_clock_refuses_what_it_cannot_use_and_never_blocks_long(sandbox: Sandbox) -> None:
    """Even the token's holder cannot stop the clock for a process that is not there,
    nor tie up a control thread: bad bodies are 400, a sleep answers within 0.25 s."""
    import time

    for body in (b"not json", b"[]", b'{"op": "nope"}', b'{"op": "hold"}',
                 b'{"op": "hold", "pid": 0}', b'{"op": "hold", "pid": -1}',
                 b'{"op": "cap", "pid": 1}', b'{"op": "sleep", "until": "soon"}'):
        status, _ = _post_clock(sandbox, body)
        assert status == 400, body
    assert sandbox.clock.busy_count == 0
    far = sandbox.clock.now() + 1e9
    started = time.monotonic()
    status, _ = _post_clock(sandbox, json.dumps({"op": "sleep", "until": far,
                                                 "wall": 3600}).encode())
    assert status == 200 and time.monotonic() - started < 2.0
