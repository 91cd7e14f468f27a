"""Douban Conversation Corpus (Wu et al. 2017, MarkWuNLP/MultiTurnResponseSelection):
``train.txt`` / ``dev.txt`` / ``test.txt``, one candidate per line,
``label \\t u1 \\t ... \\t un \\t response``, so the column count varies; text is word-segmented
with spaces. Train and dev hold one positive (label 1) and, as usually read, one negative (label 0)
response per session; test holds 10 human-labelled candidates per session, sometimes several
positives and sometimes none.

Lines are grouped by session (identical context, in first-seen order). One row per positive
response: ``history`` (the context turns), ``response`` (the positive), ``candidates`` (that
positive plus the session's label-0 responses, for "which reply fits" and "is this reply right"
templates). Speakers alternate (the dialogues are dyadic); there is no speaker column.

Counted, not read: a line with fewer than three cells (``too_few_columns``), a label other than
0/1 (``invalid_label``), an empty turn in the context (``empty_turn``) -- counted per line; a
session without a positive (``no_positive_response``) or without a negative
(``no_negative_response``) -- counted per session. When the file's first line is already not this
shape, the file is something else and the reader fails. Key: the positive's line number; group:
the session's first line.

``reader_options.segmented: true`` also removes the segmentation spaces next to digits and ASCII
punctuation (``有 2 个`` -> ``有2个``, ``吗 ?`` -> ``吗?``), which the field transform
``join_cjk_spaces`` (CJK-CJK only) leaves; spaces between Latin words stay.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail
from .bitext import read_lines

FORMATS = ("douban",)

SHAPE = "label TAB utterance TAB ... TAB response, label 0 or 1, at least one context utterance"
SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "history": pl.List(pl.Utf8), "response": pl.Utf8,
          "candidates": pl.List(pl.Utf8)}

_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
_ASCII_MARK = r"[0-9!-/:-@\[-`{-~]"          # digits and ASCII punctuation, not letters
_SEGMENT_SPACE = re.compile(rf"(?<={_CJK})[ \t]+(?={_ASCII_MARK})"
                            rf"|(?<={_ASCII_MARK})[ \t]+(?={_CJK})"
                            rf"|(?<=[0-9])[ \t]+(?=[0-9])")


def tidy_segmented(text: str) -> str:
    """Remove word-segmentation spaces between CJK and digits/ASCII punctuation, and between
    digits; leave CJK-CJK spaces to the ``join_cjk_spaces`` transform and Latin words alone."""
    return _SEGMENT_SPACE.sub("", text)


def _session_rows(path: Path, context: tuple, session: dict, result: ReadResult,
                  prefix: str) -> list[dict]:
    first_line = session["first_line"]
    excerpt = "\t".join(context)
    if not session["positives"]:
        result.reject("no_positive_response", path, first_line, excerpt)
        return []
    rows = []
    positives = {text for _, text in session["positives"]}
    negatives = list(dict.fromkeys(t for t in session["negatives"] if t and t not in positives))
    for line_no, response in session["positives"]:
        if not negatives:
            result.reject("no_negative_response", path, line_no, f"{excerpt}\t{response}")
            continue
        rows.append({KEY: f"{prefix}{line_no}", GROUP: f"{path.name}:{first_line}",
                     "history": list(context), "response": response,
                     "candidates": [response, *negatives]})
    return rows


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = list(files.values()) if isinstance(files, dict) else list(files)
    tidy = tidy_segmented if options.get("segmented") else (lambda text: text)
    result = ReadResult(pl.DataFrame())
    rows: list[dict] = []
    for path in map(Path, files):
        sessions: dict[tuple, dict] = {}
        first = True
        for line_no, line in enumerate(read_lines(path, encoding, label), start=1):
            if not line.strip():
                continue
            cells = [tidy(c.strip()) for c in line.split("\t")]
            problem = None
            if len(cells) < 3:
                problem = ("too_few_columns", f"{len(cells)} tab-separated cells")
            elif cells[0] not in ("0", "1"):
                problem = ("invalid_label", f"label {cells[0]!r}")
            elif not all(cells[1:-1]):
                problem = ("empty_turn", "an empty context utterance")
            if problem is not None:
                if first:
                    fail(path, line_no, problem[1], SHAPE)
                result.reject(problem[0], path, line_no, line)
                continue
            first = False
            context = tuple(cells[1:-1])
            session = sessions.setdefault(context, {"first_line": line_no, "positives": [],
                                                    "negatives": []})
            if cells[0] == "1":
                session["positives"].append((line_no, cells[-1]))
            else:
                session["negatives"].append(cells[-1])
        for context, session in sessions.items():
            rows += _session_rows(path, context, session, result,
                                  f"{path.name}:" if len(files) > 1 else "")
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
