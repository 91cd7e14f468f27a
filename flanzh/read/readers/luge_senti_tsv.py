"""The sentence-level sentiment TSVs of the luge.ai / PaddleNLP releases (ChnSentiCorp, luge id=25;
NLPCC14-SC, luge id=20): one header line, then one row per line, tab-separated, no quoting.

The header names the columns; checked against the public loaders (PaddleNLP ``chnsenticorp.py``
and the HF ``ChnSentiCorp`` script that reads the same zip with ``csv.QUOTE_NONE``):

    train.tsv   label<TAB>text_a
    dev.tsv     qid<TAB>label<TAB>text_a
    test.tsv    qid<TAB>text_a          (no gold label)

Quotes are ordinary characters (a review that starts with ``"`` is not a quoted field), so this
reader splits lines itself instead of going through a CSV parser. ``text_a`` is the last column:
a line with more tabs than the header keeps them in the text. A line with fewer fields than the
header is counted as ``missing_columns`` (file, line) and skipped; a repeated ``qid`` as
``duplicate_key``. A header that lacks ``text_a`` or names other columns fails with the file and
the expected shape, so another release is noticed instead of half-read.

Output columns: the header's (``label`` and ``qid`` as strings, ``text_a``). Key: ``qid`` where the
file has one, else the line number (prefixed with the file name when a split has several files).
``from_hub`` reads the HF copy (``lansinuote/ChnSentiCorp``: ``text``, ``label`` 0/1) into the same
columns.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list

FORMATS = ("luge_senti_tsv",)

KNOWN_COLUMNS = ("qid", "label", "text_a")
SHAPE = ("a tab-separated file whose first line is a header such as 'label<TAB>text_a' (train), "
         "'qid<TAB>label<TAB>text_a' (dev) or 'qid<TAB>text_a' (test), text_a last")


def _header(path, line_no: int, line: str) -> list[str]:
    columns = [c.strip() for c in line.split("\t")]
    if not columns or columns[-1] != "text_a":
        fail(path, line_no, f"header is {line[:80]!r}, without text_a as its last column", SHAPE)
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    if unknown or len(set(columns)) != len(columns):
        fail(path, line_no, f"header is {line[:80]!r}: unexpected or repeated columns", SHAPE)
    return columns


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    files = [Path(p) for p in files]
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    schema = None
    for path in files:
        header = None
        lines = read_text(path, encoding, label).split("\n")
        for line_no, line in enumerate(lines, start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            if header is None:
                header = _header(path, line_no, line)
                if schema is None:
                    schema = {KEY: pl.Utf8, **{c: pl.Utf8 for c in header}}
                elif set(header) != set(schema) - {KEY}:
                    fail(path, line_no, f"header {header} differs from the split's first file "
                         f"({[c for c in schema if c != KEY]})", SHAPE)
                continue
            fields = line.split("\t", len(header) - 1)      # extra tabs stay in text_a
            if len(fields) < len(header):
                result.reject("missing_columns", path, line_no, line)
                continue
            row = {c: (v if c == "text_a" else v.strip()) for c, v in zip(header, fields)}
            if "qid" in row:
                key = row["qid"]
            else:
                key = str(line_no) if len(files) == 1 else f"{path.name}:{line_no}"
            if key in seen:
                result.reject("duplicate_key", path, line_no, line)
                continue
            seen.add(key)
            rows.append({KEY: key, **row})
    result.frame = rows_to_frame(rows, schema)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """The HF copy: ``text`` and an integer ``label`` (0 negative, 1 positive; -1 or absent on
    test rows), shaped like the raw train file."""
    frame = pl.from_arrow(dataset.data.table)
    text = "text_a" if "text_a" in frame.columns else "text"
    if text not in frame.columns:
        raise SourceError(f"{label}: hub copy has no 'text' column (columns: "
                          f"{', '.join(frame.columns)}); expected text and label")
    columns = [pl.int_range(pl.len()).cast(pl.Utf8).alias(KEY), pl.col(text).alias("text_a")]
    if "label" in frame.columns:
        columns.append(pl.when(pl.col("label") >= 0).then(pl.col("label").cast(pl.Utf8))
                       .alias("label"))
    return ReadResult(frame.select(columns))
