"""Scrub secrets from anything that is written down or shown.

Applied by the recorder to every string of every event, and by the headless
printer and logs. Patterns, not trust: a step that forgets to keep a key out of
its output still never leaks it into a recording.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM / OpenSSH private keys, whole block (or from BEGIN to the end if cut off).
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    # Presigned URL signatures and the credentials that travel with them (SigV4 and SigV2).
    (re.compile(r"(?i)(X-Amz-Signature=)[0-9a-f]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(X-Amz-Credential=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(X-Amz-Security-Token=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&]Signature=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&]AWSAccessKeyId=)[^&\s\"']+"), r"\1" + REDACTED),
    # Access key ids (long-term AKIA, temporary ASIA).
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # Secret keys and session tokens written as key = value.
    (
        re.compile(
            r"(?i)(aws_secret_access_key|secretaccesskey|aws_session_token|sessiontoken)"
            r"(\s*[=:]\s*[\"']?)[A-Za-z0-9/+=]{16,}"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)(Authorization:\s*AWS4-HMAC-SHA256)[^\r\n]*"), r"\1 " + REDACTED),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
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
