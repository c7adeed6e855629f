"""Another local user plants or reads the sandbox's info file: readers refuse it.

The info file holds the sandbox's access key, secret and control token. It is
written 0600 in a 0700 folder; a reader refuses a file that others could have
read (its secrets may be known) or that is not the user's own (planted).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from stemcell.cli.cmd_sandbox import sandbox as sandbox_cli
from stemcell.sandbox.credentials import SandboxCredentials
from stemcell.sandbox.info import SandboxInfo, UnsafeInfoFile, info_path, read_info, write_info


def _info() -> SandboxInfo:
    return SandboxInfo(pid=os.getpid(), endpoint_url="http://127.0.0.1:1",
                       control_url="http://127.0.0.1:1", speed=6.0, account_id="712345678901",
                       started_at=0.0, credentials=SandboxCredentials.generate())


def test_written_private_and_read_back_with_its_credentials() -> None:
    info = _info()
    write_info(info)
    assert stat.S_IMODE(info_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(info_path().parent.stat().st_mode) == 0o700
    back = read_info()
    assert back is not None and back.credentials == info.credentials
    # What `sandbox start/status --json` show never holds the secrets.
    shown = str(back.to_json())
    assert info.credentials is not None
    for secret in (info.credentials.secret_access_key, info.credentials.control_token):
        assert secret not in shown and secret not in repr(back)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_file_others_can_read_is_refused(mode: int) -> None:
    write_info(_info())
    os.chmod(info_path(), mode)
    with pytest.raises(UnsafeInfoFile, match="readable by others"):
        read_info()
    result = CliRunner().invoke(sandbox_cli, ["env"])
    assert result.exit_code == 2 and "readable by others" in result.output
    assert "SECRET" not in result.output


def test_a_file_in_a_folder_others_can_write_is_refused() -> None:
    write_info(_info())
    os.chmod(info_path().parent, 0o777)
    try:
        with pytest.raises(UnsafeInfoFile, match="not yours alone"):
            read_info()
    finally:
        os.chmod(info_path().parent, 0o700)


def test_a_symlink_planted_in_its_place_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text("{}")
    os.chmod(elsewhere, 0o600)
    info_path().symlink_to(elsewhere)
    with pytest.raises(UnsafeInfoFile, match="not a file of yours"):
        read_info()


def test_a_file_owned_by_another_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    write_info(_info())
    # We cannot chown without root; look through the eyes of another uid instead.
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 4242)
    with pytest.raises(UnsafeInfoFile, match="not a file of yours"):
        read_info()


def test_env_without_a_background_sandbox_exits_2() -> None:
    result = CliRunner().invoke(sandbox_cli, ["env"])
    assert result.exit_code == 2
    assert "no background sandbox is running" in result.output
    assert "export" not in result.output
