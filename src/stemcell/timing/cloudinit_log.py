"""Reading cloud-init's own account of a boot.

Two sources, same result (a list of events, then the last boot's stages):

- ``cloud-init analyze dump``: JSON records ``{name, description, timestamp,
  event_type: start|finish, result, origin}``;
- ``/var/log/cloud-init.log`` when ``analyze`` is unavailable, in every
  timestamp layout cloud-init's analyzer accepts: its logger's asctime
  (``2026-11-28 01:02:03,456 - util.py[DEBUG]: ...``), syslog
  (``Nov 28 01:02:03 host [CLOUDINIT] util.py[DEBUG]: ...``), journalctl
  short-precise (``Nov 28 01:02:03.123456 host cloud-init[123]: ...``),
  Amazon Linux's (``Nov 28 01:02:03 cloud-init[123]: ...``) and RFC 3339
  (``2026-11-28T01:02:03.123456+00:00 host [CLOUDINIT] ...``).

Syslog stamps carry no year; we take it from the stage banner's full date
(``running 'init' at Sat, 28 Nov 2026 ...``) when there is one, and roll over
at a December -> January step.

A log holds every boot of the instance (a stop/start appends); a boot starts at
``init-local`` (or ``init-network`` when there was no local stage), and the lab
cares about the last one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STAGES: tuple[str, ...] = ("init-local", "init-network", "modules-config", "modules-final")

_STAGE_ALIASES = {
    "init": "init-network",
    "modules:config": "modules-config",
    "modules:final": "modules-final",
    "modules-init": "modules-init",
}

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    start=1)}

_ASCTIME = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{1,6}) - (?P<rest>.*)$")
_RFC3339 = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+"
    r"(?:(?P<host>\S+)\s+)?(?:\[CLOUDINIT\]|cloud-init\[\d+\]:)\s*(?:\[CLOUDINIT\]\s*)?"
    r"(?P<rest>.*)$")
_SYSLOG = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}) (?P<time>\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+"
    r"(?:(?P<host>(?!cloud-init\[)\S+)\s+)?(?:\[CLOUDINIT\]|cloud-init\[\d+\]:)\s*"
    r"(?:\[CLOUDINIT\]\s*)?(?P<rest>.*)$")
_BANNER = re.compile(
    r"Cloud-init v\. \S+ (?:running '(?P<stage>[^']+)' at (?P<at>[^.]+?)\. Up [\d.]+ seconds"
    r"|finished at)")
_EVENT = re.compile(
    r"^(?:\S+\[\w+\]:\s*)?(?P<type>start|finish): (?P<name>[^:\s]+): ?(?P<desc>.*)$")
_BANNER_DATE = re.compile(r"\w{3}, (\d{1,2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})")


class CloudInitParseError(ValueError):
    """The text is not cloud-init's analyze JSON or log."""


@dataclass
class CiEvent:
    name: str
    event_type: str  # start | finish
    timestamp: float  # the guest's epoch seconds
    description: str = ""
    result: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CiEvent:
        return cls(
            name=str(data["name"]),
            event_type=str(data["event_type"]),
            timestamp=float(data["timestamp"]),
            description=str(data.get("description", "")),
            result=str(data.get("result", "")),
        )


@dataclass
class Stage:
    name: str
    start: float | None
    end: float | None  # None: the stage never finished (still running, or crashed)
    result: str = ""

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "end": self.end,
                "seconds": self.seconds, "result": self.result}


@dataclass
class Boot:
    stages: dict[str, Stage] = field(default_factory=dict)
    boots_seen: int = 1
    # When the kernel started: a stage banner's stamp minus its "Up N seconds"
    # (what `cloud-init analyze boot` does). Only the raw log carries uptimes.
    kernel_start: float | None = None

    @property
    def start(self) -> float | None:
        starts = [s.start for s in self.stages.values() if s.start is not None]
        return min(starts) if starts else None

    @property
    def finished(self) -> bool:
        final = self.stages.get("modules-final")
        return final is not None and final.end is not None

    @property
    def end(self) -> float | None:
        """When modules-final finished: cloud-init is done."""
        final = self.stages.get("modules-final")
        return final.end if final is not None else None

    @property
    def result(self) -> str:
        failed = [s.name for s in self.stages.values() if s.result and s.result != "SUCCESS"]
        if failed:
            return "FAIL: " + ", ".join(failed)
        return "SUCCESS" if self.finished else "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": {name: self.stages[name].to_dict() for name in STAGES
                       if name in self.stages},
            "start": self.start,
            "end": self.end,
            "finished": self.finished,
            "result": self.result,
            "boots_seen": self.boots_seen,
            "kernel_start": self.kernel_start,
        }


# --- analyze dump JSON -----------------------------------------------------------------


def parse_dump(text: str) -> list[CiEvent]:
    """Events from ``cloud-init analyze dump`` output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloudInitParseError(f"not analyze dump JSON: {exc.msg}") from exc
    # Some versions print [events, raw_lines]; accept both shapes.
    if (isinstance(data, list) and len(data) == 2 and isinstance(data[0], list)
            and (not data[0] or isinstance(data[0][0], dict))):
        data = data[0]
    if not isinstance(data, list):
        raise CloudInitParseError("analyze dump JSON is not a list of events")
    events = []
    for item in data:
        if not isinstance(item, dict) or "name" not in item or "timestamp" not in item:
            continue
        if item.get("event_type") not in ("start", "finish"):
            continue
        try:
            events.append(CiEvent.from_dict(item))
        except (TypeError, ValueError):
            continue
    return events


# --- cloud-init.log -------------------------------------------------------------------


def parse_timestamp(stamp: str, year: int | None = None) -> float:
    """Epoch seconds (UTC) from any stamp layout cloud-init's analyzer accepts."""
    stamp = stamp.strip()
    if "T" in stamp and stamp[:4].isdigit():
        text = stamp.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", text):
            text = text[:-2] + ":" + text[-2:]
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    if "," in stamp and stamp[:4].isdigit():
        date_part, frac = stamp.split(",", 1)
        dt = datetime.strptime(date_part, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return dt.timestamp() + float("0." + frac)
    parts = stamp.split()
    if len(parts) >= 3 and parts[0] in _MONTHS:
        hms, _, frac = parts[2].partition(".")
        h, m, s = (int(x) for x in hms.split(":"))
        dt = datetime(year or datetime.now(UTC).year, _MONTHS[parts[0]], int(parts[1]),
                      h, m, s, tzinfo=UTC)
        return dt.timestamp() + (float("0." + frac) if frac else 0.0)
    raise CloudInitParseError(f"unknown timestamp layout: {stamp!r}")


def _banner_year(lines: list[str]) -> int | None:
    for line in lines:
        if "Cloud-init v." in line:
            found = _BANNER_DATE.search(line)
            if found:
                return int(found.group(3))
    return None


def _split_line(line: str) -> tuple[str, str, bool] | None:
    """(timestamp text, message, stamp has no year) or None for a non-cloud-init line."""
    for pattern, yearless in ((_ASCTIME, False), (_RFC3339, False), (_SYSLOG, True)):
        found = pattern.match(line)
        if found:
            groups = found.groupdict()
            if yearless:
                stamp = f"{groups['mon']} {groups['day']} {groups['time']}"
            else:
                stamp = groups["ts"]
            return stamp, groups["rest"], yearless
    return None


def parse_log(text: str, year: int | None = None) -> list[CiEvent]:
    """Stage and module events from ``/var/log/cloud-init.log`` text."""
    lines = text.splitlines()
    year = year or _banner_year(lines)
    events: list[CiEvent] = []
    last_month = 0
    for line in lines:
        if "start:" not in line and "finish:" not in line and "Cloud-init v." not in line:
            continue
        split = _split_line(line.rstrip())
        if split is None:
            continue
        stamp, message, yearless = split
        if yearless:
            month = _MONTHS[stamp.split()[0]]
            if last_month == 12 and month == 1 and year is not None:
                year += 1  # the log crossed New Year
            last_month = month
        try:
            ts = parse_timestamp(stamp, year)
        except (CloudInitParseError, ValueError):
            continue
        event = _event_from_message(message, ts)
        if event is not None:
            events.append(event)
    return events


def _event_from_message(message: str, ts: float) -> CiEvent | None:
    banner = _BANNER.search(message)
    if banner:
        stage = banner.group("stage")
        if stage is None:
            return None  # "finished at": the modules-final finish event says it better
        name = _STAGE_ALIASES.get(stage, stage.replace(":", "-"))
        up = re.search(r"Up [\d.]+ seconds", message)
        return CiEvent(name=name, event_type="start", timestamp=ts,
                       description=up.group(0) if up else "")
    found = _EVENT.match(message.strip())
    if not found:
        return None
    etype, name, desc = found.group("type"), found.group("name"), found.group("desc")
    result = ""
    if etype == "finish":
        result, _, rest = desc.partition(":")
        desc = rest.strip()
        result = result.strip()
    return CiEvent(name=name, event_type=etype, timestamp=ts, description=desc, result=result)


# --- stages of the last boot -------------------------------------------------------------


def _stage_rank(name: str) -> int:
    return STAGES.index(name) if name in STAGES else -1


def last_boot(events: list[CiEvent]) -> Boot:
    """The top-level stages of the last boot in ``events`` (in log order)."""
    boots: list[list[CiEvent]] = []
    current: list[CiEvent] = []
    reached = -1  # the furthest stage this boot has started or finished
    finished: set[str] = set()
    last_uptime: float | None = None
    for raw in events:
        event = CiEvent(_STAGE_ALIASES.get(raw.name, raw.name), raw.event_type,
                        raw.timestamp, raw.description, raw.result)
        rank = _stage_rank(event.name)
        if rank >= 0 and event.event_type == "start":
            uptime = _uptime(event.description)
            # A stage starting again after it (or a later one) ran means the machine
            # booted again; so does the kernel's uptime going backwards.
            rebooted = event.name in finished or rank < reached or (
                uptime is not None and last_uptime is not None and uptime < last_uptime)
            if rebooted and current:
                boots.append(current)
                current, reached, finished = [], -1, set()
            if uptime is not None:
                last_uptime = uptime
        if rank >= 0:
            reached = max(reached, rank)
            if event.event_type == "finish":
                finished.add(event.name)
        current.append(event)
    if current:
        boots.append(current)
    if not boots:
        return Boot({}, boots_seen=0)
    stages: dict[str, Stage] = {}
    kernel_start = None
    for event in boots[-1]:
        uptime = _uptime(event.description) if event.event_type == "start" else None
        if uptime is not None and kernel_start is None:
            kernel_start = event.timestamp - uptime
        if event.name not in STAGES:
            continue
        stage = stages.setdefault(event.name, Stage(event.name, None, None))
        if event.event_type == "start":
            # The banner and a handler's "start:" line both announce a stage: keep the first.
            if stage.start is None:
                stage.start = event.timestamp
        elif event.event_type == "finish":
            stage.end = event.timestamp
            stage.result = event.result or "SUCCESS"
    return Boot(stages, boots_seen=len(boots), kernel_start=kernel_start)


def _uptime(description: str) -> float | None:
    found = re.search(r"Up ([\d.]+) seconds", description)
    return float(found.group(1)) if found else None


def read_boot(text: str, year: int | None = None) -> tuple[Boot, str]:
    """Parse either analyze-dump JSON or a raw log; returns (boot, source name)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return last_boot(parse_dump(stripped)), "analyze-dump"
    events = parse_log(text, year)
    if not events:
        raise CloudInitParseError("no cloud-init events found in the log")
    return last_boot(events), "cloud-init.log"


def shift(boot: Boot, offset: float) -> Boot:
    """The boot on our clock: ``guest time - offset``."""
    return Boot(
        {name: Stage(s.name, None if s.start is None else s.start - offset,
                     None if s.end is None else s.end - offset, s.result)
         for name, s in boot.stages.items()},
        boots_seen=boot.boots_seen,
        kernel_start=None if boot.kernel_start is None else boot.kernel_start - offset,
    )


__all__ = [
    "STAGES",
    "Boot",
    "CiEvent",
    "CloudInitParseError",
    "Stage",
    "last_boot",
    "parse_dump",
    "parse_log",
    "parse_timestamp",
    "read_boot",
    "shift",
]
