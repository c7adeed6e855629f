from __future__ import annotations

import os
from pathlib import Path

from stemcell.sandbox.info import (
    SandboxInfo,
    alive,
    info_path,
    pid_alive,
    read_info,
    remove_info,
    write_info,
)


def _info(pid: int) -> SandboxInfo:
    return SandboxInfo(pid=pid, endpoint_url="http://127.0.0.1:1", control_url="http://127.0.0.1:1",
                       speed=40.0, account_id="700000000001", started_at=1.0)


def test_round_trip_in_stemcell_home(_isolated: Path) -> None:
    write_info(_info(os.getpid()))
    assert info_path().parent == _isolated
    assert info_path().stat().st_mode & 0o777 == 0o600
    assert read_info() == _info(os.getpid())
    remove_info(pid=12345)  # someone else's file: kept
    assert read_info() is not None
    remove_info(pid=os.getpid())
    assert read_info() is None


def test_garbage_file_reads_as_none() -> None:
    info_path().write_text("{not json")
    info_path().chmod(0o600)
    assert read_info() is None


def test_pid_checks_never_address_process_groups() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1)


def test_a_live_pid_without_a_control_api_is_not_alive() -> None:
    assert not alive(_info(os.getpid()), timeout=0.5)
