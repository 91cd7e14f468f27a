"""Character-level BIO named-entity data in the Hugging Face token-classification shape (MSRA NER:
``levow/msra_ner``), as JSON lines ``{"id": str, "tokens": [char], "ner_tags": [int]}`` (the hub
copy exported with ``Dataset.to_json``) or as the hub copy itself (``from_hub``).

The integer tags index ``reader_options.tags`` (default MSRA's ``O, B-PER, I-PER, B-ORG, I-ORG,
B-LOC, I-LOC``; the hub copy's ClassLabel names win when present). The BIO sequence is decoded to
entity spans: ``B-X`` opens an entity, ``I-X`` continues an open ``X`` entity and otherwise opens a
new one (an ``I-`` without its ``B-`` is common in hand-made data), ``O`` closes.

Output columns, one row per sentence (key: ``id``, else the line number):

- ``text``: the tokens joined;
- ``entities``: ``[{"type": 中文类型名, "text": str}]`` in order of first appearance, no repeats;
- one ``list[str]`` column per entity type (``reader_options.types``: code -> [column, 中文名];
  default PER -> persons/人名, LOC -> locations/地名, ORG -> organizations/机构名);
- ``summary``: ``人名：张三、李四；地名：北京`` in the order of ``types``, or ``没有`` when the
  sentence has no entity;
- ``marked``: the text with each entity mention written as ``【张三/人名】``.

Malformed rows are dropped and counted, with examples: a tag id that is not an integer index into
the tag list (``invalid_tag_id``), tokens and tags of different lengths (``tags_length_mismatch``).
A line with a value of the wrong JSON type (``tokens`` not a list of strings, ``ner_tags`` not a
list) or a lone surrogate is counted too (``wrong_type:<field>``, ``lone_surrogate:<key>``); a
file with no readable line fails with the first problem. The hub copy's test split ends with an
empty sentence (``{"id": "3442", "tokens": [], "ner_tags": []}``: the loading script yields the
buffer left after the file's final blank line); it is read as an empty text, which the pipeline
drops as ``empty_field:text``.
"""

from __future__ import annotations

import json

import polars as pl

from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import file_list, json_lines
from ._rows import FileRows, bad, excerpt_of

FORMATS = ("hf_bio",)

SHAPE = '{"id": str, "tokens": [str], "ner_tags": [int]}'
DEFAULT_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
DEFAULT_TYPES = {"PER": ["persons", "人名"], "LOC": ["locations", "地名"],
                 "ORG": ["organizations", "机构名"]}
NONE = "没有"


def _types(options: dict) -> dict[str, tuple[str, str]]:
    types = options.get("types", DEFAULT_TYPES)
    if not isinstance(types, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
            for v in types.values()):
        raise SourceError("reader_options.types: expected {type code: [column, 中文名], ...}")
    return {code: (column, name) for code, (column, name) in types.items()}


def _check_tags(tags, types: dict, where: str) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SourceError(f"{where}: expected a list of BIO tag names such as {DEFAULT_TAGS}")
    for tag in tags:
        if tag != "O" and not (tag[:2] in ("B-", "I-") and tag[2:] in types):
            raise SourceError(f"{where}: tag '{tag}' is neither O nor B-/I- of a type in "
                              f"reader_options.types ({', '.join(types)})")
    return tags


def schema(types: dict) -> dict:
    out = {KEY: pl.Utf8, "text": pl.Utf8,
           "entities": pl.List(pl.Struct({"type": pl.Utf8, "text": pl.Utf8}))}
    out.update({column: pl.List(pl.Utf8) for column, _ in types.values()})
    out["summary"] = pl.Utf8
    out["marked"] = pl.Utf8
    return out


def decode(tokens: list[str], tags: list[str]) -> list[tuple[str, int, int]]:
    """(type code, first token, end token) for each entity, in reading order (repeats kept)."""
    spans: list[list] = []                 # [code, start, end]
    current = None
    for i, tag in enumerate(tags[:len(tokens)]):
        if tag == "O":
            current = None
            continue
        prefix, code = tag[:2], tag[2:]
        if prefix == "I-" and current is not None and current[0] == code:
            current[2] = i + 1
        else:                              # B-X, or an I-X that does not continue an X entity
            current = [code, i, i + 1]
            spans.append(current)
    return [(code, start, end) for code, start, end in spans]


def summarise(tokens: list[str], spans: list[tuple[str, int, int]], types: dict) -> dict:
    """The output columns for a sentence's decoded entity spans."""
    seen, unique = set(), []
    for code, start, end in spans:
        text = "".join(tokens[start:end])
        if (code, text) not in seen:
            seen.add((code, text))
            unique.append((code, text))
    row = {"entities": [{"type": types[code][1], "text": text} for code, text in unique]}
    parts = []
    for code, (column, name) in types.items():
        names = [text for c, text in unique if c == code]
        row[column] = names
        if names:
            parts.append(f"{name}：{'、'.join(names)}")
    row["summary"] = "；".join(parts) if parts else NONE
    marked, at = [], 0
    for code, start, end in spans:
        marked.append("".join(tokens[at:start]))
        marked.append(f"【{''.join(tokens[start:end])}/{types[code][1]}】")
        at = end
    marked.append("".join(tokens[at:]))
    row["marked"] = "".join(marked)
    return row


def _row(key: str, tokens, tag_ids, tags: list[str], types: dict, result: ReadResult,
         path, line: int, excerpt: str) -> dict | None:
    if len(tokens) != len(tag_ids):
        result.reject("tags_length_mismatch", path, line, excerpt)
        return None
    bad = [t for t in tag_ids if isinstance(t, bool) or not isinstance(t, int)
           or not 0 <= t < len(tags)]
    if bad:
        result.reject("invalid_tag_id", path, line,
                      f"tag ids {bad[:5]} outside 0..{len(tags) - 1}: {excerpt}")
        return None
    row = {KEY: key, "text": "".join(tokens)}
    row.update(summarise(tokens, decode(tokens, [tags[t] for t in tag_ids]), types))
    return row


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    types = _types(options)
    tags = _check_tags(options.get("tags", DEFAULT_TAGS), types, "reader_options.tags")
    result = ReadResult(pl.DataFrame())
    rows = []
    shape = f"JSON lines shaped {SHAPE}"
    for path in files:
        guard = FileRows(result, path, schema(types))
        for line, record in json_lines(path, encoding, label, shape):
            def build(record=record, line=line, path=path):
                tokens, tag_ids = record.get("tokens"), record.get("ner_tags")
                if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                    bad(path, line, "tokens", '"tokens" is not a list of strings', shape)
                if not isinstance(tag_ids, list):
                    bad(path, line, "ner_tags", '"ner_tags" is not a list', shape)
                key = str(record["id"]) if record.get("id") is not None else str(line)
                excerpt = excerpt_of(record)
                return _row(key, tokens, tag_ids, tags, types, result, path, line, excerpt)
            row = guard.attempt(line, record, build, shape)
            if row is not None:
                rows.append(row)
        guard.done()
    result.frame = rows_to_frame(rows, schema(types))
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """The hub copy: the same fields, ``ner_tags`` a sequence of ClassLabel ints whose names are
    taken from the dataset's features."""
    types = _types(options)
    tags = options.get("tags", DEFAULT_TAGS)
    feature = getattr(dataset, "features", {}).get("ner_tags")
    names = getattr(getattr(feature, "feature", None), "names", None)
    if names:
        tags = list(names)
    tags = _check_tags(tags, types, f"{label}: hub ner_tags names")
    result = ReadResult(pl.DataFrame())
    rows = []
    for n, record in enumerate(dataset):
        key = str(record["id"]) if record.get("id") is not None else str(n)
        excerpt = json.dumps({k: record.get(k) for k in ("id", "tokens", "ner_tags")},
                             ensure_ascii=False)
        row = _row(key, list(record["tokens"]), list(record["ner_tags"]), tags, types, result,
                   label, n, excerpt)
        if row is not None:
            rows.append(row)
    result.frame = rows_to_frame(rows, schema(types))
    return result
