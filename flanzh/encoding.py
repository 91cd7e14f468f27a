"""Decode source files with the encoding a spec declares, and say exactly where and what to try when
that fails. Chinese datasets often ship in GBK/GB18030 or Big5."""

from __future__ import annotations

import codecs
from pathlib import Path

from .errors import SourceError

# Tried in this order to suggest a fix; gb18030 is a superset of gbk and gb2312.
_CANDIDATES = ("utf-8", "gb18030", "big5", "utf-16")
_CHUNK = 1 << 20


def is_text_encoding(name: str) -> bool:
    """A codec that decodes bytes to text: not 'base64' or 'rot13', not a made-up name."""
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


def unknown_encoding(encoding: str) -> str:
    """What is wrong with ``source.encoding`` and what to use (after ``$.source.encoding: ``)."""
    return (f"'{encoding}' is not a text encoding Python knows; use one such as utf-8, gb18030, "
            "gbk, big5 or utf-16")


def require_text_encoding(encoding: str, label: str) -> None:
    if not is_text_encoding(encoding):
        raise SourceError(f"{label}: $.source.encoding: {unknown_encoding(encoding)}")


def first_bad_byte(path: Path, encoding: str) -> tuple[int, str] | None:
    """Byte offset and reason of the first undecodable byte, streaming so large files are fine."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the bytes the decoder held: its buffer plus this chunk.
                buffered = len(exc.object) - len(chunk)
                return offset - buffered + exc.start, exc.reason
            except UnicodeError as exc:     # e.g. utf-16 without a BOM: no position to report
                return offset, str(exc)
            if not chunk:
                return None
            offset += len(chunk)


def suggest_encoding(path: Path, exclude: str) -> str | None:
    for candidate in _CANDIDATES:
        if codecs.lookup(candidate).name == codecs.lookup(exclude).name:
            continue
        if first_bad_byte(path, candidate) is None:
            return candidate
    return None


def check_decodes(path: Path, encoding: str, label: str) -> None:
    """Raise SourceError naming the file, byte offset and an encoding to try if ``path`` does not
    decode as ``encoding``."""
    require_text_encoding(encoding, label)
    bad = first_bad_byte(path, encoding)
    if bad is None:
        return
    offset, reason = bad
    hint = suggest_encoding(path, encoding)
    fix = (f"try source.encoding: {hint}" if hint
           else "the file is not valid in any of " + ", ".join(_CANDIDATES) + "; check the download")
    raise SourceError(f"{path}: byte {offset}: cannot decode as {encoding} ({reason}); {fix}")


def read_text(path: Path, encoding: str, label: str) -> str:
    """The whole file as text, BOM removed, after check_decodes."""
    check_decodes(path, encoding, label)
    text = path.read_bytes().decode(encoding)
    return text.removeprefix("\ufeff")
