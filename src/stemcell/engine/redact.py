"""Scrub secrets from anything that is written down or shown.

Applied by the recorder to every string of every event, and by the headless
printer and logs. Patterns, not trust: a step that forgets to keep a key out of
its output still never leaks it into a recording.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any

from stemcell.engine import events as ev
from stemcell.engine.sanitise import sanitise

REDACTED = "[REDACTED]"
REDACTED_KEY = "[REDACTED PRIVATE KEY]"

# Any PEM or OpenSSH private key armour: RSA, EC, DSA, OPENSSH, ENCRYPTED, PKCS#8,
# and PGP's "PRIVATE KEY BLOCK".
_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----")
_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM / OpenSSH private keys, whole block (or from BEGIN to the end if cut off).
    (
        re.compile(_BEGIN.pattern + r".*?(?:" + _END.pattern + r"|\Z)", re.S),
        REDACTED_KEY,
    ),
    # The tail of a key whose BEGIN line was cut off (an error quoting a script's last
    # lines): the base64 lines right above an END line are key material too.
    (
        re.compile(r"(?m)(?:^[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n)*[ \t]*" + _END.pattern),
        REDACTED_KEY,
    ),
    # Presigned URL signatures and the credentials that travel with them (SigV4 and SigV2).
    (re.compile(r"(?i)(X-Amz-Signature=)[0-9a-f]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(X-Amz-Credential=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(X-Amz-Security-Token=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&]Signature=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&]AWSAccessKeyId=)[^&\s\"']+"), r"\1" + REDACTED),
    # Access key ids (long-term AKIA, temporary ASIA).
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # Secret keys and session tokens written as key = value, key: value or JSON
    # ("SecretAccessKey": "..."), as the AWS CLI, boto3 and env files print them.
    (
        re.compile(
            r"(?i)(aws_secret_access_key|secret_access_key|secretaccesskey|aws_session_token"
            r"|session_token|sessiontoken|x-amz-security-token)"
            r"([\"']?\s*[=:]\s*[\"']?)[A-Za-z0-9/+=]{16,}"
        ),
        r"\1\2" + REDACTED,
    ),
    # Bearer tokens (the sandbox's control API and anything like it).
    (re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)(Authorization:\s*AWS4-HMAC-SHA256)[^\r\n]*"), r"\1 " + REDACTED),
]


_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Redact this exact value wherever it appears from now on (e.g. the sandbox's
    secret access key and control token, which follow no recognisable pattern)."""
    if len(value) >= 8:
        with _known_lock:
            _known.add(value)


def redact(text: str) -> str:
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


class StreamRedactor:
    """Redaction with memory, for text that arrives one line per event.

    A bake script that ``cat``s a private key produces one ``SshOutput`` per line:
    line-wise patterns would catch the BEGIN line and let the body through. This
    keeps, per stream (instance and stdout/stderr), whether a key block is open:
    every line from BEGIN to END is replaced, and a BEGIN with no END redacts
    until the stream ends (the step finishes). One instance per consumer (the
    recorder, the printer, the view model); all see the same events in order, so
    all redact alike.
    """

    def __init__(self) -> None:
        self._open: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def line(self, stream: tuple[str, str], text: str) -> str:
        with self._lock:
            if stream in self._open:
                end = _END.search(text)
                if end is None:
                    return REDACTED_KEY
                self._open.discard(stream)
                return REDACTED_KEY + redact(text[end.end():])
            begins = list(_BEGIN.finditer(text))
            begin = begins[-1] if begins else None
            if begin is not None and not _END.search(text, begin.end()):
                self._open.add(stream)
                return redact(text[: begin.start()]) + REDACTED_KEY
            return redact(text)

    def end(self, stream: tuple[str, str] | None = None) -> None:
        """The stream ended (None: every stream): an open block stays redacted, no more."""
        with self._lock:
            if stream is None:
                self._open.clear()
            else:
                self._open.discard(stream)

    def event(self, event: ev.Event) -> ev.Event:
        """A copy of ``event`` fit to show or keep: every string sanitised (no terminal
        controls, see ``sanitise``) and then redacted, SSH lines with memory."""
        if isinstance(event, ev.SshOutput):
            line = self.line((event.instance_id, event.stream), sanitise(event.line))
            return event if line == event.line else dataclasses.replace(event, line=line)
        if isinstance(event, (ev.StepFinished, ev.RunFinished)):
            self.end()  # a step's commands are over: their streams ended
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(event):
            value = getattr(event, f.name)
            if isinstance(value, str):
                clean: Any = redact(sanitise(value))
                if clean != value:
                    changes[f.name] = clean
            elif isinstance(value, (dict, list)):
                clean = redact_value(value)
                if clean != value:
                    changes[f.name] = clean
        return dataclasses.replace(event, **changes) if changes else event
