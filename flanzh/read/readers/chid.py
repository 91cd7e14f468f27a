"""ChID idiom cloze, in both upstream releases. One row per blank.

- Original (chujiezheng/ChID-Dataset), JSON lines:
  ``{"content": str with "#idiom#" blanks, "groundTruth": [idiom per blank],
  "candidates": [[7 idioms] per blank], "realCount": int}``; blank i goes with candidates[i]
  and groundTruth[i]. Key: ``<line>:<blank>``.
- CLUE competition release: ``{"candidates": [10 idioms], "content": [passage, ...]}`` lines whose
  passages hold numbered markers ``#idiom123#``; gold candidate indices come from a separate
  answer file ``{"#idiom123#": index}`` (named part ``answers``; absent for the test split).
  Key: the marker.
- FewCLUE copy (CLUEbenchmark/FewCLUE datasets/chid/), JSON lines
  ``{"id": int, "candidates": [7 idioms], "content": str with ONE "#idiom#", "answer": index}``
  (``answer`` absent in the unlabelled test.json). Key: the id (the line number without one).
  An answer that is not an integer index into the candidates drops the line, counted as
  ``wrong_type:answer`` or ``answer_out_of_range``; more than one blank with a flat candidate
  list is refused.

Output columns: ``passage`` (the blank shown as ``reader_options.blank``, other blanks filled with
their gold idiom, or the neutral blank when unknown), ``candidates``, ``answer`` (null when unknown).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, json_document, json_lines

FORMATS = ("chid",)

ORIGINAL_MARK = "#idiom#"
NUMBERED_MARK = re.compile(r"#idiom\d+#")
DEFAULT_BLANK = "＿＿＿＿"
OTHER_BLANK = "__"
SHAPES = ('original: {"content": "...#idiom#...", "groundTruth": [str], "candidates": [[str]]}; '
          'CLUE: {"candidates": [str], "content": [str with #idiomN#]} plus an answers file '
          '{"#idiomN#": index}; FewCLUE: {"id": int, "candidates": [str], '
          '"content": "...#idiom#...", "answer": index}')

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "passage": pl.Utf8, "candidates": pl.List(pl.Utf8),
          "answer": pl.Utf8}


def _fail(path, line: int, what: str):
    fail(path, line, what, f"ChID lines shaped {SHAPES}")


def _original_rows(record: dict, path, line: int, blank: str) -> list[dict]:
    content, candidates = record["content"], record.get("candidates")
    truths = record.get("groundTruth")
    pieces = content.split(ORIGINAL_MARK)
    count = len(pieces) - 1
    if count == 0:
        _fail(path, line, "content has no #idiom# blank")
    if not isinstance(candidates, list) or len(candidates) != count:
        _fail(path, line, f"{count} blanks but {len(candidates or [])} candidate lists")
    if truths is not None and (not isinstance(truths, list) or len(truths) != count):
        _fail(path, line, f"{count} blanks but groundTruth has {len(truths or [])} idioms")
    rows = []
    for i in range(count):
        text = pieces[0]
        for j in range(1, count + 1):
            if j - 1 == i:
                filler = blank
            else:
                filler = truths[j - 1] if truths else OTHER_BLANK
            text += filler + pieces[j]
        rows.append({KEY: f"{line}:{i}", GROUP: f"{Path(path).name}:{line}", "passage": text,
                     "candidates": list(candidates[i]), "answer": truths[i] if truths else None})
    return rows


def _is_fewclue(record: dict) -> bool:
    """A FewCLUE line: a string passage with a flat list of idioms (the original release has a
    list of candidate lists, one per blank, and groundTruth)."""
    candidates = record.get("candidates")
    return ("groundTruth" not in record and isinstance(candidates, list) and bool(candidates)
            and all(isinstance(c, str) for c in candidates))


def _fewclue_row(record: dict, path, line: int, blank: str, result: ReadResult) -> dict | None:
    content, candidates = record["content"], record["candidates"]
    count = content.count(ORIGINAL_MARK)
    if count != 1:
        _fail(path, line, f"{count} #idiom# blanks with one flat candidate list (a FewCLUE line "
              "has exactly one blank; the original release lists candidates per blank)")
    answer = record.get("answer")
    excerpt = json.dumps(record, ensure_ascii=False)
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, int)):
        result.reject("wrong_type:answer", path, line, excerpt)
        return None
    if answer is not None and not 0 <= answer < len(candidates):
        result.reject("answer_out_of_range", path, line, excerpt)
        return None
    key = str(record["id"]) if record.get("id") is not None else f"{line}:0"
    return {KEY: key, GROUP: f"{Path(path).name}:{line}",
            "passage": content.replace(ORIGINAL_MARK, blank), "candidates": list(candidates),
            "answer": None if answer is None else candidates[answer]}


def _clue_rows(record: dict, answers: dict | None, path, line: int, blank: str) -> list[dict]:
    candidates = record.get("candidates")
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        _fail(path, line, '"candidates" is not a list of idioms')
    rows = []
    for number, passage in enumerate(record["content"]):
        if not isinstance(passage, str):
            _fail(path, line, '"content" holds a non-string passage')

        def gold(marker: str) -> str | None:
            if answers is None:
                return None
            if marker not in answers:
                raise SourceError(f"{path}: line {line}: marker {marker} has no entry in the "
                                  "answers file; is it the answer file of the same split?")
            index = answers[marker]
            if not isinstance(index, int) or not 0 <= index < len(candidates):
                _fail(path, line, f"answer index {index!r} for {marker} is outside candidates")
            return candidates[index]

        for marker in NUMBERED_MARK.findall(passage):
            text = NUMBERED_MARK.sub(
                lambda m: blank if m.group(0) == marker else (gold(m.group(0)) or OTHER_BLANK),
                passage)
            rows.append({KEY: marker, GROUP: f"{Path(path).name}:{line}:{number}", "passage": text,
                         "candidates": list(candidates), "answer": gold(marker)})
    return rows


def _load_answers(path: Path, encoding: str, label: str) -> dict:
    answers = json_document(path, encoding, label, '{"#idiomN#": candidate_index, ...}')
    if not isinstance(answers, dict):
        raise SourceError(f'{path}: expected one JSON object {{"#idiomN#": candidate_index, ...}}')
    return answers


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    blank = options.get("blank", DEFAULT_BLANK)
    answers = None
    if isinstance(files, dict):
        if "data" not in files:
            raise SourceError(f"{label}: chid takes named parts 'data' and optionally 'answers'; "
                              f"got {', '.join(files)}")
        if "answers" in files:
            answers = _load_answers(files["answers"], encoding, label)
        data_files = [files["data"]]
    else:
        data_files = list(files)
    rows, result = [], ReadResult(pl.DataFrame())
    for path in data_files:
        for line_no, record in json_lines(path, encoding, label, f"ChID lines shaped {SHAPES}"):
            content = record.get("content")
            if isinstance(content, str) and _is_fewclue(record):
                row = _fewclue_row(record, path, line_no, blank, result)
                rows += [row] if row is not None else []
            elif isinstance(content, str):
                rows += _original_rows(record, path, line_no, blank)
            elif isinstance(content, list):
                rows += _clue_rows(record, answers, path, line_no, blank)
            else:
                _fail(path, line_no, '"content" is neither a string nor a list of passages')
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """HF clue/chid rows: ``content`` passages, ``candidates`` and ``answers`` (one per marker,
    in reading order across the passages; empty for the test split)."""
    blank = options.get("blank", DEFAULT_BLANK)
    rows = []
    for n, record in enumerate(dataset):
        markers = [m for passage in record["content"] for m in NUMBERED_MARK.findall(passage)]
        answer_texts = (record.get("answers") or {}).get("text") or []
        if answer_texts and len(answer_texts) != len(markers):
            raise SourceError(f"{label}: hub row {n}: {len(markers)} markers but "
                              f"{len(answer_texts)} answers")
        index = {m: candidate for m, candidate in zip(markers, answer_texts)}
        answers = {m: record["candidates"].index(t) for m, t in index.items()} if index else None
        rows += _clue_rows(record, answers, label, n, blank)
    return ReadResult(rows_to_frame(rows, SCHEMA))
