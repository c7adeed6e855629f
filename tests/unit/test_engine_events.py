from __future__ import annotations

import pytest

from stemcell.engine.events import EVENT_TYPES, Event, EventBus, InstanceState, Log


def test_every_event_round_trips() -> None:
    for kind, cls in EVENT_TYPES.items():
        if kind == "event":
            continue
        required = {
            name: field.type
            for name, field in cls.__dataclass_fields__.items()
            if field.default is field.default_factory  # type: ignore[comparison-overlap]
        }
        sample = {}
        for name, typ in required.items():
            sample[name] = 1.0 if "float" in str(typ) else (True if "bool" in str(typ) else "x")
        event = cls(**sample)
        assert Event.from_dict(event.to_dict()) == event


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
