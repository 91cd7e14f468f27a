"""Tianchi TCM literature question generation (中医文献问题生成, tianchi dataset 86895).

The official format is not verified here (n/v). Built to the shape public solutions of the
competition read: ``round1_train_0907.json`` is ONE JSON document, a list of documents
``[{"id": int|str, "text": str, "annotations": [{"Q": str, "A": str}, ...]}, ...]``; the test file
``round1_test_0907.json`` has the same shape with the questions missing or empty. Anything else
fails, naming the file, the place (``$[3].annotations[1]``) and this shape.

One row per annotation: ``text``, ``question`` (null when absent), ``answer`` (stripped) and
``answer_start``. An annotation whose answer does not occur verbatim in the text is dropped as
``answer_not_in_context`` (in the real data many answers are paraphrases of the text).
Key: ``<document id>:<annotation index>``; annotations of one document share a ``__group``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list, json_document

FORMATS = ("tcm_qg",)

SHAPE = ('one JSON list [{"id": int|str, "text": str, "annotations": [{"Q": str, "A": str}]}] '
         "(tianchi 86895 layout, n/v)")

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "doc_id": pl.Utf8, "text": pl.Utf8, "question": pl.Utf8,
          "answer": pl.Utf8, "answer_start": pl.Int64}


def _rows(document, path, result: ReadResult) -> list[dict]:
    if not isinstance(document, list):
        fail(path, "$", f"the document is a JSON {type(document).__name__}, not a list", SHAPE)
    rows, seen = [], set()
    for d, item in enumerate(document):
        where = f"$[{d}]"
        if not isinstance(item, dict):
            fail(path, where, "not an object", SHAPE)
        doc_id, text, annotations = item.get("id"), item.get("text"), item.get("annotations")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (int, str)):
            fail(path, where, '"id" is missing or not an int/string', SHAPE)
        if not isinstance(text, str):
            fail(path, where, '"text" is missing or not a string', SHAPE)
        if not isinstance(annotations, list):
            fail(path, where, '"annotations" is missing or not a list', SHAPE)
        for i, annotation in enumerate(annotations):
            awhere = f"{where}.annotations[{i}]"
            if not isinstance(annotation, dict):
                fail(path, awhere, "not an object", SHAPE)
            question, answer = annotation.get("Q"), annotation.get("A")
            if not isinstance(answer, str):
                fail(path, awhere, '"A" is missing or not a string', SHAPE)
            if question is not None and not isinstance(question, str):
                fail(path, awhere, '"Q" is not a string', SHAPE)
            key = f"{doc_id}:{i}"
            if key in seen:
                raise SourceError(f"{path}: {where}: document id {doc_id} repeats; expected "
                                  "unique document ids")
            seen.add(key)
            answer = answer.strip()
            start = text.find(answer) if answer else None
            if start == -1:
                result.reject("answer_not_in_context", path, None,
                              f"{awhere}: answer {answer[:60]!r} not in the text")
                continue
            rows.append({KEY: key, GROUP: f"{Path(path).name}:{doc_id}", "doc_id": str(doc_id),
                         "text": text, "question": question, "answer": answer,
                         "answer_start": start})
    return rows


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows = []
    for path in files:
        rows += _rows(json_document(path, encoding, label, SHAPE), path, result)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
