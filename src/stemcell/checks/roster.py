"""Class rosters: who to check, as YAML or CSV. Errors name file:line.

Columns (CSV header or YAML keys): student, host (required), user, key,
port, ami, role, account. A relative key path is relative to the roster file,
so a roster and its keys can travel together.

YAML is either a list of rows or a mapping with a ``hosts:`` list.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from stemcell.checks.targets import HostSpec
from stemcell.content.loader import YamlLimit, guard_yaml, read_limited
from stemcell.engine.sanitise import sanitise

# A class roster is a few hundred rows; anything much larger is a mistake or an attack.
MAX_ROSTER_BYTES = 5_000_000

COLUMNS = ("student", "host", "user", "key", "port", "ami", "role", "account")


class RosterError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


def load_roster(path: Path) -> list[HostSpec]:
    try:
        text = read_limited(path, MAX_ROSTER_BYTES)
    except OSError as exc:
        raise RosterError(path, 0, f"cannot read roster: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RosterError(path, 1, "roster is not UTF-8 text") from exc
    except ValueError as exc:  # larger than the cap
        raise RosterError(path, 1, str(exc)) from exc
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _yaml_rows(path, text)
    hosts = [_host(path, line, row) for line, row in rows]
    if not hosts:
        raise RosterError(path, 1, "the roster lists no hosts")
    seen: dict[str, int] = {}
    for host in hosts:
        key = host.label
        if key in seen:
            raise RosterError(
                path, host.line, f"{key!r} is listed twice (first on line {seen[key]})"
            )
        seen[key] = host.line
    return hosts


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field past csv's size limit, a NUL byte
            raise RosterError(path, reader.line_num, f"not valid CSV: {exc}") from None
        line = reader.line_num
        if not values or all(not v.strip() for v in values) or values[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [v.strip().lower() for v in values]
            unknown = [h for h in header if h not in COLUMNS]
            if unknown:
                raise RosterError(
                    path, line, f"unknown column {unknown[0]!r} (known: {', '.join(COLUMNS)})"
                )
            if "host" not in header:
                raise RosterError(path, line, "the header needs a 'host' column")
            continue
        if len(values) != len(header):
            raise RosterError(path, line, f"expected {len(header)} fields, found {len(values)}")
        rows.append(
            (line, {h: v.strip() for h, v in zip(header, values, strict=True) if v.strip()})
        )
    return rows


def _yaml_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        guard_yaml(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except YamlLimit as exc:
        raise RosterError(path, exc.line, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise RosterError(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        return []
    if isinstance(root, yaml.MappingNode):
        items = {k.value: v for k, v in root.value}
        if "hosts" not in items:
            raise RosterError(
                path, root.start_mark.line + 1, "expected a list of hosts or 'hosts:'"
            )
        root = items["hosts"]
    if not isinstance(root, yaml.SequenceNode):
        raise RosterError(path, root.start_mark.line + 1, "expected a list of hosts")
    rows = []
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise RosterError(path, line, "each host must be a mapping (student, host, ...)")
        row: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value).lower()
            if key not in COLUMNS:
                raise RosterError(
                    path,
                    key_node.start_mark.line + 1,
                    f"unknown field {key!r} (known: {', '.join(COLUMNS)})",
                )
            if not isinstance(value_node, yaml.ScalarNode):
                raise RosterError(path, value_node.start_mark.line + 1, f"{key} must be a value")
            row[key] = str(value_node.value)
        rows.append((line, row))
    return rows


def _host(path: Path, line: int, row: dict[str, Any]) -> HostSpec:
    host = str(row.get("host", "")).strip()
    if not host:
        raise RosterError(path, line, "missing host")
    if sanitise(host) != host or any(c.isspace() for c in host):
        raise RosterError(path, line, f"host {sanitise(host)!r} is not an address or instance id")
    port_text = str(row.get("port", "22"))
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise RosterError(path, line, f"port must be 1-65535, not {port_text!r}")
    ami = row.get("ami")
    if ami and not str(ami).startswith("ami-"):
        raise RosterError(path, line, f"ami must look like ami-..., not {ami!r}")
    account = row.get("account")
    if account and not (str(account).isdigit() and len(str(account)) == 12):
        raise RosterError(path, line, f"account must be a 12-digit AWS account id, not {account!r}")
    key = row.get("key")
    key_path = None
    if key:
        key_path = Path(str(key)).expanduser()
        if not key_path.is_absolute():
            key_path = path.parent / key_path
    return HostSpec(
        host=host,
        name=sanitise(str(row.get("student", ""))),  # shown everywhere; controls out
        user=str(row.get("user") or "ubuntu"),
        key=key_path,
        port=int(port_text),
        ami=str(ami) if ami else None,
        role=str(row["role"]) if row.get("role") else None,
        account=str(account) if account else None,
        line=line,
    )
