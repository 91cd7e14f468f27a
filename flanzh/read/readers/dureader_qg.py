"""DuReader_QG (luge.ai id=8; PaddleNLP ``load_dataset('dureader_qg')``): answer-aware question
generation built from DuReader-robust.

Files (``train.json``, ``dev.json``) are JSON lines
``{"context": str, "answer": str, "question": str, "id": int}``; PaddleNLP's loader reads
``question`` with a default (an unlabelled test file may lack it), so ``question`` may be absent.
A line whose key is missing or of the wrong JSON type, or that holds a lone surrogate, is dropped
and counted (``wrong_type:<key>``, ``lone_surrogate:<key>``) with its file and line; a file with
no readable line, a line that is not a JSON object, or a repeated ``id`` fails, naming file, line
and the expected shape.

One row per line: ``context``, ``answer`` (stripped: real answers carry stray spaces, ``" B.C."``,
``"0.09290304 "``), ``question`` (null when absent) and ``answer_start`` (the first occurrence of
the answer in the context). An empty answer is kept as "" for the pipeline to count
(``empty_field:answer``). A row whose answer does not occur verbatim in
its context cannot be a grounded question-generation example and is dropped as
``answer_not_in_context``. Key: the line's ``id``; rows sharing a context share a ``__group``.
"""

from __future__ import annotations

import xxhash

import polars as pl

from . import GROUP, KEY, ReadResult
from ._lines import fail, guarded_json_lines
from ._rows import bad

FORMATS = ("dureader_qg",)

SHAPE = 'JSON lines {"context": str, "answer": str, "question": str, "id": int}'

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "context": pl.Utf8, "answer": pl.Utf8,
          "question": pl.Utf8, "answer_start": pl.Int64}


def _string(record: dict, key: str, path, line: int, required: bool = True) -> str | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        what = f'"{key}" is missing' if key not in record else \
            f'"{key}" is {type(value).__name__}, not a string'
        bad(path, line, key, what, SHAPE)
    return value


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    seen: dict[str, int] = {}                     # id -> its first line, across the split

    def row_of(path, line_no: int, record: dict, result: ReadResult) -> dict | None:
        context = _string(record, "context", path, line_no)
        answer = _string(record, "answer", path, line_no).strip()
        question = _string(record, "question", path, line_no, required=False)
        key = record.get("id")
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            bad(path, line_no, "id", '"id" is missing or not an int/string', SHAPE)
        key = str(key)
        if key in seen:
            fail(path, line_no, f"id {key} repeats line {seen[key]}", f"{SHAPE} with unique ids")
        seen[key] = line_no
        start = context.find(answer) if answer.strip() else None
        if start == -1:
            result.reject("answer_not_in_context", path, line_no,
                          f"answer {answer!r} not in context {context[:80]!r}")
            return None
        return {KEY: key, GROUP: xxhash.xxh64_hexdigest(context.encode("utf-8")),
                "context": context, "answer": answer, "question": question,
                "answer_start": start}

    return guarded_json_lines(files, fmt, encoding, label, SHAPE, SCHEMA, row_of)
