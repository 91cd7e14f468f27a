"""Shared pieces for raw-format readers: JSON lines and whole-JSON files with errors that name the
file, the line and the shape the reader expected."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from ..encoding import read_text
from ..errors import SourceError


def fail(path, line: int | str, what: str, shape: str) -> NoReturn:
    """Raise the reader error: ``<file>: line N: <what>; expected <shape>``."""
    where = f"line {line}" if isinstance(line, int) else line
    raise SourceError(f"{path}: {where}: {what}; expected {shape}")


# A \uD800-\uDFFF escape, not itself escaped (an even run of backslashes before it).
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LOW = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
BAD_TEXT = "bad_text"


def lone_surrogate(text: str) -> tuple[int, str] | None:
    """Offset and escape (``\\ud800``) of the first lone surrogate escape in the JSON ``text``, or
    None. JSON may escape half of a UTF-16 pair alone; Python then holds a string that cannot be
    written as UTF-8, so such a row is not text. A high escape followed by a low one is a pair (an
    emoji) and fine. Text without a surrogate escape costs one regular-expression scan."""
    for match in _SURROGATE_ESCAPE.finditer(text):
        start = match.end() - 6
        escape = text[start:match.end()]
        if _HIGH.fullmatch(escape):
            if _LOW.match(text, match.end()):
                continue
        elif start >= 6 and _HIGH.fullmatch(text, start - 6, start) and _escaped(text, start - 6):
            continue
        return start, escape.lower()
    return None


def _escaped(text: str, at: int) -> bool:
    """The backslash at ``at`` starts an escape (an even run of backslashes comes before it)."""
    run = 0
    while at - run - 1 >= 0 and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 0


def _surrogate_message(escape: str) -> str:
    return f"a JSON string holds a lone surrogate escape ({escape}), which is not text"


def json_lines(path: Path, encoding: str, label: str, shape: str, result=None
               ) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object fails.
    With ``result`` (a ReadResult), a line whose strings are not text (a lone surrogate) is
    counted there as ``bad_text`` and skipped; without it, it fails with its file and line."""
    return json_lines_of(read_text(path, encoding, label), path, shape, result)


def json_lines_of(text: str, path, shape: str, result=None) -> Iterator[tuple[int, dict]]:
    """json_lines over text already read (e.g. from a gzip file)."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(path, line_no, f"not valid JSON ({exc.msg})", shape)
        if not isinstance(record, dict):
            fail(path, line_no, "not a JSON object", shape)
        bad = lone_surrogate(line)
        if bad:
            if result is None:
                fail(path, line_no, _surrogate_message(bad[1]), shape)
            result.reject(BAD_TEXT, path, line_no, line)
            continue
        yield line_no, record


def json_document(path: Path, encoding: str, label: str, shape: str):
    """A whole-file JSON document; one lone surrogate in it fails with its line."""
    text = read_text(path, encoding, label)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(path, exc.lineno, f"not valid JSON ({exc.msg})", shape)
    bad = lone_surrogate(text)
    if bad:
        fail(path, text.count("\n", 0, bad[0]) + 1, _surrogate_message(bad[1]), shape)
    return document


def file_list(files, fmt: str, label: str) -> list[Path]:
    """The split's files as a list; named parts are for formats that take them (ChID, ...)."""
    if isinstance(files, dict):
        raise SourceError(f"{label}: format '{fmt}' takes one file or a list of files per split, "
                          "not named parts")
    return [Path(f) for f in files]


def json_records(files, fmt: str, encoding: str, label: str, shape: str
                 ) -> Iterator[tuple[Path, int, dict]]:
    """(file, line number, object) over every JSON-lines file of a split."""
    for path in file_list(files, fmt, label):
        for line_no, record in json_lines(path, encoding, label, shape):
            yield path, line_no, record
