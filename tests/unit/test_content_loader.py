"""The loader: shipped content is valid; every problem names file:line:col exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stemcell.cli import main
from stemcell.content.loader import ContentError, parse_lab, parse_profile, validate_paths
from stemcell.content.shipped import shipped_dir

LAB_OK = """\
id: mini
title: Mini lab
steps:
  - id: why
    title: Why
    kind: explain
  - id: base
    title: Base image
    kind: find_base_image
"""


def problems_of(text: str, kind: str = "lab") -> list[str]:
    parse = parse_lab if kind == "lab" else parse_profile
    with pytest.raises(ContentError) as err:
        parse(text, "x.yaml")
    return [str(p) for p in err.value.problems]


def test_shipped_content_is_valid() -> None:
    assert validate_paths([shipped_dir("labs"), shipped_dir("profiles")]) == []


def test_minimal_lab() -> None:
    lab = parse_lab(LAB_OK)
    assert [s.id for s in lab.steps] == ["why", "base"]


def test_unknown_key() -> None:
    text = LAB_OK.replace("    kind: explain\n", "    kind: explain\n    colour: blue\n")
    assert problems_of(text) == ["x.yaml:7:5: unknown key 'colour' in steps[0]"]


def test_wrong_type() -> None:
    text = LAB_OK.replace("    kind: explain\n", "    kind: explain\n    optional: perhaps\n")
    assert problems_of(text) == [
        "x.yaml:7:15: steps[0].optional: Input should be a valid boolean, "
        "unable to interpret input"
    ]


def test_missing_field() -> None:
    text = LAB_OK.replace("    title: Why\n", "")
    assert problems_of(text) == ["x.yaml:4:5: missing field 'title' in steps[0]"]


def test_bad_yaml_syntax() -> None:
    assert problems_of("id: [mini\ntitle: x\n") == [
        "x.yaml:2:6: YAML syntax: expected ',' or ']', but got ':'"
    ]


def test_unknown_step_kind() -> None:
    (problem,) = problems_of(LAB_OK.replace("kind: explain", "kind: explian"))
    assert problem.startswith("x.yaml:6:11: steps[0].kind: unknown step kind 'explian' (known: ")


def test_duplicate_step_id() -> None:
    text = LAB_OK.replace("  - id: base", "  - id: why")
    assert problems_of(text) == ["x.yaml:7:9: duplicate step id 'why' (first used by steps[0])"]


def test_duplicate_yaml_key() -> None:
    assert problems_of(LAB_OK + "title: again\n") == ["x.yaml:10:1: duplicate key 'title'"]


def test_bad_step_params() -> None:
    text = LAB_OK.replace("    kind: find_base_image\n",
                          "    kind: launch_roles\n    params: {setup: 3}\n")
    assert problems_of(text) == ["x.yaml:10:21: steps[1].params.setup: Input should be 1 or 2"]


def test_profile_script_for_undefined_role() -> None:
    text = (shipped_dir("profiles") / "apache-python.yaml").read_text()
    text = text.replace("install_scripts:\n  web: |", "install_scripts:\n  webb: |", 1)
    line = text.splitlines().index("  webb: |") + 1
    found = problems_of(text, "profile")
    assert (f"x.yaml:{line}:3: install_scripts names role 'webb', which is not defined "
            "under roles") in found


def test_profile_unknown_variable() -> None:
    text = (shipped_dir("profiles") / "apache-python.yaml").read_text()
    text = text.replace('"{{bundle_url}}"', '"{{bundel_url}}"', 1)
    (problem,) = problems_of(text, "profile")
    assert "unknown variable {{bundel_url}}" in problem


def test_not_a_mapping_and_empty() -> None:
    assert problems_of("- a\n- b\n") == ["x.yaml:1:1: a lab file must be a mapping of keys"]
    assert problems_of("") == ["x.yaml:1:1: file is empty"]


def test_validate_cli_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(LAB_OK)
    bad = tmp_path / "bad.yaml"
    bad.write_text(LAB_OK.replace("kind: explain", "kind: explian").replace("    title: Why\n", ""))
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(main, ["validate", str(good), str(bad), str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2
    lines = res.output.splitlines()
    assert lines[0].startswith(f"{bad}:4:5: missing field 'title'")
    assert any(line.startswith(f"{bad}:5:11: steps[0].kind: unknown step kind") for line in lines)
    assert lines[-1] == f"{tmp_path / 'missing.yaml'}:1:1: no such file"
    assert "Traceback" not in res.output


# --- never a traceback -------------------------------------------------------------

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["id", "title", "kind", "steps", "params", "checks",
                                         "roles", "setup", "x"]) | st.text(max_size=8),
                        children, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(yaml_values.map(lambda v: yaml.safe_dump(v)), st.text(max_size=200)))
def test_random_yaml_never_raises_anything_but_content_errors(text: str) -> None:
    for parse in (parse_lab, parse_profile):
        try:
            parse(text, "fuzz.yaml")
        except ContentError as exc:
            for problem in exc.problems:
                assert problem.line >= 1 and problem.col >= 1
                assert str(problem).startswith("fuzz.yaml:")


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_mutated_shipped_lab_never_raises_anything_but_content_errors(data: st.DataObject) -> None:
    text = (shipped_dir("labs") / "lab1-stem-cell.yaml").read_text()
    start = data.draw(st.integers(0, len(text) - 1))
    length = data.draw(st.integers(0, 30))
    junk = data.draw(st.text(alphabet=":-[]{}#&*!|>'\"%@` \n\tab1", max_size=10))
    mutated = text[:start] + junk + text[start + length:]
    try:
        parse_lab(mutated, "lab.yaml")
    except ContentError:
        pass
