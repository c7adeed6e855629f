"""Cost estimate and the launch confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stemcell.cloud.pricing import (
    INSTANCE_HOURLY,
    PRICES_AS_OF,
    choose_instance_type,
    confirm_launch,
    estimate,
)
from stemcell.engine.context import RunConfig
from stemcell.engine.errors import ConfigError, Interrupted


def _lab_profile(tmp_path: Path) -> tuple[Any, Any]:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "functional"))
    from ec2_support import make_lab, make_profile

    return make_lab(), make_profile(tmp_path)


def test_estimate_adds_up_from_the_table(tmp_path: Path) -> None:
    lab, profile = _lab_profile(tmp_path)
    est = estimate(lab, profile, RunConfig(backend="aws", region="us-east-1"))
    # builder 0.5 h + 4 role servers x 1 h, at the t3.micro price.
    assert est.lines[0].startswith("t3.micro x 4.5 instance-hours at $0.0104/h")
    assert est.usd == pytest.approx(sum(float(line.rsplit("$", 1)[1]) for line in est.lines
                                        if line.count("$") >= 2), abs=1e-4)
    assert 0.05 < est.usd < 0.2
    assert PRICES_AS_OF in est.text() and "us-east-1" in est.text()
    assert "load balancer" in est.text()
    more = estimate(lab, profile, RunConfig(backend="aws", region="us-east-1", repeat=3))
    assert more.usd > est.usd


def test_unknown_region_is_not_priced_as_us_east_1(tmp_path: Path) -> None:
    lab, profile = _lab_profile(tmp_path)
    est = estimate(lab, profile, RunConfig(region="ap-south-2"))
    assert not est.priced and est.usd == 0.0
    assert est.text().startswith("no price for ap-south-2")
    assert "us-east-1" not in est.text().splitlines()[1:][0]
    assert "eu-west-1" in INSTANCE_HOURLY
    with pytest.raises(ConfigError, match="no price for ap-south-2"):
        confirm_launch(lab, profile, RunConfig(backend="aws", region="ap-south-2"), None)


def test_alb_lcus_and_every_public_ipv4_address_are_priced(tmp_path: Path) -> None:
    lab, profile = _lab_profile(tmp_path)
    est = estimate(lab, profile, RunConfig(region="eu-west-1"))
    text = est.text()
    assert "load balancer capacity units" in text and "$0.008/LCU-h" in text
    # Instances' addresses and the ALB's two (one per zone), $0.005/h each.
    assert "public IPv4 x 4.5 h at $0.005/h: $0.0225" in text
    assert "load balancer public IPv4 x 2 zones x 1 h at $0.005/h: $0.0100" in text
    assert "list prices for eu-west-1" in text
    assert "15 July 2025" in text and "not t4g" in text


def test_allowlist_and_architecture() -> None:
    assert choose_instance_type(None, "t3.micro", "x86_64") == "t3.micro"
    assert choose_instance_type("t4g.micro", "t3.micro", "arm64") == "t4g.micro"
    with pytest.raises(ConfigError, match="not allowed"):
        choose_instance_type("m5.24xlarge", "t3.micro", "x86_64")
    with pytest.raises(ConfigError, match="runs arm64"):
        choose_instance_type("t4g.micro", "t3.micro", "x86_64")


def test_confirmation_on_aws_only(tmp_path: Path) -> None:
    lab, profile = _lab_profile(tmp_path)
    asked: list[str] = []
    confirm_launch(lab, profile, RunConfig(backend="sandbox", region="us-east-1"), None)
    confirm_launch(lab, profile, RunConfig(backend="aws", region="us-east-1", yes=True), None)
    est = confirm_launch(lab, profile, RunConfig(backend="aws", region="us-east-1"),
                         lambda text: asked.append(text) or True)
    assert asked and f"${est.usd:.2f}" in asked[0]
    with pytest.raises(Interrupted):
        confirm_launch(lab, profile, RunConfig(backend="aws", region="us-east-1"),
                       lambda text: False)
    with pytest.raises(ConfigError, match="--yes"):
        confirm_launch(lab, profile, RunConfig(backend="aws", region="us-east-1"), None)
