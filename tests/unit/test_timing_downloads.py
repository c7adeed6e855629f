"""Bytes from apt's output, and the guest clock's offset from ours."""
# ruff: noqa: E501  (real log lines are long; wrapping them would change what is parsed)

from __future__ import annotations

import pytest

from stemcell.timing.downloads import human_bytes, parse_downloads, size_bytes
from stemcell.timing.skew import Sample, estimate, parse_date_output

OUTPUT_LOG = """\
Cloud-init v. 24.1.3-0ubuntu3 running 'init' at Sat, 28 Nov 2026 01:02:05 +0000. Up 6.90 seconds.
ci-info: no authorized SSH keys fingerprints found for user ubuntu.
Cloud-init v. 24.1.3-0ubuntu3 running 'modules:final' at Sat, 28 Nov 2026 01:02:09 +0000. Up 11.20 seconds.
Hit:1 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble InRelease
Get:2 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble-updates InRelease [126 kB]
Fetched 24.1 MB in 3s (8,038 kB/s)
Reading package lists...
Need to get 2,345 kB of archives.
After this operation, 8,290 kB of additional disk space will be used.
Get:1 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble/main amd64 apache2-bin amd64 2.4.58-1ubuntu8.5 [1331 kB]
Fetched 2,345 kB in 1s (2,101 kB/s)
Cloud-init v. 24.1.3-0ubuntu3 finished at Sat, 28 Nov 2026 01:03:40 +0000.
"""


def test_fetched_lines_are_summed_in_si_units() -> None:
    found = parse_downloads(OUTPUT_LOG)
    assert found.source == "fetched"
    assert found.lines == 2
    assert found.bytes == 24_100_000 + 2_345_000


def test_need_to_get_is_the_fallback_when_nothing_was_fetched() -> None:
    cut = "Need to get 512 kB/1,331 kB of archives.\nGet:1 http://x noble/main apache2\n"
    found = parse_downloads(cut)
    assert (found.bytes, found.source) == (512_000, "need-to-get")


def test_a_baked_boot_downloads_nothing() -> None:
    found = parse_downloads("Cloud-init v. 24.1 running 'init' at Sat, 28 Nov 2026 ...\n")
    assert (found.bytes, found.source) == (0, "none")


def test_only_the_last_boot_counts() -> None:
    second = ("Cloud-init v. 24.1 running 'init' at Sat, 28 Nov 2026 02:00:00 +0000. "
              "Up 4.0 seconds.\nFetched 10 B in 0s (10 B/s)\n")
    assert parse_downloads(OUTPUT_LOG + second).bytes == 10


@pytest.mark.parametrize(
    ("number", "unit", "want"),
    [("2,345", "kB", 2_345_000), ("12,3", "MB", 12_300_000), ("1.5", "GB", 1_500_000_000),
     ("999", "B", 999), ("1,000,000", "B", 1_000_000)],
)
def test_sizes_in_every_locale_grouping(number: str, unit: str, want: int) -> None:
    assert size_bytes(number, unit) == want


def test_human_bytes() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(26_445_000) == "26.4 MB"


def test_offset_from_the_tightest_sample() -> None:
    samples = [Sample(100.0, 104.0, 105.0), Sample(200.0, 200.2, 203.1)]
    found = estimate(samples)
    assert found.significant
    assert found.seconds == pytest.approx(3.0)
    assert found.uncertainty == pytest.approx(0.1)
    assert found.samples == 2


def test_an_offset_within_its_uncertainty_is_taken_as_zero() -> None:
    found = estimate([Sample(10.0, 12.0, 11.5)])
    assert not found.significant
    assert found.seconds == 0.0
    assert found.uncertainty == 1.0
    assert estimate([]).samples == 0


def test_date_output() -> None:
    assert parse_date_output("1795741323.123456789\n") == pytest.approx(1795741323.123456789)
    assert parse_date_output("date: invalid\n") is None
