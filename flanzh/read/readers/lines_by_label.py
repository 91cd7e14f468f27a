"""Plain-text corpora labelled by file: one text per line, one file per label.

Many Chinese sentiment corpora ship this way (``pos.txt`` and ``neg.txt``). The spec names the
parts of each split, and the part name is the label::

    source:
      format: lines_by_label
      files: {train: {pos: pos.txt, neg: neg.txt}}

Output columns: ``text`` (the line, surrounding whitespace removed, full-width spaces included)
and ``label`` (the part name). Key: ``<part>:<line number>``, stable as long as the file is.
A blank or whitespace-only line is dropped, counted as ``blank_line``. The file is decoded with
``source.encoding`` (a byte-order mark is removed); an undecodable byte fails with the offset and
an encoding to try.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame

FORMATS = ("lines_by_label",)

SCHEMA = {KEY: pl.Utf8, "text": pl.Utf8, "label": pl.Utf8}
_WHITESPACE = " \t\r\n\f\v\u3000\ufeff"


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if not isinstance(files, dict):
        raise SourceError(f"{label}: format '{fmt}' takes one file per label for each split, named "
                          "by the label, e.g. files: {train: {pos: pos.txt, neg: neg.txt}}")
    result = ReadResult(pl.DataFrame(schema=SCHEMA))
    rows = []
    for part, path in files.items():
        text = read_text(Path(path), encoding, label)
        for line_no, line in enumerate(text.splitlines(), start=1):
            value = line.strip(_WHITESPACE)
            if not value:
                result.reject("blank_line", path, line_no, line)
                continue
            rows.append({KEY: f"{part}:{line_no}", "text": value, "label": part})
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
