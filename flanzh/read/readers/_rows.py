"""Row guard for record readers: one bad record is a counted row, not a failed task.

A record whose value has the wrong JSON type (``"subject_type": 5`` where a string is expected, a
list where an object is expected) or whose text holds a lone surrogate (``"\\ud800"``, which
Python's json accepts and no UTF-8 writer does) is dropped and counted as
``wrong_type:<field>`` (the field's own name) or ``lone_surrogate:<key>`` (the record's
top-level key that holds it), with its file and line in the rejects.
Only when a file gives no readable record at all is it something else than the expected format:
then the first problem is raised as the reader error (``<file>: line N: ...; expected <shape>``).

Readers raise :class:`RowProblem` through :func:`bad` inside :meth:`FileRows.attempt`; rows
returned by the attempt are also checked against the reader's polars schema, so a value that
slipped past the reader's own checks is counted too, instead of failing the frame build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NoReturn

import polars as pl

from ...errors import SourceError
from . import ReadResult


class RowProblem(SourceError):
    """One record is not in the expected shape; ``reason`` is its drop reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def where_text(line) -> str:
    return f"line {line}" if isinstance(line, int) else str(line)


def bad(path, line, field: str | None, what: str, shape: str, kind: str = "wrong_type"
        ) -> NoReturn:
    """Raise the row problem ``<kind>:<field>`` (``<kind>`` when ``field`` is None) with the
    reader error text."""
    reason = kind if field is None else f"{kind}:{field}"
    raise RowProblem(reason, f"{path}: {where_text(line)}: {what}; expected {shape}")


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def surrogate_at(value, where: str = "") -> str | None:
    """The JSON path (``spo_list[0].subject``) of the first string or key holding a lone
    surrogate, or None."""
    if isinstance(value, str):
        return (where or "$") if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _has_surrogate(key):
                return name.encode("utf-8", "backslashreplace").decode("utf-8")
            found = surrogate_at(item, name)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = surrogate_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


def safe(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udxxx`` escapes (for excerpts)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def excerpt_of(record) -> str:
    if isinstance(record, str):
        return safe(record)
    return safe(json.dumps(record, ensure_ascii=False, default=str))


def _conforms(value, dtype) -> bool:
    if value is None:
        return True
    if dtype == pl.Utf8:
        return isinstance(value, str)
    if isinstance(dtype, pl.List):
        return isinstance(value, list) and all(_conforms(v, dtype.inner) for v in value)
    if isinstance(dtype, pl.Struct):
        return isinstance(value, dict) and all(_conforms(value.get(f.name), f.dtype)
                                               for f in dtype.fields)
    if dtype.is_integer():
        return isinstance(value, int) and not isinstance(value, bool)
    if dtype.is_float():
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype == pl.Boolean:
        return isinstance(value, bool)
    return True


def check_rows(rows: list[dict], schema: dict, path, line) -> None:
    """Raise ``wrong_type:<column>`` for the first value a frame of ``schema`` cannot hold."""
    for row in rows:
        for column, dtype in schema.items():
            if not _conforms(row.get(column), dtype):
                bad(path, line, column, f'column "{column}" got {type(row[column]).__name__} '
                    f"{safe(repr(row[column]))[:60]}", "values of the reader's schema")


class FileRows:
    """Counts a file's records; see the module doc."""

    def __init__(self, result: ReadResult, path, schema: dict | None = None):
        self.result, self.path, self.schema = result, path, schema
        self.readable = 0
        self.first: RowProblem | None = None

    def attempt(self, line, record, build: Callable, shape: str = "text without lone "
                "surrogates", number: int | None = None):
        """``build()``'s result, or None when the record is counted as a row problem. ``build``
        returns a row dict, a list of row dicts, or None (a drop it counted itself). ``line``
        is the place in messages (a line number or a JSON path); ``number`` the one the reject
        records (``line`` when it is a number)."""
        try:
            field = surrogate_at(record)
            if field is not None:
                top = re.split(r"[.\[]", field, maxsplit=1)[0] or field
                bad(self.path, line, top, f"{field} holds a lone surrogate (an unpaired "
                    "\\ud800-\\udfff escape), which is not text", shape, kind="lone_surrogate")
            out = build()
            if self.schema is not None and out is not None:
                check_rows(out if isinstance(out, list) else [out], self.schema, self.path, line)
        except RowProblem as problem:
            if number is None:
                number = line if isinstance(line, int) else 0
            self.result.reject(problem.reason, self.path, number, excerpt_of(record))
            self.first = self.first or problem
            return None
        self.readable += 1
        return out

    def done(self) -> None:
        """Fail when the file had records and none of them was readable."""
        if self.readable == 0 and self.first is not None:
            raise SourceError(str(self.first))
