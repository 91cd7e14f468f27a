"""NLPCC-ICCPOL 2016 DBQA (document-based QA, answer-sentence selection).

The official layout is not verified here (n/v). Built to the shape public baselines read from
``nlpcc-iccpol-2016.dbqa.training-data`` / ``nlpcc-iccpol-2016.dbqa.testing-data``: plain text,
one candidate per line, ``question \\t sentence \\t label`` with label 1 when the sentence answers
the question and 0 otherwise; the candidates of one question are consecutive lines. Fields are
split on tabs only: there is no quoting (a ``"`` inside a sentence is text), which is why this is
not read as csv. A non-blank line without exactly three fields fails, naming file and line.

One row per line: ``question``, ``sentence`` and ``label`` as written (the spec's label map drops
anything other than 0/1 as ``invalid_label:label``). Key: the line number (``<file>:<line>``
when a split has several files); lines of one question share a ``__group``, so a few-shot
exemplar never comes from the query's own candidate list.
"""

from __future__ import annotations

from pathlib import Path

import xxhash

import polars as pl

from ...encoding import read_text
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list

FORMATS = ("nlpcc_dbqa",)

SHAPE = "one candidate per line: question<TAB>sentence<TAB>label (label 0 or 1)"

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "question": pl.Utf8, "sentence": pl.Utf8,
          "label": pl.Utf8}


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    rows = []
    for path in files:
        prefix = f"{Path(path).name}:" if len(files) > 1 else ""
        # split on newlines only: str.splitlines would also break at \x1c, \u2028, ... inside text
        for line_no, line in enumerate(read_text(Path(path), encoding, label).split("\n"), 1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                fail(path, line_no, f"{len(fields)} tab-separated fields", SHAPE)
            question, sentence, value = fields
            rows.append({KEY: f"{prefix}{line_no}",
                         GROUP: xxhash.xxh64_hexdigest(question.strip().encode("utf-8")),
                         "question": question, "sentence": sentence, "label": value.strip()})
    return ReadResult(rows_to_frame(rows, SCHEMA))
