from __future__ import annotations

from typing import Any

import pytest

from stemcell.remote.dialer import Target
from stemcell.sandbox import loopback_dialer as dialer_mod
from stemcell.sandbox.loopback_dialer import SandboxDialer, UnknownGuest

GUESTS = {
    "i-aaa": {"public_ip": "54.1.2.3", "private_ip": "172.31.0.4",
              "ssh": ["127.0.0.1", 4022], "http": ["127.0.0.1", 4080]},
    "i-bbb": {"public_ip": "", "private_ip": "172.31.0.5",
              "ssh": ["127.0.0.1", 5022], "http": ["127.0.0.1", 5080]},
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def fake_fetch(url: str, token: str, timeout: float = 5.0, method: str = "GET") -> Any:
        assert token == "token"
        seen.append(url)
        return GUESTS

    monkeypatch.setattr(dialer_mod, "fetch_json", fake_fetch)
    return seen


def test_maps_by_id_public_and_private_address(calls: list[str]) -> None:
    d = SandboxDialer("http://127.0.0.1:9/", "token")
    assert d.ssh_address(Target(instance_id="i-aaa")) == ("127.0.0.1", 4022)
    assert d.ssh_address(Target(public_ip="54.1.2.3")) == ("127.0.0.1", 4022)
    assert d.http_address(Target(private_ip="172.31.0.5")) == ("127.0.0.1", 5080)
    assert calls == ["http://127.0.0.1:9/guests"]  # one look, then the cache


def test_unknown_address_refreshes_once_then_fails_clearly(calls: list[str]) -> None:
    d = SandboxDialer("http://127.0.0.1:9", "token")
    with pytest.raises(UnknownGuest) as err:
        d.ssh_address(Target(instance_id="i-gone", public_ip="54.9.9.9"))
    assert "i-gone" in str(err.value) and "sandbox status" in err.value.hint
    assert len(calls) == 1  # empty cache: one refresh, then the error
    with pytest.raises(UnknownGuest):
        d.ssh_address(Target(public_ip="54.9.9.9"))
    assert len(calls) == 2  # each miss looks again: the guest may have been launched since


def test_instance_id_wins_over_a_reused_address(calls: list[str]) -> None:
    d = SandboxDialer("http://127.0.0.1:9", "token")
    with pytest.raises(UnknownGuest):
        d.ssh_address(Target(instance_id="i-new", public_ip="54.1.2.3"))
