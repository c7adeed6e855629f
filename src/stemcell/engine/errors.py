"""Errors the engine understands. Anything else is a bug, reported as such."""

from __future__ import annotations


class StemcellError(Exception):
    """A failure we can explain to a student: a message and what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class StepFailed(StemcellError):
    """A step could not do its job (the lab fails, cleanup runs)."""


class SkipStep(StemcellError):
    """A step decided not to run (optional, nothing to do); the lab goes on."""


class Interrupted(StemcellError):
    """The run was cancelled (Ctrl-C, SIGTERM, the TUI's stop)."""

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)


class ConfigError(StemcellError):
    """Bad input: usage, content or configuration (exit code 2)."""


class StateError(StemcellError):
    """A run state file we must not silently overwrite."""
