"""AdvertiseGen (Shao et al. 2019; luge.ai id=9; HF mirror ``shibing624/AdvertiseGen``): JSON lines
``{"content": "类型#上衣*版型#宽松*风格#简约*风格#青春", "summary": "广告文案"}``.

``content`` is ``key#value`` pairs joined by ``*``; a key may repeat (``风格#简约*风格#青春``). Each
pair is split on its first ``#``. The reader adds readable columns:

- ``attributes``: one ``键：值`` item per key, in order of first appearance, the values of a repeated
  key grouped (``风格：简约、青春``); a pair repeated verbatim is kept once;
- ``attribute_text``: the same items joined with ``；``;
- ``category``: the value of ``类型`` (null when the content has none).

A pair without ``#`` or with an empty key or value makes the whole row unusable (its attributes
would be wrong): the row is counted as ``malformed_content`` with an example, not read.

The released summaries are detokenised model vocabulary: a word outside it was written as the
literal token ``<UNK>`` (``嘻哈玩转童年，随时<UNK>，没错``) -- 300 of the 1,070 dev lines of a public
copy hold one or more. Such a summary is not text a model should learn to write, nor a fair
description to write attributes from, so the row is counted as ``unk_in_summary`` and not read.
Brand names were replaced by the placeholder ``BRAND`` (``这款BRAND针织两件套``); those rows are
kept, the placeholder reading as "this brand".

A line with a value of the wrong JSON type (``content`` not a string, ``summary`` not a string
or null) or a lone surrogate is counted (``wrong_type:<field>``, ``lone_surrogate:<key>``); a file
with no readable line fails with the file and line.
"""

from __future__ import annotations

import polars as pl

from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import guarded_json_lines
from ._rows import bad

FORMATS = ("advertisegen",)

SHAPE = '{"content": "键#值*键#值*...", "summary": str} per line'
SCHEMA = {KEY: pl.Utf8, "content": pl.Utf8, "attributes": pl.List(pl.Utf8),
          "attribute_text": pl.Utf8, "category": pl.Utf8, "summary": pl.Utf8}

CATEGORY_KEY = "类型"
UNK = "<UNK>"


def parse_content(content: str) -> list[tuple[str, str]] | str:
    """[(key, value), ...] in order, or the first bad pair (a string) when one is malformed."""
    pairs = []
    for pair in content.split("*"):
        key, sep, value = pair.partition("#")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            return pair
        pairs.append((key, value))
    return pairs


def group_pairs(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        values = grouped.setdefault(key, [])
        if value not in values:
            values.append(value)
    return grouped


def _row(key: str, content: str, summary, pairs) -> dict:
    grouped = group_pairs(pairs)
    attributes = [f"{k}：{'、'.join(v)}" for k, v in grouped.items()]
    category = grouped.get(CATEGORY_KEY)
    return {KEY: key, "content": content, "attributes": attributes,
            "attribute_text": "；".join(attributes),
            "category": "、".join(category) if category else None, "summary": summary}


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    def row_of(path, line_no: int, record: dict, result: ReadResult) -> dict | None:
        content, summary = record.get("content"), record.get("summary")
        if not isinstance(content, str):
            bad(path, line_no, "content", '"content" is missing or not a string', SHAPE)
        if summary is not None and not isinstance(summary, str):
            bad(path, line_no, "summary", '"summary" is not a string', SHAPE)
        return _checked_row(str(line_no), content, summary, result, path, line_no)

    return guarded_json_lines(files, fmt, encoding, label, SHAPE, SCHEMA, row_of)


def _checked_row(key: str, content: str, summary, result: ReadResult, where, line: int
                 ) -> dict | None:
    """The row, or None after counting ``malformed_content`` / ``unk_in_summary``."""
    pairs = parse_content(content)
    if isinstance(pairs, str):
        result.reject("malformed_content", where, line, f"bad pair {pairs!r} in {content}")
        return None
    if isinstance(summary, str) and UNK in summary:
        result.reject("unk_in_summary", where, line, summary)
        return None
    return _row(key, content, summary, pairs)


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows = []
    for n, record in enumerate(dataset):
        content = record.get("content")
        if not isinstance(content, str):
            raise SourceError(f"{label}: hub row {n}: expected columns content, summary; got "
                              f"{', '.join(record)}")
        row = _checked_row(str(n + 1), content, record.get("summary"), result, f"{label} hub",
                           n)                                            # key: line number
        if row is not None:
            rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
