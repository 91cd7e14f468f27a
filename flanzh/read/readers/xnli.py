"""XNLI 1.0 (``XNLI-1.0.zip``: ``xnli.dev.tsv``, ``xnli.test.tsv``): one tab-separated file per
split holding every language, with a header line

    language  gold_label  sentence1_binary_parse  sentence2_binary_parse  sentence1_parse
    sentence2_parse  sentence1  sentence2  promptID  pairID  genre  label1 .. label5
    sentence1_tokenized  sentence2_tokenized  match

Fields are never quoted: a ``"`` is literal text (the HF loader reads with ``QUOTE_NONE``), so a
CSV reader with default quoting would merge lines. ``reader_options.language`` (default ``zh``)
selects one language; the other languages' rows are counted as ``out_of_scope:other_language`` (not rejects). The row key is
``pairID`` (shared by the 15 translations of a pair, unique within one language).

Output columns: ``premise`` (sentence1), ``hypothesis`` (sentence2), ``label`` (gold_label:
entailment / neutral / contradiction), ``genre``.
"""

from __future__ import annotations

import csv
import io

import polars as pl

from ...encoding import read_text
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail

FORMATS = ("xnli",)

REQUIRED = ("language", "gold_label", "sentence1", "sentence2", "pairID")
SHAPE = ("a tab-separated XNLI file with a header line naming at least "
         + ", ".join(REQUIRED) + " and the same number of fields on every line")
SCHEMA = {KEY: pl.Utf8, "premise": pl.Utf8, "hypothesis": pl.Utf8, "label": pl.Utf8,
          "genre": pl.Utf8}


def _read_file(path, encoding: str, label: str, language: str, result: ReadResult,
               rows: list[dict], seen: dict[str, str]) -> None:
    text = read_text(path, encoding, label)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        return
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        fail(path, 1, f"header lacks {', '.join(missing)} (has: {', '.join(header)})", SHAPE)
    column = {name: header.index(name) for name in header}
    for fields in reader:
        line = reader.line_num
        if not fields or fields == [""]:
            continue
        if len(fields) != len(header):
            fail(path, line, f"{len(fields)} tab-separated fields, the header has {len(header)}",
                 SHAPE)
        lang = fields[column["language"]]
        if lang != language:
            result.skip("other_language")
            continue
        key = fields[column["pairID"]]
        if key in seen:
            fail(path, line, f"pairID {key} for language {language} already on line {seen[key]}",
                 SHAPE + ", one line per pairID and language")
        seen[key] = str(line)
        rows.append({KEY: key, "premise": fields[column["sentence1"]],
                     "hypothesis": fields[column["sentence2"]],
                     "label": fields[column["gold_label"]],
                     "genre": fields[column["genre"]] if "genre" in column else None})


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        files = list(files.values())
    language = options.get("language", "zh")
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for path in files:
        _read_file(path, encoding, label, language, result, rows, seen)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """``facebook/xnli`` with a language config: ``premise``, ``hypothesis``, ``label``
    (ClassLabel entailment / neutral / contradiction). The hub rows carry no pairID, so the key is
    the row number."""
    from .flat import decode_class_labels

    frame = decode_class_labels(dataset)
    rows = [{KEY: str(i), "premise": r["premise"], "hypothesis": r["hypothesis"],
             "label": r["label"], "genre": None} for i, r in enumerate(frame.iter_rows(named=True))]
    return ReadResult(rows_to_frame(rows, SCHEMA))
