"""CINLID, Chinese idiom NLI (luge.ai dataset id=39; download needs a login).

Items are ``{"phrase1": str, "phrase2": str, "label": "entailment"|"neutral"|"contradiction"}``
(idiom pairs, with a few 歇后语 and 俗语). Two layouts of ``train.json`` are read, detected from
the first non-blank character:

- objects written back to back, ``{"phrase1": ...}{"phrase1": ...}`` with no separator (or with
  whitespace/newlines between them, which covers JSON lines): the public copy, UTF-8;
- one JSON document ``{"data": [item, ...]}``: the layout the DataLab loader for the luge release
  reads, GBK.

The encoding is detected too: UTF-8 first (a UTF-8 file often decodes as GBK into nonsense, a GBK
file almost never as UTF-8), then the spec's ``source.encoding``, then GB18030 (a superset of
GBK); a file that decodes in none of them fails with the standard encoding error.
Anything else fails with the file, the place (``$.data[3]``, ``object 12 (char 480)``) and the two
shapes, so a different release is noticed instead of half-read. Unknown labels are left to the
spec's label map (counted there as invalid_label). Key: the item's ``id`` when it has one, else
its position (in ``data``, or among the objects).

Output columns: ``phrase1``, ``phrase2``, ``label``.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import polars as pl

from ...encoding import check_decodes
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail

FORMATS = ("cinlid",)

SHAPE = ('items {"phrase1": str, "phrase2": str, "label": "entailment"|"neutral"|"contradiction"} '
         'either written back to back ({...}{...}, the public UTF-8 copy) or in one JSON document '
         '{"data": [...]} (the GBK luge release as DataLab reads it)')
SCHEMA = {KEY: pl.Utf8, "phrase1": pl.Utf8, "phrase2": pl.Utf8, "label": pl.Utf8}


def _text(path: Path, encoding: str, label: str) -> str:
    """The file decoded as UTF-8, else the declared encoding, else GB18030. UTF-8 goes first:
    a UTF-8 file often decodes as GBK too (into nonsense), a GBK file almost never as UTF-8."""
    data = path.read_bytes()
    tried = []
    for candidate in ("utf-8", encoding, "gb18030"):
        if all(codecs.lookup(candidate).name != codecs.lookup(t).name for t in tried):
            tried.append(candidate)
    for candidate in tried:
        try:
            return data.decode(candidate).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    check_decodes(path, encoding, label)      # raises, naming the first bad byte
    raise AssertionError("unreachable")       # pragma: no cover


def _stream(text: str, path: Path):
    """(place, object) for JSON objects written back to back."""
    decoder = json.JSONDecoder()
    pos, n = 0, 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(path, f"object {n} (char {pos})", f"not valid JSON ({exc.msg}: char {exc.pos})",
                 SHAPE)
        if not isinstance(value, dict):
            fail(path, f"object {n} (char {pos})", f"a {type(value).__name__}, not a JSON object",
                 SHAPE)
        yield f"object {n} (char {pos})", value
        pos, n = end, n + 1


def _items(path: Path, text: str):
    """(place, position, item) in file order, for either layout."""
    start = text.lstrip()
    if not start.startswith("{"):
        fail(path, "char 0", f"starts with {start[:1]!r}, not '{{'", SHAPE)
    objects = list(_stream(text, path))
    if len(objects) == 1 and "data" in objects[0][1] and "phrase1" not in objects[0][1]:
        data = objects[0][1]["data"]
        if not isinstance(data, list):
            fail(path, "$.data", '"data" is not a list', SHAPE)
        for i, item in enumerate(data):
            where = f"$.data[{i}]"
            if not isinstance(item, dict):
                fail(path, where, "an item is not a JSON object", SHAPE)
            yield where, i, item
        return
    for i, (where, item) in enumerate(objects):
        yield where, i, item


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        files = list(files.values())
    rows, seen = [], set()
    for path in files:
        path = Path(path)
        for where, i, item in _items(path, _text(path, encoding, label)):
            for name in ("phrase1", "phrase2"):
                if not isinstance(item.get(name), str):
                    fail(path, where, f'"{name}" is missing or not a string', SHAPE)
            value = item.get("label")
            if value is not None and not isinstance(value, str):
                fail(path, where, f'"label" is {value!r}, not a string', SHAPE)
            key = str(item.get("id", i))
            if key in seen:
                key = f"{key}@{i}"
            seen.add(key)
            rows.append({KEY: key, "phrase1": item["phrase1"], "phrase2": item["phrase2"],
                         "label": value})
    return ReadResult(rows_to_frame(rows, SCHEMA))
