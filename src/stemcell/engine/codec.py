"""The one way run data becomes JSON and back: run state (``state.json``) and events
(recordings) both go through ``to_data`` / ``from_data``.

Dataclasses in, plain JSON values out, and back by the dataclass's own field
types: nested dataclasses, ``list[...]``, ``dict[str, ...]``, ``StrEnum`` members
(written as their words) and scalars. Reading is forgiving where old files need
it - a key this stemcell does not know is ignored, a missing one takes its
default, an int where a float belongs is taken - and strict where a wrong value
would go unnoticed: a word that is not one of an enum's, a list where a mapping
belongs or a text where a number belongs is a ``CodecError`` naming the field.

Hand-written here rather than pydantic: the engine is imported before the app's
first frame, and pydantic costs about 0.1 s to import.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class CodecError(ValueError):
    """Data that does not fit the dataclass it should become."""


def to_data(obj: Any) -> Any:
    """A dataclass (or list, dict, enum, scalar) as plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {key: to_data(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(value) for value in obj]
    return obj


def from_data(cls: type[T], data: Any, where: str = "") -> T:
    """``data`` (a mapping) as a ``cls``; unknown keys ignored, missing ones defaulted."""
    if not isinstance(data, Mapping):
        raise CodecError(f"{where or cls.__name__}: expected a mapping, got "
                         f"{type(data).__name__}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.init and f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], _path(where, f.name))
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise CodecError(f"{where or cls.__name__}: {exc}") from None


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types, worked out once per class."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _path(where: str, name: object) -> str:
    return f"{where}.{name}" if where else str(name)


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except CodecError as exc:
                errors.append(str(exc))
        raise CodecError("; ".join(errors) or f"{where}: no type fits {value!r}")
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise CodecError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return [_convert(item, v, _path(where, n)) for n, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise CodecError(f"{where}: expected a mapping, got {type(value).__name__}")
        args = typing.get_args(tp)
        item = args[1] if len(args) == 2 else Any
        return {str(k): _convert(item, v, _path(where, k)) for k, v in value.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return from_data(tp, value, where)
        if issubclass(tp, enum.Enum):
            try:
                return tp(value)
            except ValueError:
                words = ", ".join(str(m.value) for m in tp)
                raise CodecError(f"{where}: {value!r} is not one of {words}") from None
        return _scalar(tp, value, where)
    return value  # a type form this codec does not check (Literal, ...): taken as is


def _scalar(tp: type, value: Any, where: str) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)  # a count some writer kept as a float
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp in (float, int, str, bool):
        raise CodecError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
    return value
