"""DuIE 2.0 relation extraction: JSON lines ``{"text": str, "spo_list": [spo, ...]}`` with

    spo = {"predicate": str, "subject": str, "subject_type": str,
           "object": {"@value": str, slot: str, ...}, "object_type": {"@value": str, slot: str, ...}}

``object`` and ``object_type`` are always objects; the main value is ``@value`` and the five
complex predicates add slots (``inWork``, ``onDate``, ``period``, ``inArea``; other slot names are
kept as they are). The test file (``duie_test2.json``) has no ``spo_list``: its rows give null
label columns.

Every triple's ``subject`` and object ``@value`` must occur in ``text``. DuIE has a few triples
whose entity is an alias not written in the sentence; such a row is DROPPED, counted as
``triple_not_in_text`` (with examples), rather than trimmed to its checkable triples: a trimmed
row would teach the model to leave out a relation the sentence does state. A labelled row with an
empty ``spo_list`` is dropped as ``no_triples``. Repeated triples are kept once.

A triple whose subject is its object (``（星河之下，改编自，星河之下）``: DuIE annotates a work
adapted from a same-named one this way, 7 of 6,000 real rows) says nothing a reader can use; its
row is dropped as ``self_triple`` rather than trimmed, for the reason above. DuIE's English value
types ``Date``, ``Number``, ``Text`` are given in Chinese (日期, 数值, 文本), as every other type is. A row with a
value of the wrong JSON type (``"subject_type": 5``, an ``object`` that is a plain string) or a
lone surrogate is dropped and counted as ``wrong_type:<field>`` / ``lone_surrogate:<field>``
(see ``_rows.py``); a file with no readable row at all fails with the first problem.

Output columns, one row per line (key: the line number; ``<file>:<line>`` when a split has
several files):

- ``text``;
- ``triples``: ``[{"subject", "subject_type", "predicate", "object", "object_type", "slots"}]``
  with ``slots`` a text such as ``作品=红楼梦`` ("" when none);
- ``triples_text``: one ``（主体，关系，客体[，槽位=值…]）`` per line;
- ``triples_json``: ``[{"subject", "predicate", "object", slot...}]`` as compact JSON;
- ``predicates``: the relation names, in order, without repeats;
- ``pair_subject``, ``pair_object``, ``pair_predicates``: the first triple's entity pair and every
  relation the sentence states between that pair;
- ``entities``: ``[{"text", "type"}]``, each subject and object once, with its schema type.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from . import KEY, ReadResult
from ._lines import guarded_json_lines
from ._rows import bad, excerpt_of

FORMATS = ("duie",)

SHAPE = ('{"text": str, "spo_list": [{"predicate": str, "subject": str, "subject_type": str, '
         '"object": {"@value": str, ...}, "object_type": {"@value": str, ...}}]}')
SLOT_NAMES = {"inWork": "作品", "onDate": "时间", "period": "届次", "inArea": "地区"}
# DuIE's schema names three value types in English among its Chinese ones; targets are Chinese
TYPE_NAMES = {"Date": "日期", "Number": "数值", "Text": "文本"}

TRIPLE = pl.Struct({"subject": pl.Utf8, "subject_type": pl.Utf8, "predicate": pl.Utf8,
                    "object": pl.Utf8, "object_type": pl.Utf8, "slots": pl.Utf8})
SCHEMA = {KEY: pl.Utf8, "text": pl.Utf8, "triples": pl.List(TRIPLE), "triples_text": pl.Utf8,
          "triples_json": pl.Utf8, "predicates": pl.List(pl.Utf8), "pair_subject": pl.Utf8,
          "pair_object": pl.Utf8, "pair_predicates": pl.List(pl.Utf8),
          "entities": pl.List(pl.Struct({"text": pl.Utf8, "type": pl.Utf8}))}
LABEL_COLUMNS = [c for c in SCHEMA if c not in (KEY, "text")]


def _spo(spo, path, line: int, i: int) -> dict:
    """One triple, type-checked; a value of the wrong JSON type is a row problem
    ``wrong_type:<field>``."""
    def shape(field, what):
        bad(path, line, field, f"spo_list[{i}]: {what}", f"JSON lines shaped {SHAPE}")

    if not isinstance(spo, dict):
        shape("triple", "not an object")
    for name in ("predicate", "subject"):
        if not isinstance(spo.get(name), str):
            shape(name, f'"{name}" is missing or not a string')
    if not isinstance(spo.get("subject_type"), (str, type(None))):
        shape("subject_type", f'"subject_type" is {_kind(spo["subject_type"])}, not a string')
    obj, obj_type = spo.get("object"), spo.get("object_type") or {}
    if not isinstance(obj, dict) or not isinstance(obj.get("@value"), str):
        shape("object", '"object" is not an object with an "@value" string')
    if not isinstance(obj_type, dict) or not isinstance(obj_type.get("@value"), (str, type(None))):
        shape("object_type", '"object_type" is not an object with an "@value" string')
    slots = {k: v for k, v in obj.items() if k != "@value"}
    if not all(isinstance(v, str) for v in slots.values()):
        shape("object", 'an "object" slot value is not a string')
    subject_type, object_type = spo.get("subject_type") or "", obj_type.get("@value") or ""
    return {"subject": spo["subject"], "subject_type": TYPE_NAMES.get(subject_type, subject_type),
            "predicate": spo["predicate"], "object": obj["@value"],
            "object_type": TYPE_NAMES.get(object_type, object_type), "_slots": slots}


def _kind(value) -> str:
    """A JSON value's kind, for messages: a number, a list, null, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def label_columns(triples: list[dict]) -> dict:
    """The label columns for a row's checked, de-duplicated triples (with raw ``_slots``)."""
    lines, as_json, out = [], [], []
    for t in triples:
        slots = [(SLOT_NAMES.get(k, k), v) for k, v in t["_slots"].items()]
        slot_text = "，".join(f"{k}={v}" for k, v in slots)
        parts = [t["subject"], t["predicate"], t["object"]] + [f"{k}={v}" for k, v in slots]
        lines.append("（" + "，".join(parts) + "）")
        as_json.append({"subject": t["subject"], "predicate": t["predicate"],
                        "object": t["object"], **t["_slots"]})
        out.append({k: v for k, v in t.items() if k != "_slots"} | {"slots": slot_text})
    first = out[0]
    entities = {}
    for t in out:
        entities.setdefault(t["subject"], t["subject_type"])
        entities.setdefault(t["object"], t["object_type"])
    return {"triples": out, "triples_text": "\n".join(lines),
            "entities": [{"text": k, "type": v} for k, v in entities.items()],
            "triples_json": json.dumps(as_json, ensure_ascii=False),
            "predicates": list(dict.fromkeys(t["predicate"] for t in out)),
            "pair_subject": first["subject"], "pair_object": first["object"],
            "pair_predicates": list(dict.fromkeys(
                t["predicate"] for t in out
                if (t["subject"], t["object"]) == (first["subject"], first["object"])))}


def labelled_row(text: str, triples: list[dict]) -> tuple[dict | None, str | None]:
    """(label columns, None) or (None, drop reason)."""
    unique, seen = [], set()
    for t in triples:
        sig = json.dumps([t["subject"], t["predicate"], t["object"], t["_slots"]],
                         ensure_ascii=False, sort_keys=True)
        if sig not in seen:
            seen.add(sig)
            unique.append(t)
    if not unique:
        return None, "no_triples"
    if any(not t["subject"] or not t["object"] or t["subject"] not in text
           or t["object"] not in text for t in unique):
        return None, "triple_not_in_text"
    if any(t["subject"] == t["object"] for t in unique):
        return None, "self_triple"
    return label_columns(unique), None


def _line_row(record: dict, path, line: int, key: str, result: ReadResult) -> dict | None:
    shape_text = f"JSON lines shaped {SHAPE}"
    text = record.get("text")
    if not isinstance(text, str):
        bad(path, line, "text", '"text" is missing or not a string', shape_text)
    row = {KEY: key, "text": text}
    spo_list = record.get("spo_list")
    if spo_list is None:                       # the test file
        row.update({c: None for c in LABEL_COLUMNS})
        return row
    if not isinstance(spo_list, list):
        bad(path, line, "spo_list", '"spo_list" is not a list', shape_text)
    triples = [_spo(spo, path, line, i) for i, spo in enumerate(spo_list)]
    columns, reason = labelled_row(text, triples)
    if reason:
        result.reject(reason, path, line, excerpt_of(record))
        return None
    row.update(columns)
    return row


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    def row_of(path, line, record, result):
        key = str(line) if len(files) == 1 else f"{Path(path).name}:{line}"
        return _line_row(record, path, line, key, result)

    return guarded_json_lines(files, fmt, encoding, label, f"JSON lines shaped {SHAPE}", SCHEMA,
                              row_of)
