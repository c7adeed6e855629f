"""Bytes a boot downloaded, read from apt's output in cloud-init-output.log.

apt prints sizes with SI units (``B``, ``kB``, ``MB``, ``GB``: powers of 1000)
and the locale's digit grouping (``2,345 kB``; some locales write ``12,3 MB``
for twelve point three). ``Fetched N in Ts (R/s)`` is what actually crossed the
network (index files of ``apt-get update`` and the archives); ``Need to get N
of archives`` is the plan, used only when no ``Fetched`` line was written (a
boot cut short). The output log also grows across boots; only the last boot's
part counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_NUMBER = r"(?P<num>\d[\d,.]*)\s*(?P<unit>[kKMGT]?B)\b"
_FETCHED = re.compile(r"^Fetched " + _NUMBER + r" in ")
_NEED = re.compile(r"^Need to get " + _NUMBER)
# A new boot writes the init banner again (init-local only goes to the journal).
_BOOT_BANNER = re.compile(r"^Cloud-init v\. \S+ running '(init|init-local)' at ")


@dataclass(frozen=True)
class Downloads:
    bytes: int
    source: str  # "fetched" | "need-to-get" | "none"
    lines: int  # apt lines that contributed

    def to_dict(self) -> dict[str, object]:
        return {"bytes": self.bytes, "source": self.source, "lines": self.lines}


def size_bytes(number: str, unit: str) -> int:
    """``"2,345"``, ``"kB"`` -> 2345000; ``"12,3"``, ``"MB"`` -> 12300000."""
    text = number.rstrip(".,")
    if "," in text and "." not in text and not re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", ".")  # a decimal comma
    else:
        text = text.replace(",", "")
    return round(float(text) * _UNITS[unit])


def last_boot_text(text: str) -> str:
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _BOOT_BANNER.match(line)]
    if not starts:
        return text
    return "\n".join(lines[starts[-1]:])


def parse_downloads(output_log: str) -> Downloads:
    """Bytes downloaded by apt in the last boot recorded in ``output_log``."""
    fetched = 0
    fetched_lines = 0
    need = 0
    need_lines = 0
    for line in last_boot_text(output_log).splitlines():
        line = line.strip()
        found = _FETCHED.match(line)
        if found:
            fetched += size_bytes(found.group("num"), found.group("unit"))
            fetched_lines += 1
            continue
        found = _NEED.match(line)
        if found:
            need += size_bytes(found.group("num"), found.group("unit"))
            need_lines += 1
    if fetched_lines:
        return Downloads(fetched, "fetched", fetched_lines)
    if need_lines:
        return Downloads(need, "need-to-get", need_lines)
    return Downloads(0, "none", 0)


def human_bytes(count: float) -> str:
    """SI units, as apt prints them."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns
