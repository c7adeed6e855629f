"""`stemcell report` in every format, from a run's state.json."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_timing_compare import fleet, instance  # same folder: pytest puts it on sys.path

from stemcell import paths
from stemcell.cli import main
from stemcell.engine.state import RunState, StateStore
from stemcell.timing.compare import compare
from stemcell.timing.report import build, render


def make_state(run_id: str = "20261128-010203-abcdef", simulated: bool = True,
               with_comparison: bool = True) -> RunState:
    instances = fleet(200, 40, roles=("web", "app-api", "app-worker"))
    instances["i-10"]["cloud_init"] = {"stages": {"modules-final": {"seconds": 150.0}}}
    state = RunState(run_id=run_id, config={"lab": "lab1-stem-cell", "profile": "apache-python",
                                            "backend": "sandbox" if simulated else "aws",
                                            "region": "us-east-1"}, status="succeeded")
    state.timings["instances"] = instances
    if with_comparison:
        state.timings["comparison"] = compare(instances, simulated=simulated,
                                              roles=["web", "app-api", "app-worker"]).to_dict()
    return state


def save(state: RunState) -> Path:
    folder = paths.run_dir(state.run_id)
    store = StateStore(folder / "state.json", state)
    store.save()
    return folder


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.output


def test_markdown_has_conclusion_tables_and_the_simulated_flag() -> None:
    state = make_state()
    save(state)
    code, out = invoke(state.run_id)
    assert code == 0, out
    assert "SIMULATED" in out
    assert "## Conclusion" in out
    for line in state.timings["comparison"]["conclusion"]:
        assert line in out
    assert "| web | RunInstances call |" in out
    assert "Ready-time ratio (#1 / #2): web: 5.0x" in out
    assert "## Surge model" in out
    assert "i-builder" in out  # timelines list every instance, the builder too


def test_json_equals_the_stored_comparison(tmp_path: Path) -> None:
    state = make_state(simulated=False)
    folder = save(state)
    code, out = invoke(str(folder), "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["comparison"] == json.loads(json.dumps(state.timings["comparison"]))
    assert data["simulated"] is False and data["source"] == "measured on AWS"
    web1 = next(i for i in data["instances"] if i["instance_id"] == "i-10")
    assert web1["ready_s"] == 200.0
    assert web1["phases"]["cloud_init"] == pytest.approx(200 - 1 - 25)


def test_csv_numbers_match_the_json(tmp_path: Path) -> None:
    state = make_state()
    folder = save(state)
    out_file = tmp_path / "r.csv"
    code, _ = invoke(str(folder / "state.json"), "--format", "csv", "--output", str(out_file))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    data = build(state)
    by = {(r["section"], r["instance_id"], r["role"], r["setup"], r["metric"]): r for r in rows}
    assert float(by[("instance", "i-10", "web", "1", "ready")]["value"]) == 200.0
    ratio = by[("comparison", "", "web", "", "ready_ratio")]
    assert float(ratio["value"]) == data["comparison"]["roles"][0]["ratio"]
    dropped = by[("surge", "", "web", "1", "dropped")]
    assert float(dropped["value"]) == data["comparison"]["surge"]["results"]["1"]["dropped"]
    assert {r["simulated"] for r in rows} == {"true"}


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    state = make_state()
    state.timings["instances"]["i-10"]["role"] = "web"
    state.config["profile"] = "<script>alert(1)</script>"
    save(state)
    out_file = tmp_path / "r.html"
    code, _ = invoke(state.run_id, "--format", "html", "-o", str(out_file))
    assert code == 0
    text = out_file.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched
    assert "<svg" in text and "SIMULATED" in text
    assert text.count("<rect") >= 6 * 6  # six setups-1/2 instances, six phases each


def test_surge_options_rerun_the_model() -> None:
    state = make_state()
    save(state)
    _, stored = invoke(state.run_id, "--format", "json")
    _, calm = invoke(state.run_id, "--format", "json", "--rate", "100")
    s1 = json.loads(stored)["comparison"]["surge"]
    s2 = json.loads(calm)["comparison"]["surge"]
    assert s1["results"]["1"]["dropped"] > 0
    assert s2["scenario"]["rate"] == 100
    assert s2["results"]["1"]["dropped"] == 0


def test_a_run_without_stored_comparison_is_compared_on_the_fly() -> None:
    state = make_state(with_comparison=False)
    data = build(state)
    assert data["simulated"] is True
    assert data["comparison"]["roles"][0]["ratio"] == pytest.approx(5.0)
    for fmt in ("md", "json", "csv", "html"):
        assert render(data, fmt)
    with pytest.raises(ValueError):
        render(data, "pdf")


def test_bad_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    code, out = invoke("no-such-run")
    assert code == 2 and "no run state found" in out and "Traceback" not in out
    broken = tmp_path / "state.json"
    broken.write_text("{not json")
    code, out = invoke(str(broken))
    assert code == 2 and "corrupt" in out
    empty = RunState(run_id="empty-run")
    save(empty)
    code, out = invoke("empty-run")
    assert code == 2 and "no boot timings" in out
    state = make_state()
    save(state)
    code, out = invoke(state.run_id, "--format", "pdf")
    assert code == 2
    mangled = make_state(run_id="20261128-010203-mangled")
    mangled.timings["comparison"] = {"roles": [{"role": "web"}]}  # no setups, no flag
    save(mangled)
    code, out = invoke(mangled.run_id)
    assert code == 2 and "stored comparison cannot be read" in out
    assert "Traceback" not in out


def test_a_single_instance_row_and_missing_marks_render() -> None:
    state = RunState(run_id="one", config={"backend": "sandbox"})
    state.timings["instances"] = {"i-1": instance("web", "1", 100)}
    del state.timings["instances"]["i-1"]["marks"]["http_healthy"]
    data = build(state)
    for fmt in ("md", "json", "csv", "html"):
        assert "i-1" in render(data, fmt)


def test_first_looks_skew_and_errors_are_noted() -> None:
    state = make_state()
    entry = state.timings["instances"]["i-20"]
    entry["measure"] = {"ssh_first_look": True, "http_first_look": True,
                        "from_guest": {"running": "kernel start", "tcp_refused": "x"}}
    entry["cloud_init"] = {"clock_offset": {"seconds": 42.0, "uncertainty": 0.2,
                                            "significant": True}, "boots_seen": 2}
    entry["error"] = "SSH connection lost"
    out = render(build(state), "md")
    assert "i-20: SSH already up at the first knock" in out
    assert "i-20: healthy at the first probe" in out
    assert "guest clock off by +42.0 s" in out
    assert "2 boots in the log" in out
    assert "from the guest's cloud-init log: running, tcp_refused" in out
    assert "error: SSH connection lost" in out
    assert "guest clock off by +42.0 s" in render(build(state), "html")
