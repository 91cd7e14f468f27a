"""C3 multiple-choice reading comprehension: positional JSON arrays, no keys at the top level.

Each file (``d-train.json`` dialogues, ``m-train.json`` mixed genre, ``-dev`` alike, ``test.json``)
is ONE JSON array of documents::

    [ [ [context line, ...], [ {"question": str, "choice": [str, ...], "answer": str}, ... ], doc_id ], ... ]

The answer is the TEXT of the correct choice; test questions carry an ``id`` and no answer.

One row per question, key ``<doc_id>:<question index>`` (prefixed with the file name if two files
of a split share a document id). Columns: ``context`` (the lines joined by newlines),
``context_lines``, ``question``, ``choices`` (repeats removed), ``answer`` (null when the file has
none) and ``genre`` (``对话`` for a ``d-`` or ``c3-d-`` file or a context whose every line is
``speaker：...``, else ``文章``). Dropped and counted: an answer that is not one of the choices
(``answer_not_in_choices``), fewer than two distinct choices (``too_few_choices``). Anything not
in this shape fails the read, naming the file and the array position.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import file_list, json_document

FORMATS = ("c3",)

SHAPE = ('[[[context line, ...], [{"question": str, "choice": [str, ...], "answer": str}, ...], '
         'doc_id], ...]')
SPEAKER = re.compile(r"^[^\s：:]{1,6}[：:]")
# The dialogue subset's files: d-train.json in the CLUE zip, c3-d-train.json in nlpdata/c3.
DIALOGUE_FILE = re.compile(r"^(c3-)?d-")

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "context": pl.Utf8, "context_lines": pl.List(pl.Utf8),
          "question": pl.Utf8, "choices": pl.List(pl.Utf8), "answer": pl.Utf8, "genre": pl.Utf8}


def _expect(condition: bool, path, where: str, what: str) -> None:
    if not condition:
        raise SourceError(f"{path}: {where}: expected {what}; a C3 file is one JSON array {SHAPE}")


def genre(lines: list[str], dialogue_file: bool) -> str:
    if dialogue_file or (len(lines) > 1 and all(SPEAKER.match(line) for line in lines)):
        return "对话"
    return "文章"


def question_row(lines: list[str], qa: dict, kind: str, result: ReadResult, path, where: str,
                 key: str, group: str) -> dict | None:
    choices = list(dict.fromkeys(c.strip() for c in qa["choice"] if c.strip()))
    answer = (qa.get("answer") or "").strip() or None     # test questions have none
    excerpt = json.dumps(qa, ensure_ascii=False)
    if len(choices) < 2:
        result.reject("too_few_choices", path, where, excerpt)
        return None
    if answer is not None and answer not in choices:
        result.reject("answer_not_in_choices", path, where, excerpt)
        return None
    return {KEY: key, GROUP: group, "context": "\n".join(lines), "context_lines": lines,
            "question": qa["question"], "choices": choices, "answer": answer, "genre": kind}


def _file_rows(document, path: Path, result: ReadResult, seen: set) -> list[dict]:
    _expect(isinstance(document, list), path, "$", "a top-level array of documents")
    rows = []
    for d, entry in enumerate(document):
        where = f"$[{d}]"
        _expect(isinstance(entry, list) and len(entry) == 3, path, where,
                "a document [context lines, questions, doc_id]")
        lines, questions, doc_id = entry
        _expect(isinstance(lines, list) and all(isinstance(x, str) for x in lines), path,
                f"{where}[0]", "a list of context lines (strings)")
        _expect(isinstance(questions, list), path, f"{where}[1]", "a list of questions")
        _expect(isinstance(doc_id, (str, int)) and not isinstance(doc_id, bool), path,
                f"{where}[2]", "a document id (string)")
        kind = genre(lines, bool(DIALOGUE_FILE.match(path.name)))
        for q, qa in enumerate(questions):
            qwhere = f"{where}[1][{q}]"
            _expect(isinstance(qa, dict) and isinstance(qa.get("question"), str)
                    and isinstance(qa.get("choice"), list)
                    and all(isinstance(c, str) for c in qa["choice"])
                    and isinstance(qa.get("answer", ""), str), path, qwhere,
                    'a question {"question": str, "choice": [str, ...], "answer": str}')
            key = f"{doc_id}:{q}"
            if key in seen:
                key = f"{path.name}:{key}"
            seen.add(key)
            row = question_row(lines, qa, kind, result, path, qwhere, key, f"{path.name}:{d}")
            if row is not None:
                rows.append(row)
    return rows


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    result = ReadResult(pl.DataFrame())
    rows, seen = [], set()
    for path in files:
        path = Path(path)
        document = json_document(path, encoding, label, f"one JSON array {SHAPE}")
        rows += _file_rows(document, path, result, seen)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """``clue/clue`` config ``c3``: one row per question ``{"id": document index, "context":
    [lines], "question", "choice", "answer"}`` ("" for test); dialogue and mixed files are
    concatenated, so the genre is inferred from the context lines."""
    result = ReadResult(pl.DataFrame())
    rows, counts = [], {}
    for n, record in enumerate(dataset):
        doc = str(record["id"])
        q = counts.get(doc, 0)
        counts[doc] = q + 1
        lines = list(record["context"])
        qa = {"question": record["question"], "choice": list(record["choice"]),
              "answer": record.get("answer") or None}
        row = question_row(lines, qa, genre(lines, False), result, label, f"hub row {n}",
                           f"{doc}:{q}", doc)
        if row is not None:
            rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
