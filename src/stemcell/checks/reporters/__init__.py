"""Reporters: one module per output format, each ``render(report) -> str``."""

from __future__ import annotations

from collections.abc import Callable

from stemcell.checks.model import Report
from stemcell.checks.reporters import html, json, junit, text

FORMATS: dict[str, Callable[[Report], str]] = {
    "text": text.render,
    "json": json.render,
    "junit": junit.render,
    "html": html.render,
}
