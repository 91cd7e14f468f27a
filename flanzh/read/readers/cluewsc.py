"""CLUEWSC2020 (Winograd schema, pronoun coreference), JSON lines:

    {"target": {"span1_text": str, "span1_index": int, "span2_text": str, "span2_index": int},
     "idx": int, "label": "true"|"false", "text": str}

span1 is a candidate noun phrase, span2 the pronoun; the indices are character offsets into
``text``. The test file has ``id`` instead of ``idx`` and no ``label``.

Each span is checked against its offset. A span that is not at its offset is looked up in the
text and the nearest occurrence is used (a few upstream offsets are shifted); a row whose span is
not in the text at all is dropped as ``span_not_in_text``. Row key: ``idx`` (``id`` in the test
file); a key seen before in the split gets ``@<line>`` appended.

Output columns: ``text``; ``marked`` (the text with the pronoun at its offset wrapped in
``reader_options.mark``, default 【】, so a template can say which of several 他 is meant);
``noun``, ``noun_index``, ``pronoun``, ``pronoun_index``; ``label`` (raw "true"/"false", null when
absent).
"""

from __future__ import annotations

import polars as pl

from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, json_lines
from .squad import locate_answer

FORMATS = ("cluewsc",)

SHAPE = ('CLUEWSC2020 lines shaped {"text": str, "target": {"span1_text": str, "span1_index": '
         'int, "span2_text": str, "span2_index": int}, "idx": int, "label": "true"|"false"}')
DEFAULT_MARK = "【】"
SCHEMA = {KEY: pl.Utf8, "text": pl.Utf8, "marked": pl.Utf8, "noun": pl.Utf8,
          "noun_index": pl.Int64, "pronoun": pl.Utf8, "pronoun_index": pl.Int64, "label": pl.Utf8}


def _mark(options: dict, label: str) -> tuple[str, str]:
    mark = options.get("mark", DEFAULT_MARK)
    if not isinstance(mark, str) or len(mark) != 2:
        from ...errors import SourceError

        raise SourceError(f"{label}: reader_options.mark must be two characters (opening and "
                          f"closing), e.g. 【】; got {mark!r}")
    return mark[0], mark[1]


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def wsc_row(record: dict, key: str, mark: tuple[str, str], where, line, result: ReadResult
            ) -> dict | None:
    """One output row, or None (counted) when a span is not in the text. ``where``/``line`` name
    the place for errors and reject examples."""
    text, target = record.get("text"), record.get("target")
    if not isinstance(text, str):
        fail(where, line, '"text" is missing or not a string', SHAPE)
    if not isinstance(target, dict):
        fail(where, line, '"target" is missing or not an object', SHAPE)
    spans = {}
    for n in ("1", "2"):
        span, index = target.get(f"span{n}_text"), target.get(f"span{n}_index")
        if not isinstance(span, str) or not span or not _is_index(index):
            fail(where, line, f'target.span{n}_text must be a non-empty string and '
                              f'target.span{n}_index an integer (got {span!r}, {index!r})', SHAPE)
        at = locate_answer(text, span, index)
        if at is None:
            result.reject("span_not_in_text", where, line,
                          f"span{n} {span!r} not in text: {text}")
            return None
        spans[n] = (span, at)
    (noun, noun_at), (pronoun, pronoun_at) = spans["1"], spans["2"]
    marked = (text[:pronoun_at] + mark[0] + pronoun + mark[1] + text[pronoun_at + len(pronoun):])
    raw_label = record.get("label")
    return {KEY: key, "text": text, "marked": marked, "noun": noun, "noun_index": noun_at,
            "pronoun": pronoun, "pronoun_index": pronoun_at,
            "label": None if raw_label is None else str(raw_label).lower()}


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        files = list(files.values())
    mark = _mark(options, label)
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows, seen = [], set()
    for path in files:
        for line_no, record in json_lines(path, encoding, label, SHAPE):
            key = record.get("idx", record.get("id"))
            key = str(line_no) if key is None else str(key)
            if key in seen:
                key = f"{key}@{line_no}"
            seen.add(key)
            row = wsc_row(record, key, mark, path, line_no, result)
            if row is not None:
                rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """HF ``clue/clue`` config ``cluewsc2020``: ``idx``, ``text``, ``label`` (ClassLabel
    ["true", "false"], -1 on the test split) and the same nested ``target``."""
    from .flat import decode_class_labels

    mark = _mark(options, label)
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows = []
    for n, record in enumerate(decode_class_labels(dataset).iter_rows(named=True)):
        key = str(record.get("idx", n))
        row = wsc_row(record, key, mark, label, f"hub row {n}", result)
        if row is not None:
            rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
