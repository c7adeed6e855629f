"""The one builder of the ssh command a person types (app, sandbox status, hands-on)."""

from __future__ import annotations

import shlex
from pathlib import Path

from stemcell.content.models import Lab, Profile
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.state import RunState, StateStore
from stemcell.handson.task_base import ssh_words
from stemcell.remote.dialer import Target
from stemcell.remote.ssh_command import ssh_command


def test_pinned_login_names_the_key_the_known_hosts_and_the_alias() -> None:
    words = shlex.split(ssh_command("203.0.113.7", 22, "/runs/r 1/ssh/id_ed25519",
                                    "/runs/r 1/ssh/known_hosts", host_key_alias="i-0abc"))
    assert words == ["ssh", "-i", "/runs/r 1/ssh/id_ed25519",
                     "-o", "UserKnownHostsFile=/runs/r 1/ssh/known_hosts",
                     "-o", "HostKeyAlias=i-0abc", "ubuntu@203.0.113.7"]


def test_accept_new_offers_only_the_key_and_never_prompts() -> None:
    words = shlex.split(ssh_command("127.0.0.1", 2201, "k", "kh", accept_new=True))
    assert words[:3] == ["ssh", "-p", "2201"]
    options = [words[i + 1] for i, w in enumerate(words) if w == "-o"]
    assert options == ["IdentitiesOnly=yes", "BatchMode=yes",
                       "StrictHostKeyChecking=accept-new", "UserKnownHostsFile=kh"]
    assert words[-1] == "ubuntu@127.0.0.1"


class Loopback:
    def ssh_address(self, target: Target) -> tuple[str, int]:
        return ("127.0.0.1", 2222) if target.instance_id == "i-1" else ("", 0)

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        return ("127.0.0.1", 8080)


def test_hands_on_words_use_the_runs_key_and_its_ssh_known_hosts(tmp_path: Path) -> None:
    ctx = Context(run_id="r1", run_dir=tmp_path, config=RunConfig(),
                  lab=Lab(id="lab", title="Lab", steps=[]),
                  profile=Profile.model_construct(id="p"), profile_dir=tmp_path,
                  store=StateStore(tmp_path / "state.json", RunState(run_id="r1")),
                  dialer=Loopback())
    words = shlex.split(ssh_words(ctx, "i-1", "198.51.100.4"))
    assert words[:5] == ["ssh", "-p", "2222", "-i", str(tmp_path / "ssh" / "id_ed25519")]
    assert f"UserKnownHostsFile={tmp_path / 'ssh' / 'known_hosts'}" in words
    assert "StrictHostKeyChecking=accept-new" in words
    assert words[-1] == "ubuntu@127.0.0.1"
