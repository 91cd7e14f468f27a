"""Shared pieces for raw-format readers: JSON lines and whole-JSON files with errors that name the
file, the line and the shape the reader expected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import ReadResult, rows_to_frame

# A line of only these is blank (skipped); any other character makes it a row, so a line of
# control characters such as \x1c is counted (bad_json), never dropped silently. (str.strip
# would also take \x1c-\x1f and \x85 for whitespace.)
BLANK = " \t\r\x0b\x0c"


def fail(path, line: int | str, what: str, shape: str) -> NoReturn:
    """Raise the reader error: ``<file>: line N: <what>; expected <shape>``."""
    where = f"line {line}" if isinstance(line, int) else line
    raise SourceError(f"{path}: {where}: {what}; expected {shape}")


def json_lines(path: Path, encoding: str, label: str, shape: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object fails."""
    return json_lines_of(read_text(path, encoding, label), path, shape)


def json_lines_of(text: str, path, shape: str) -> Iterator[tuple[int, dict]]:
    """json_lines over text already read (e.g. from a gzip file)."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip(BLANK):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(path, line_no, f"not valid JSON ({exc.msg})", shape)
        if not isinstance(record, dict):
            fail(path, line_no, "not a JSON object", shape)
        yield line_no, record


def json_document(path: Path, encoding: str, label: str, shape: str):
    """A whole-file JSON document."""
    try:
        return json.loads(read_text(path, encoding, label))
    except json.JSONDecodeError as exc:
        fail(path, exc.lineno, f"not valid JSON ({exc.msg})", shape)


def file_list(files, fmt: str, label: str) -> list[Path]:
    """The split's files as a list; named parts are for formats that take them (ChID, ...)."""
    if isinstance(files, dict):
        raise SourceError(f"{label}: format '{fmt}' takes one file or a list of files per split, "
                          "not named parts")
    return [Path(f) for f in files]


def guarded_json_lines(files, fmt: str, encoding: str, label: str, shape: str, schema: dict,
                       row_of) -> ReadResult:
    """Every record of a split's JSON-lines files through the row guard (``_rows.FileRows``):
    ``row_of(path, line, record, result)`` builds the row (or returns None for a drop it counted),
    a record of the wrong shape is a counted row, and a file with no readable record fails."""
    from ._rows import FileRows

    result, rows = ReadResult(pl.DataFrame()), []
    for path in file_list(files, fmt, label):
        guard = FileRows(result, path, schema)
        for line, record in json_lines(path, encoding, label, shape):
            row = guard.attempt(line, record, lambda: row_of(path, line, record, result), shape)
            if row is not None:
                rows.append(row)
        guard.done()
    result.frame = rows_to_frame(rows, schema)
    return result
