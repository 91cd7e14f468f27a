"""Keep the hub token out of everything flanzh prints: error messages, tracebacks (``--debug``)
and log records. The token is known by value (the one in use, ``HF_TOKEN``, the saved login) and
by shape (``hf_...``, ``Bearer ...``, an ``Authorization`` header a server repeats back)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

_SHAPES = [
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?[^\s'\",;}]+"), r"\1***"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",;}]+"), r"\1***"),
    (re.compile(r"hf_[A-Za-z0-9]{8,}"), "hf_***"),
]
_known: set[str] = set()          # tokens seen in use in this process


def remember(token: str | None) -> None:
    """Scrub ``token`` from everything printed from now on in this process."""
    if token and len(token) >= 4:
        _known.add(token)


def secrets() -> list[str]:
    """Every token value that must never be printed, longest first."""
    found = set(_known)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if len(os.environ.get(name) or "") >= 4:
            found.add(os.environ[name])
    try:
        from huggingface_hub.utils import get_token

        token = get_token()
        if token and len(token) >= 4:
            found.add(token)
    except Exception:  # no huggingface_hub or an unreadable login: nothing more to scrub
        pass
    return sorted(found, key=len, reverse=True)


def scrub(text: str, token: str | None = None, known: list[str] | None = None) -> str:
    """``text`` without ``token``, any known token (``known``, default: secrets()), or anything
    shaped like one."""
    for secret in ([token] if token and len(token) >= 4 else []) + (
            secrets() if known is None else known):
        text = text.replace(secret, "***")
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def scrubbed_logs(token: str | None) -> Iterator[None]:
    """Log records created meanwhile (by any library) carry a scrubbed message."""
    remember(token)
    known = secrets()               # looked up once, not per record
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left for logging to report
            return record
        record.msg, record.args = scrub(message, token, known), ()
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)
