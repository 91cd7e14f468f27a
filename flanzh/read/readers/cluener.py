"""CLUENER2020 fine-grained NER: JSON lines
``{"text": str, "label": {type: {entity: [[start, end], ...]}}}`` (``train.json``, ``dev.json``;
``test.json`` has an ``id`` and no ``label``).

Spans are checked against the text: the end is normally inclusive (``text[s:e+1] == entity``), and
an exclusive end (``text[s:e]``) is accepted too. A row with a span that matches neither is dropped
as ``span_mismatch``; a row with a type outside the ten CLUENER types is dropped as
``unknown_entity_type`` (the README's misspelling ``goverment`` is read as ``government``).

Output columns, one row per line (key: ``id`` when present, else the line number, prefixed
with the file name when a split has several files):

- ``text``;
- ``entities``: ``[{"type": 中文类型名, "text": str}]`` ordered by first position in the text;
- one ``list[str]`` column per type (``address``, ``book``, ``company``, ``game``, ``government``,
  ``movie``, ``name``, ``organization``, ``position``, ``scene``), entities in text order;
- ``summary``: ``地址：…；人名：…`` over the types present, in the order above, or ``没有``;
- ``marked``: the text with each mention written as ``【陶文彬/人名】`` (a mention overlapping an
  earlier one is left unmarked).

A test line (no ``label``) gives null for every label column. A line with a value of the wrong
JSON type (``"label": []``, a span ``["3", 5]``) or a lone surrogate is dropped and counted
(``wrong_type:<field>``, ``lone_surrogate:<key>``); a file with no readable line fails with the
first problem. Verified on the real train/dev files (hemingkx/CLUENER2020 copy): every span end
is inclusive, the key is spelled ``government``, and entity strings keep stray marks of the
text (``突袭黑暗雅典娜》``, a game name with the closing book-title mark). ``from_hub`` reads the unofficial
``xusenlin/clue-ner`` copy: ``{"text", "entities": [{"entity", "start_offset", "end_offset"
(exclusive), "label"}]}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from . import KEY, ReadResult, rows_to_frame
from ._lines import guarded_json_lines
from ._rows import bad, excerpt_of

FORMATS = ("cluener",)

SHAPE = '{"text": str, "label": {type: {entity: [[start, end], ...]}}}'
TYPES = {"address": "地址", "book": "书名", "company": "公司", "game": "游戏",
         "government": "政府机构", "movie": "电影", "name": "人名", "organization": "组织机构",
         "position": "职位", "scene": "景点"}
ALIASES = {"goverment": "government"}
NONE = "没有"

SCHEMA = {KEY: pl.Utf8, "text": pl.Utf8,
          "entities": pl.List(pl.Struct({"type": pl.Utf8, "text": pl.Utf8})),
          **{t: pl.List(pl.Utf8) for t in TYPES}, "summary": pl.Utf8, "marked": pl.Utf8}


def span_start(text: str, entity: str, start: int, end: int) -> int | None:
    """``start`` if the span holds ``entity`` with an inclusive or an exclusive end, else None."""
    if not entity or start < 0:
        return None
    if text[start:end + 1] == entity or text[start:end] == entity:
        return start
    return None


def label_columns(text: str, mentions: list[tuple[int, str, str]]) -> dict:
    """Columns from (start, type, entity) mentions."""
    first: dict[tuple[str, str], int] = {}
    for start, kind, entity in mentions:
        first[kind, entity] = min(start, first.get((kind, entity), start))
    ordered = sorted(first, key=lambda k: (first[k], list(TYPES).index(k[0])))
    row = {"entities": [{"type": TYPES[kind], "text": entity} for kind, entity in ordered]}
    parts = []
    for kind, name in TYPES.items():
        row[kind] = [entity for k, entity in ordered if k == kind]
        if row[kind]:
            parts.append(f"{name}：{'、'.join(row[kind])}")
    row["summary"] = "；".join(parts) if parts else NONE
    marked, at = [], 0
    for start, kind, entity in sorted(set(mentions)):
        if start < at:                     # overlaps a mention already marked
            continue
        marked += [text[at:start], f"【{entity}/{TYPES[kind]}】"]
        at = start + len(entity)
    row["marked"] = "".join(marked) + text[at:]
    return row


def _unlabelled() -> dict:
    return {"entities": None, **{t: None for t in TYPES}, "summary": None, "marked": None}


def _mentions(record: dict, path, line: int) -> tuple[list | None, str | None]:
    """(mentions, None), or (None, drop reason)."""
    def shape(what, field="label"):
        bad(path, line, field, what, f"JSON lines shaped {SHAPE}")

    text, label = record["text"], record["label"]
    if not isinstance(label, dict):
        shape('"label" is not an object of entity types')
    mentions = []
    for kind, entities in label.items():
        kind = ALIASES.get(kind, kind)
        if not isinstance(entities, dict):
            shape(f'label type "{kind}" does not map entity strings to span lists')
        if kind not in TYPES:
            return None, "unknown_entity_type"
        for entity, spans in entities.items():
            if not isinstance(spans, list) or not spans or not all(
                    isinstance(s, list) and len(s) == 2 and all(
                        isinstance(i, int) and not isinstance(i, bool) for i in s)
                    for s in spans):
                shape(f'entity "{entity}" does not have a list of [start, end] spans')
            for start, end in spans:
                if span_start(text, entity, start, end) is None:
                    return None, "span_mismatch"
                mentions.append((start, kind, entity))
    return mentions, None


def _line_row(record: dict, path, line: int, key_of, result: ReadResult) -> dict | None:
    if not isinstance(record.get("text"), str):
        bad(path, line, "text", '"text" is missing or not a string', f"JSON lines shaped {SHAPE}")
    row = {KEY: key_of(record), "text": record["text"]}
    if record.get("label") is None:
        row.update(_unlabelled())
        return row
    mentions, reason = _mentions(record, path, line)
    if reason:
        result.reject(reason, path, line, excerpt_of(record))
        return None
    row.update(label_columns(record["text"], mentions))
    return row


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    def key_of(record, path, line):
        if record.get("id") is not None and not isinstance(record["id"], (dict, list)):
            return str(record["id"])
        return str(line) if len(files) == 1 else f"{Path(path).name}:{line}"

    return guarded_json_lines(files, fmt, encoding, label, f"JSON lines shaped {SHAPE}", SCHEMA,
                              lambda path, line, record, result: _line_row(
                                  record, path, line, lambda r: key_of(r, path, line), result))


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame())
    rows = []
    for n, record in enumerate(dataset):
        text, entities = record["text"], record.get("entities")
        row = {KEY: str(n), "text": text}
        if entities is None:
            row.update(_unlabelled())
            rows.append(row)
            continue
        mentions, reason = [], None
        for entity in entities:
            kind = ALIASES.get(entity["label"], entity["label"])
            start, end = entity["start_offset"], entity["end_offset"]
            if kind not in TYPES:
                reason = "unknown_entity_type"
            elif not (entity["entity"] and start >= 0
                      and (text[start:end] == entity["entity"]
                           or text[start:end + 1] == entity["entity"])):
                reason = "span_mismatch"
            if reason:
                break
            mentions.append((start, kind, entity["entity"]))
        if reason:
            result.reject(reason, label, n, json.dumps(dict(record), ensure_ascii=False,
                                                       default=str))
            continue
        row.update(label_columns(text, mentions))
        rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
