"""Rosters in YAML and CSV; every mistake names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from stemcell.checks import RosterError, load_roster


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_roster_with_defaults_and_relative_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "class.csv", (
        "student,host,user,key,ami\n"
        "# a comment line\n"
        "ada,54.1.2.3,,keys/ta.pem,ami-0123456789abcdef0\n"
        "\n"
        "bob,i-0123456789abcdef0,admin,/abs/ta.pem,\n"
    ))
    ada, bob = load_roster(path)
    assert (ada.name, ada.host, ada.user, ada.key, ada.ami, ada.line) == (
        "ada", "54.1.2.3", "ubuntu", tmp_path / "keys/ta.pem", "ami-0123456789abcdef0", 3)
    assert (bob.user, bob.key, bob.ami, bob.is_instance_id) == (
        "admin", Path("/abs/ta.pem"), None, True)


def test_yaml_roster_list_or_hosts_key(tmp_path: Path) -> None:
    listed = write(tmp_path, "a.yaml", "- {student: ada, host: 54.1.2.3, port: 2222}\n"
                                       "- student: bob\n  host: 54.1.2.4\n  role: web\n")
    ada, bob = load_roster(listed)
    assert ada.port == 2222 and bob.role == "web" and bob.line == 2
    nested = write(tmp_path, "b.yml", "hosts:\n  - host: 54.1.2.3\n")
    (only,) = load_roster(nested)
    assert only.label == "54.1.2.3"


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("r.csv", "student,hostname\nada,1.2.3.4\n", "r.csv:1: unknown column 'hostname'"),
        ("r.csv", "student,host\nada\n", "r.csv:2: expected 2 fields, found 1"),
        ("r.csv", "student,host,port\nada,1.2.3.4,99999\n", "r.csv:2: port must be 1-65535"),
        ("r.csv", "student,host,ami\nada,1.2.3.4,ubuntu\n", "r.csv:2: ami must look like"),
        ("r.csv", "student,host\nada,1.2.3.4\nada,1.2.3.5\n", "r.csv:3: 'ada' is listed twice"),
        ("r.csv", "student,host\n", "r.csv:1: the roster lists no hosts"),
        ("r.yaml", "- host: 1.2.3.4\n- student: bob\n", "r.yaml:2: missing host"),
        ("r.yaml", "- host: 1.2.3.4\n  colour: red\n", "r.yaml:2: unknown field 'colour'"),
        ("r.yaml", "- host: [1, 2]\n", "r.yaml:1: host must be a value"),
        ("r.yaml", "hosts: 3\n", "r.yaml:1: expected a list of hosts"),
        ("r.yaml", "- host: 1.2.3.4\n  key: [\n", "r.yaml:3: not valid YAML"),
        ("r.yaml", "- host: 1.2.3.4\n  account: '12'\n", "r.yaml:1: account must be"),
    ],
)
def test_bad_rosters_name_file_and_line(tmp_path: Path, name: str, text: str, where: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(RosterError) as info:
        load_roster(path)
    assert str(info.value).startswith(f"{tmp_path}/{where}"), str(info.value)


def test_missing_roster_file(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="cannot read roster"):
        load_roster(tmp_path / "nope.csv")
