"""Setup #1 vs #2 from synthetic timings: tables, ratios, and a conclusion that follows the data."""

from __future__ import annotations

from typing import Any

import pytest

from stemcell.timing import compare as comparing
from stemcell.timing.comparison import ComparisonResult
from stemcell.timing.surge import Scenario


def compare(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The comparison in its stored JSON form (what state.json and recordings hold)."""
    return comparing.compare(*args, **kwargs).to_dict()


def instance(role: str, setup: str, ready: float, *, ec2: float = 25.0,
             bytes_: int | None = None, t0: float = 1000.0) -> dict[str, Any]:
    """Marks of one boot: ``ec2`` seconds to SSH, the rest is cloud-init and the app."""
    marks = {
        "run_instances_sent": t0,
        "run_instances_returned": t0 + 1,
        "running": t0 + ec2 * 0.5,
        "tcp_refused": t0 + ec2 * 0.75,
        "ssh_accepting": t0 + ec2,
        "cloud_init_done": t0 + ready - 1,
        "http_healthy": t0 + ready,
    }
    entry: dict[str, Any] = {"role": role, "setup": setup, "image_id": "ami-1", "marks": marks}
    if bytes_ is not None:
        entry["bytes_downloaded"] = bytes_
    return entry


def fleet(ready1: float, ready2: float, roles: tuple[str, ...] = ("web", "app-api")
          ) -> dict[str, dict[str, Any]]:
    out = {}
    for i, role in enumerate(roles):
        out[f"i-1{i}"] = instance(role, "1", ready1, bytes_=48_000_000)
        out[f"i-2{i}"] = instance(role, "2", ready2, bytes_=0)
    out["i-builder"] = instance("builder", "builder", 300)
    return out


def test_per_role_table_ratio_and_bytes() -> None:
    result = compare(fleet(200, 40), simulated=True, roles=["web", "app-api"])
    assert [r["role"] for r in result["roles"]] == ["web", "app-api"]  # builder left out
    web = result["roles"][0]
    assert web["ratio"] == pytest.approx(5.0)
    assert web["saved_s"] == pytest.approx(160)
    assert web["dominant_phase"] == "cloud_init"
    assert web["setups"]["1"]["bytes"]["median"] == 48_000_000
    assert web["setups"]["2"]["phases"]["api"]["median"] == pytest.approx(1.0)
    typed = ComparisonResult.from_dict(result)
    assert typed.ready_stats("web", "2").median == pytest.approx(40)  # type: ignore[union-attr]
    assert result["simulated"] is True and "simulated" in result["source"]


def test_conclusion_quotes_the_numbers_and_changes_with_them() -> None:
    fast = compare(fleet(200, 40), simulated=False)
    text = " ".join(fast["conclusion"])
    assert "every role" in text
    assert "5.0x sooner" in text
    assert "3.3 min" in text  # 200 s
    assert "48.0 MB" in text
    assert "measured on real EC2" in text
    assert "about as long" in text  # both setups reach SSH at the same pace

    closer = compare(fleet(200, 100), simulated=False)
    text2 = " ".join(closer["conclusion"])
    assert "2.0x sooner" in text2
    assert text2 != text

    worse = compare(fleet(60, 90), simulated=True)
    text3 = " ".join(worse["conclusion"])
    assert "setup #2 was not faster" in text3
    assert "every role" not in text3
    assert "simulated" in text3


def test_mixed_result_names_the_roles_that_gained() -> None:
    data = fleet(200, 40, roles=("web",))
    data.update({"i-w1": instance("app-worker", "1", 50), "i-w2": instance("app-worker", "2", 80)})
    text = " ".join(compare(data, simulated=True)["conclusion"])
    assert "web served its health check sooner" in text
    assert "For app-worker, setup #2 was not faster" in text


def test_a_slower_ec2_start_is_called_out() -> None:
    data = {"a": instance("web", "1", 200, ec2=20), "b": instance("web", "2", 120, ec2=90)}
    text = " ".join(compare(data, simulated=True)["conclusion"])
    assert "Even before SSH answered, setup #1 was quicker" in text


def test_repeats_give_median_and_spread() -> None:
    data = {
        "a": instance("web", "1", 180), "b": instance("web", "1", 200),
        "c": instance("web", "1", 260), "d": instance("web", "2", 40),
        "e": instance("web", "2", 50), "f": instance("web", "2", 45),
    }
    result = compare(data, simulated=True)
    ready1 = result["roles"][0]["setups"]["1"]["ready"]
    assert (ready1["n"], ready1["median"], ready1["spread"]) == (3, 200, 80)
    assert "medians of up to 3 launches" in " ".join(result["conclusion"])


def test_surge_uses_the_web_role_and_says_what_it_costs() -> None:
    result = compare(fleet(200, 30), simulated=True, scenario=Scenario())
    surge = result["surge"]
    assert surge["role"] == "web"
    assert surge["results"]["1"]["dropped"] > surge["results"]["2"]["dropped"]
    assert "more customers served on time" in " ".join(result["conclusion"])
    calm = compare(fleet(200, 30), simulated=True, scenario=Scenario(rate=100))
    assert "no request is late or dropped" in " ".join(calm["conclusion"])


def test_an_instance_that_never_got_healthy_is_listed_not_averaged() -> None:
    data = fleet(200, 40, roles=("web",))
    del data["i-20"]["marks"]["http_healthy"]
    result = compare(data, simulated=True)
    web = result["roles"][0]
    assert web["setups"]["2"]["not_ready"] == ["i-20"]
    assert web["ratio"] is None
    assert "Not enough data" in result["conclusion"][0]
    assert result["surge"] is None


def test_nothing_measured() -> None:
    result = compare({}, simulated=True)
    assert result["roles"] == []
    assert result["conclusion"][0].startswith("Not enough data")


def test_the_json_form_reads_back_into_the_same_comparison() -> None:
    typed = comparing.compare(fleet(200, 30), simulated=True, scenario=Scenario())
    data = typed.to_dict()
    again = ComparisonResult.from_dict(data)
    assert again == typed
    assert again.to_dict() == data
    assert again.surge is not None and again.surge.results["1"].dropped > 0
    with pytest.raises(ValueError, match="newer"):
        ComparisonResult.from_dict({**data, "version": 99})
