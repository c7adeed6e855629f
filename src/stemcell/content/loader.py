"""Load labs and profiles; every problem names file:line:col.

YAML is composed into nodes first so that each value (and each mapping key)
keeps the place it was written. Pydantic's error locations are then mapped back
to those places. Nothing here ever lets a traceback reach the user: whatever the
input, the result is a model or a list of ``Problem``s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from stemcell.content.models import Lab, Profile

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

# Hostile input limits. A lab or profile is a few KB; a class roster a few hundred
# rows. Aliases are refused outright: a 500-byte "billion laughs" expands to
# gigabytes, and no shipped file needs them. Depth is capped so composing (which
# recurses) can never hit Python's recursion limit.
MAX_CONTENT_BYTES = 1_000_000
MAX_DEPTH = 64


class YamlLimit(Exception):
    """The YAML text breaks a limit; ``line``/``col`` are 1-based."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


def guard_yaml(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse anchors, aliases and deep nesting before anything is composed.

    Walks PyYAML's event stream, which is produced by an explicit state stack (no
    recursion), so 5,000 nested brackets are refused quickly at the first bracket
    past the cap instead of raising ``RecursionError`` later.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent):
                raise YamlLimit(line, col, f"YAML aliases are not allowed (*{anchor})")
            if anchor:
                raise YamlLimit(line, col, f"YAML anchors are not allowed (&{anchor})")
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise YamlLimit(line, col, f"YAML is nested more than {max_depth} levels deep")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except RecursionError:  # defensive: the parser is iterative, but never a traceback
        raise YamlLimit(1, 1, "YAML is nested too deeply") from None


def read_limited(path: Path, limit: int) -> str:
    """Read UTF-8 text, refusing files larger than ``limit`` bytes without reading them."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file is larger than {limit // 1_000_000} MB; refusing to read it")
    return data.decode("utf-8")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ContentError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Places:
    """Where each value and key sits in the source (1-based line and column)."""

    def __init__(self) -> None:
        self.values: dict[Loc, tuple[int, int]] = {}
        self.keys: dict[Loc, tuple[int, int]] = {}

    def value(self, loc: Loc) -> tuple[int, int]:
        while loc not in self.values and loc:
            loc = loc[:-1]
        return self.values.get(loc, (1, 1))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _to_python(
    node: yaml.Node, loc: Loc, places: _Places, problems: list[Problem], path: str
) -> Any:
    places.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            is_merge = key_node.tag == "tag:yaml.org,2002:merge"
            key = "<<" if is_merge else yaml.safe_load(yaml.serialize(key_node))
            if not isinstance(key, (str, int)):
                line, col = _mark(key_node)
                where = _dotted(loc) or "top level"
                problems.append(Problem(path, line, col, f"{where}: keys must be text"))
                continue
            key = str(key)
            if key in result:
                line, col = _mark(key_node)
                problems.append(Problem(path, line, col, f"duplicate key {key!r}"))
            places.keys[(*loc, key)] = _mark(key_node)
            result[key] = _to_python(value_node, (*loc, key), places, problems, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*loc, i), places, problems, path) for i, item in enumerate(node.value)
        ]
    # Scalars: let the safe constructor decide the type (int, bool, null, str ...).
    return yaml.safe_load(yaml.serialize(node))


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse(text: str, path: str) -> tuple[Any, _Places, list[Problem]]:
    places = _Places()
    problems: list[Problem] = []
    if len(text) > MAX_CONTENT_BYTES:
        problems.append(Problem(path, 1, 1, f"file is larger than "
                                f"{MAX_CONTENT_BYTES // 1_000_000} MB; refusing to read it"))
        return None, places, problems
    try:
        guard_yaml(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except YamlLimit as exc:
        problems.append(Problem(path, exc.line, exc.col, exc.message))
        return None, places, problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(path, line, col, f"YAML syntax: {exc.problem or exc}"))
        return None, places, problems
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, 1, f"YAML: {exc}"))
        return None, places, problems
    if node is None:
        problems.append(Problem(path, 1, 1, "file is empty"))
        return None, places, problems
    try:
        data = _to_python(node, (), places, problems, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(path, line, col, f"YAML: {getattr(exc, 'problem', exc)}"))
        return None, places, problems
    except RecursionError:
        problems.append(Problem(path, 1, 1, "YAML is nested too deeply"))
        return None, places, problems
    return data, places, problems


def _pydantic_problems(exc: ValidationError, places: _Places, path: str) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        where = _dotted(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            line, col = places.keys.get(loc, places.value(loc))
            parent = _dotted(loc[:-1])
            msg = f"unknown key {loc[-1]!r}" + (f" in {parent}" if parent else "")
        elif kind == "missing":
            line, col = places.value(loc[:-1])
            parent = _dotted(loc[:-1])
            msg = f"missing field {loc[-1]!r}" + (f" in {parent}" if parent else "")
        else:
            line, col = places.value(loc)
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{where}: {text}" if where else text
        problems.append(Problem(path, line, col, msg))
    return problems


def _cross_checks(kind: str, data: Any, places: _Places, path: str) -> list[Problem]:
    """Checks that span several values, reported at the offending value's place."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return problems
    if kind == "lab" and isinstance(data.get("steps"), list):
        seen: dict[str, int] = {}
        for i, step in enumerate(data["steps"]):
            if isinstance(step, dict) and isinstance(step.get("id"), str):
                if step["id"] in seen:
                    line, col = places.value(("steps", i, "id"))
                    problems.append(
                        Problem(
                            path,
                            line,
                            col,
                            f"duplicate step id {step['id']!r} "
                            f"(first used by steps[{seen[step['id']]}])",
                        )
                    )
                else:
                    seen[step["id"]] = i
    if kind == "profile" and isinstance(data.get("roles"), dict):
        roles = set(data["roles"])
        for field_name in ("boot_scripts", "install_scripts"):
            scripts = data.get(field_name)
            if isinstance(scripts, dict):
                for role in scripts:
                    if role not in roles:
                        line, col = places.keys.get((field_name, role), (1, 1))
                        problems.append(
                            Problem(
                                path,
                                line,
                                col,
                                f"{field_name} names role {role!r}, which is not defined "
                                "under roles",
                            )
                        )
    return problems


def _load(model: type[M], kind: str, text: str, path: str) -> M:
    data, places, problems = _parse(text, path)
    if problems:
        raise ContentError(problems)
    if not isinstance(data, dict):
        raise ContentError([Problem(path, 1, 1, f"a {kind} file must be a mapping of keys")])
    cross = _cross_checks(kind, data, places, path)
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        found = _pydantic_problems(exc, places, path)
        # The model re-detects what the cross checks already placed exactly.
        if cross:
            found = [p for p in found if "duplicate step id" not in p.message
                     and "which is not defined under roles" not in p.message]
        raise ContentError(sorted(cross + found, key=lambda p: (p.line, p.col))) from None
    except (TypeError, ValueError, RecursionError) as exc:  # defensive: never a traceback
        raise ContentError([Problem(path, 1, 1, f"invalid {kind}: {exc}")]) from None
    if cross:
        raise ContentError(cross)
    return result


def parse_lab(text: str, path: str = "<lab>") -> Lab:
    return _load(Lab, "lab", text, path)


def parse_profile(text: str, path: str = "<profile>") -> Profile:
    return _load(Profile, "profile", text, path)


def _read(path: Path) -> str:
    try:
        return read_limited(path, MAX_CONTENT_BYTES)
    except UnicodeDecodeError as exc:
        raise ContentError([Problem(str(path), 1, 1, f"not UTF-8 text ({exc.reason})")]) from None
    except ValueError as exc:  # larger than the cap
        raise ContentError([Problem(str(path), 1, 1, str(exc))]) from None
    except FileNotFoundError:
        raise ContentError([Problem(str(path), 1, 1, "no such file")]) from None
    except OSError as exc:
        raise ContentError([Problem(str(path), 1, 1, exc.strerror or str(exc))]) from None


def load_lab(path: Path) -> Lab:
    return parse_lab(_read(path), str(path))


def load_profile(path: Path) -> Profile:
    profile = parse_profile(_read(path), str(path))
    problems = []
    for name, role in profile.roles.items():
        if not (path.parent / role.bundle).is_dir():
            problems.append(
                Problem(str(path), 1, 1, f"roles.{name}.bundle: folder {role.bundle!r} not found")
            )
    if problems:
        raise ContentError(problems)
    return profile


def _kind_of(path: Path, text: str) -> str:
    """A file is a profile if it sits in a profiles/ folder or has a base_image key."""
    if path.parent.name == "profiles":
        return "profile"
    if path.parent.name == "labs":
        return "lab"
    return "profile" if "\nbase_image:" in f"\n{text}" else "lab"


def validate_paths(paths: list[Path]) -> list[Problem]:
    """Validate files (or every *.yaml under folders); return every problem found."""
    problems: list[Problem] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.is_file()))
        else:
            files.append(path)
    for file in files:
        try:
            text = _read(file)
            if _kind_of(file, text) == "profile":
                load_profile(file)
            else:
                load_lab(file)
        except ContentError as exc:
            problems.extend(exc.problems)
    return problems
