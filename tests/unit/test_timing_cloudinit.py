"""cloud-init's account of a boot: analyze-dump JSON and every log layout its analyzer reads."""
# ruff: noqa: E501  (real log lines are long; wrapping them would change what is parsed)

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stemcell.timing.cloudinit_log import (
    CloudInitParseError,
    last_boot,
    parse_dump,
    parse_log,
    parse_timestamp,
    read_boot,
    shift,
)


def epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


ASCTIME_BOOT = """\
2026-11-28 01:02:03,456 - util.py[DEBUG]: Cloud-init v. 24.1.3-0ubuntu3 running 'init-local' at Sat, 28 Nov 2026 01:02:03 +0000. Up 5.31 seconds.
2026-11-28 01:02:03,500 - handlers.py[DEBUG]: start: init-local/check-cache: attempting to read from cache [check]
2026-11-28 01:02:03,900 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found
2026-11-28 01:02:04,100 - handlers.py[DEBUG]: finish: init-local: SUCCESS: searching for local datasources
2026-11-28 01:02:05,000 - util.py[DEBUG]: Cloud-init v. 24.1.3-0ubuntu3 running 'init' at Sat, 28 Nov 2026 01:02:05 +0000. Up 6.90 seconds.
2026-11-28 01:02:07,250 - handlers.py[DEBUG]: finish: init-network: SUCCESS: searching for network datasources
2026-11-28 01:02:08,000 - util.py[DEBUG]: Cloud-init v. 24.1.3-0ubuntu3 running 'modules:config' at Sat, 28 Nov 2026 01:02:08 +0000. Up 9.80 seconds.
2026-11-28 01:02:09,000 - handlers.py[DEBUG]: finish: modules-config: SUCCESS: running modules for config
2026-11-28 01:02:09,500 - util.py[DEBUG]: Cloud-init v. 24.1.3-0ubuntu3 running 'modules:final' at Sat, 28 Nov 2026 01:02:09 +0000. Up 11.20 seconds.
2026-11-28 01:03:40,750 - handlers.py[DEBUG]: finish: modules-final: SUCCESS: running modules for final
2026-11-28 01:03:40,751 - util.py[DEBUG]: Cloud-init v. 24.1.3-0ubuntu3 finished at Sat, 28 Nov 2026 01:03:40 +0000. Datasource DataSourceEc2Local.  Up 102.40 seconds
"""


def test_asctime_with_comma_milliseconds() -> None:
    boot = last_boot(parse_log(ASCTIME_BOOT))
    assert list(boot.stages) == ["init-local", "init-network", "modules-config", "modules-final"]
    assert boot.stages["init-local"].start == epoch("2026-11-28 01:02:03.456")
    assert boot.stages["init-local"].seconds == pytest.approx(0.644)
    assert boot.stages["init-network"].seconds == pytest.approx(2.25)
    assert boot.stages["modules-final"].end == epoch("2026-11-28 01:03:40.750")
    assert boot.finished and boot.result == "SUCCESS"
    assert boot.boots_seen == 1


SYSLOG = """\
Nov 28 01:02:03 ip-172-31-1-2 [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 24.1 running 'init-local' at Sat, 28 Nov 2026 01:02:03 +0000. Up 5.0 seconds.
Nov 28 01:02:04 ip-172-31-1-2 [CLOUDINIT] handlers.py[DEBUG]: finish: init-local: SUCCESS: searching for local datasources
Nov 28 01:02:05 ip-172-31-1-2 [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 24.1 running 'init' at Sat, 28 Nov 2026 01:02:05 +0000. Up 7.0 seconds.
Nov 28 01:02:09 ip-172-31-1-2 [CLOUDINIT] handlers.py[DEBUG]: finish: init-network: SUCCESS: searching for network datasources
"""


def test_syslog_takes_its_year_from_the_banner_and_keeps_unfinished_stages_open() -> None:
    boot = last_boot(parse_log(SYSLOG))
    assert boot.stages["init-local"].start == epoch("2026-11-28 01:02:03.0")
    assert boot.stages["init-network"].seconds == 4.0
    assert "modules-final" not in boot.stages
    assert not boot.finished
    assert boot.result == "running"
    assert boot.end is None


JOURNAL = """\
Nov 28 01:02:03.123456 ip-172-31-1-2 cloud-init[412]: [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 24.1 running 'init-local' at Sat, 28 Nov 2026 01:02:03 +0000. Up 5.0 seconds.
Nov 28 01:02:03.923456 ip-172-31-1-2 cloud-init[412]: [CLOUDINIT] handlers.py[DEBUG]: finish: init-local: SUCCESS: searching for local datasources
Nov 28 01:02:10.000001 ip-172-31-1-2 cloud-init[530]: [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 24.1 running 'modules:final' at Sat, 28 Nov 2026 01:02:10 +0000. Up 12.0 seconds.
Nov 28 01:02:40.500001 ip-172-31-1-2 cloud-init[530]: [CLOUDINIT] handlers.py[DEBUG]: finish: modules-final: FAIL: running modules for final
"""


def test_journal_short_precise_with_microseconds_and_a_failed_stage() -> None:
    boot = last_boot(parse_log(JOURNAL))
    assert boot.stages["init-local"].seconds == pytest.approx(0.8)
    assert boot.stages["modules-final"].seconds == pytest.approx(30.5)
    assert boot.result == "FAIL: modules-final"


def test_amazon_linux_layout_without_a_host_and_rfc3339_stamps() -> None:
    amazon = (
        "Nov 28 01:02:03 cloud-init[2673]: util.py[DEBUG]: Cloud-init v. 19.3 running "
        "'init-local' at Sat, 28 Nov 2026 01:02:03 +0000. Up 3.0 seconds.\n"
        "Nov 28 01:02:05 cloud-init[2673]: handlers.py[DEBUG]: finish: init-local: SUCCESS: x\n"
    )
    assert last_boot(parse_log(amazon)).stages["init-local"].seconds == 2.0
    rfc = (
        "2026-11-28T01:02:03.250000+00:00 y1 [CLOUDINIT] handlers.py[DEBUG]: "
        "start: modules-final: running modules for final\n"
        "2026-11-28T01:02:05.750000+00:00 y1 [CLOUDINIT] handlers.py[DEBUG]: "
        "finish: modules-final: SUCCESS: running modules for final\n"
    )
    assert last_boot(parse_log(rfc)).stages["modules-final"].seconds == 2.5


def test_every_timestamp_layout_reads_the_same_instant() -> None:
    want = epoch("2026-11-28 01:02:03.456")
    assert parse_timestamp("2026-11-28 01:02:03,456") == pytest.approx(want)
    assert parse_timestamp("Nov 28 01:02:03.456", 2026) == pytest.approx(want)
    assert parse_timestamp("Nov 28 01:02:03", 2026) == pytest.approx(want - 0.456)
    assert parse_timestamp("2026-11-28T01:02:03.456+00:00") == pytest.approx(want)
    assert parse_timestamp("2026-11-28T02:02:03.456+0100") == pytest.approx(want)
    with pytest.raises(CloudInitParseError):
        parse_timestamp("yesterday at noon")


def test_multiple_boots_in_one_log_take_the_last() -> None:
    second = ASCTIME_BOOT.replace("01:0", "02:0").replace("Up 5.31", "Up 4.00")
    boot = last_boot(parse_log(ASCTIME_BOOT + second))
    assert boot.boots_seen == 2
    assert boot.stages["init-local"].start == epoch("2026-11-28 02:02:03.456")
    assert boot.stages["modules-final"].end == epoch("2026-11-28 02:03:40.750")


def test_a_second_boot_cut_short_is_reported_unfinished() -> None:
    cut = "\n".join(ASCTIME_BOOT.replace("01:0", "03:0").splitlines()[:5]) + "\n"
    boot = last_boot(parse_log(ASCTIME_BOOT + cut))
    assert boot.boots_seen == 2
    assert not boot.finished
    assert boot.stages["init-network"].end is None


def test_syslog_year_rolls_over_at_new_year() -> None:
    log = (
        "Dec 31 23:59:59 h [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 24.1 running 'init-local' "
        "at Thu, 31 Dec 2026 23:59:59 +0000. Up 5.0 seconds.\n"
        "Jan 01 00:00:01 h [CLOUDINIT] handlers.py[DEBUG]: finish: init-local: SUCCESS: x\n"
    )
    assert last_boot(parse_log(log)).stages["init-local"].seconds == 2.0


def test_analyze_dump_json_gives_the_same_stages_as_the_log() -> None:
    from_log = last_boot(parse_log(ASCTIME_BOOT))
    records = [
        {"name": "init-local", "description": "starting search for local datasources",
         "timestamp": epoch("2026-11-28 01:02:03.456"), "origin": "cloudinit",
         "event_type": "start"},
        {"name": "init-local/check-cache", "description": "attempting to read from cache",
         "timestamp": epoch("2026-11-28 01:02:03.5"), "origin": "cloudinit",
         "event_type": "start"},
        {"name": "init-local", "description": "searching for local datasources",
         "timestamp": epoch("2026-11-28 01:02:04.1"), "origin": "cloudinit",
         "event_type": "finish", "result": "SUCCESS"},
        {"name": "modules-final", "description": "running modules for final",
         "timestamp": epoch("2026-11-28 01:02:09.5"), "origin": "cloudinit",
         "event_type": "start"},
        {"name": "modules-final", "description": "running modules for final",
         "timestamp": epoch("2026-11-28 01:03:40.75"), "origin": "cloudinit",
         "event_type": "finish", "result": "SUCCESS"},
    ]
    boot, source = read_boot(json.dumps(records, indent=1))
    assert source == "analyze-dump"
    assert boot.stages["init-local"].seconds == pytest.approx(
        from_log.stages["init-local"].seconds)
    assert boot.end == from_log.end
    # Older cloud-init prints [events, lines]; both shapes read the same.
    older, _ = read_boot(json.dumps([records, ["raw line"]]))
    assert older.end == boot.end


def test_read_boot_falls_back_to_the_log_and_rejects_noise() -> None:
    boot, source = read_boot(ASCTIME_BOOT)
    assert source == "cloud-init.log"
    assert boot.finished
    with pytest.raises(CloudInitParseError):
        read_boot("hello\nworld\n")
    with pytest.raises(CloudInitParseError):
        parse_dump("[not json")


def test_shift_moves_the_guest_timeline_onto_our_clock() -> None:
    boot = last_boot(parse_log(ASCTIME_BOOT))
    moved = shift(boot, 2.5)
    assert moved.end == pytest.approx((boot.end or 0) - 2.5)
    assert moved.stages["init-local"].seconds == boot.stages["init-local"].seconds


def test_kernel_start_comes_from_the_banner_uptime() -> None:
    boot = last_boot(parse_log(ASCTIME_BOOT))
    assert boot.kernel_start == pytest.approx(epoch("2026-11-28 01:02:03.456") - 5.31)
    assert shift(boot, 1.0).kernel_start == pytest.approx((boot.kernel_start or 0) - 1.0)
    assert boot.to_dict()["kernel_start"] == boot.kernel_start
    # analyze dump has no uptimes: no kernel start from it.
    dump = json.dumps([{"name": "init-local", "event_type": "start", "timestamp": 5.0,
                        "description": "starting search for local datasources"}])
    assert read_boot(dump)[0].kernel_start is None
