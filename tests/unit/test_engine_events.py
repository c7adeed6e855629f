from __future__ import annotations

import enum
import json
import typing

import pytest

from stemcell.engine.events import EVENT_TYPES, Event, EventBus, InstanceState, Log


def test_every_event_round_trips() -> None:
    for kind, cls in EVENT_TYPES.items():
        if kind == "event":
            continue
        hints = typing.get_type_hints(cls)
        required = {
            name: hints[name]
            for name, field in cls.__dataclass_fields__.items()
            if field.default is field.default_factory  # type: ignore[comparison-overlap]
        }
        sample: dict[str, object] = {}
        for name, typ in required.items():
            if isinstance(typ, type) and issubclass(typ, enum.Enum):
                sample[name] = list(typ)[-1]  # a member, not the field's default
            else:
                sample[name] = 1.0 if typ is float else (True if typ is bool else "x")
        event = cls(**sample)
        data = event.to_dict()
        assert Event.from_dict(data) == event
        # Plain JSON values: statuses are their words, so a recording reads the same.
        assert json.loads(json.dumps(data)) == data
        assert not any(isinstance(v, enum.Enum) for v in data.values())


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        Event.from_dict({"type": "nope"})


def test_bus_fan_out_and_unsubscribe() -> None:
    bus = EventBus()
    a: list[Event] = []
    b: list[Event] = []
    bus.subscribe(a.append)
    off = bus.subscribe(b.append)
    bus.emit(Log(message="one"))
    off()
    bus.emit(InstanceState(instance_id="i", state="running"))
    assert len(a) == 2 and len(b) == 1
