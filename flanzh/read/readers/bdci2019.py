"""CCF BDCI 2019 "互联网新闻情感分析" (heywhale / DataFountain competition; download needs a login).

The competition ships the news and their labels as two CSV files joined by ``id`` (n/v against the
competition page; checked against public solutions, which all read them this way):

    Train_DataSet.csv         id,title,content      (title or content may be empty)
    Train_DataSet_Label.csv   id,label              (0 positive, 1 neutral, 2 negative)
    Test_DataSet.csv          id,title,content      (no label file)

Fields are CSV-quoted, and ``content`` often spans several physical lines. Named parts per split:
``data`` and, for labelled splits, ``labels``. A news item without a label row is counted as
``unlabeled`` (file, line) and skipped; a label row whose id has no news item as
``label_without_text``; a repeated id in the data file as ``duplicate_id``; an id labelled twice
with different labels as ``conflicting_labels`` (the same label twice is kept). A row with another
number of fields than its header is counted as ``malformed_row``. A header other than the ones
above fails with the file and the expected shape.

Output columns: ``title``, ``content``, ``label`` (the label file's value as a string; null for an
unlabelled split). Key: the news ``id``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail

FORMATS = ("bdci2019",)

DATA_HEADER = ["id", "title", "content"]
LABEL_HEADER = ["id", "label"]
SHAPE = ("named parts data (CSV with header id,title,content) and labels (CSV with header "
         "id,label), joined by id")
SCHEMA = {KEY: pl.Utf8, "title": pl.Utf8, "content": pl.Utf8, "label": pl.Utf8}


def _records(path: Path, encoding: str, label: str, header: list[str]):
    """(first line, fields) for each CSV record after the header, which must be ``header``."""
    text = read_text(path, encoding, label)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
        if first is None:
            return
        if [c.strip() for c in first] != header:
            fail(path, 1, f"header is {','.join(first)[:80]!r}, not {','.join(header)}", SHAPE)
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields or fields == [""]:
                continue                                  # a blank line
            yield start, fields
    except csv.Error as exc:
        fail(path, reader.line_num, f"not valid CSV ({exc})", SHAPE)


def _labels(path: Path, encoding: str, label: str, result: ReadResult) -> dict[str, list]:
    """id -> [label, line, conflicting] for every well-formed label row."""
    labels: dict[str, list] = {}
    for line, fields in _records(path, encoding, label, LABEL_HEADER):
        if len(fields) != len(LABEL_HEADER):
            result.reject("malformed_row", path, line, ",".join(fields))
            continue
        news_id, value = fields[0].strip(), fields[1].strip()
        if news_id in labels:
            labels[news_id][2] |= labels[news_id][0] != value
            continue
        labels[news_id] = [value, line, False]
    return labels


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if not isinstance(files, dict) or "data" not in files or set(files) - {"data", "labels"}:
        names = ", ".join(files) if isinstance(files, dict) else "a file list"
        raise SourceError(f"{label}: format '{fmt}' takes named parts 'data' and optionally "
                          f"'labels' (e.g. {{data: Train_DataSet.csv, labels: "
                          f"Train_DataSet_Label.csv}}); got {names}")
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    labels = _labels(files["labels"], encoding, label, result) if "labels" in files else None
    rows, seen = [], set()
    data = files["data"]
    for line, fields in _records(data, encoding, label, DATA_HEADER):
        if len(fields) != len(DATA_HEADER):
            result.reject("malformed_row", data, line, ",".join(fields))
            seen.add(fields[0].strip())            # its label row is not an orphan as well
            continue
        news_id, title, content = fields[0].strip(), fields[1], fields[2]
        if news_id in seen:
            result.reject("duplicate_id", data, line, ",".join(fields))
            continue
        seen.add(news_id)
        value = None
        if labels is not None:
            if news_id not in labels:
                result.reject("unlabeled", data, line, ",".join(fields))
                continue
            if labels[news_id][2]:
                result.reject("conflicting_labels", data, line, ",".join(fields))
                continue
            value = labels[news_id][0]
        rows.append({KEY: news_id, "title": title, "content": content, "label": value})
    if labels is not None:
        for news_id, entry in labels.items():
            if news_id not in seen:
                result.reject("label_without_text", files["labels"], entry[1],
                              f"{news_id},{entry[0]}")
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
