"""DuExplain (Wang, Shen et al. 2022, the fine-grained interpretability benchmark on luge.ai),
sentiment-analysis family only: a review, its polarity, and the human-annotated rationales
(the words the label rests on).

The luge release itself is not verified here (n/v). Built to the layout of the benchmark's
evaluation code (PaddleNLP ``examples/model_interpretation``), which reads two JSON-lines files:

- the data (``data/senti_ch``): ``{"id": int, "context": str, "sent_token": [token, ...],
  "sample_type": "ori"|"disturb", "rel_ids": [id, ...]}``: ``sent_token`` is the standard
  tokenization the rationales index into; ``rel_ids`` (on originals only) lists the perturbed
  copies of an original;
- the gold annotation (``golden/senti_ch.tsv``, JSON lines despite the name):
  ``{"sent_id": int, "sent_label": 0|1, "rationales": [[token index, ...], ...],
  "sample_type": ..., "rel_ids": [...]}``; indices and labels may be written as strings.

Named parts ``data`` and ``golden`` are joined on ``id`` = ``sent_id``; a single file (a list of
files) is read as records that carry both halves. A line with a key missing or of the wrong JSON
type (``"sample_type": 1``, ``"sent_token": "很好"``) or with a lone surrogate is dropped and
counted once per instance (``wrong_type:<key>``, ``lone_surrogate:<key>``; its counterpart in the
other file is not counted again); a file with no readable line, or a repeated id, fails, naming
file, line and these shapes.

One row per instance: ``text`` (the context), ``label`` (``sent_label`` as a string), ``rationales``
(each annotated rationale as text: its tokens in order; a gap of only punctuation keeps it, any
other gap between non-adjacent tokens shows as ``……``), ``rationale`` (them joined by ``；``) and
``sample_type``. Dropped and counted: an instance without a gold line (``missing_gold``), a gold
line without an instance (``missing_text``), a rationale index outside the tokens
(``rationale_out_of_range``), no non-empty rationale (``no_rationale``). Key: the id; an original
and its perturbed copies share a ``__group``.
"""

from __future__ import annotations

import unicodedata

import polars as pl

from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, json_lines
from ._rows import FileRows, bad

FORMATS = ("duexplain_senti",)

DATA_SHAPE = ('JSON lines {"id": int, "context": str, "sent_token": [str], '
              '"sample_type": "ori"|"disturb", "rel_ids": [int]}')
GOLD_SHAPE = ('JSON lines {"sent_id": int, "sent_label": 0|1, "rationales": [[int, ...]], '
              '"sample_type": str, "rel_ids": [int]}')
MERGED_SHAPE = ('JSON lines {"id": int, "context": str, "sent_token": [str], "sent_label": 0|1, '
                '"rationales": [[int, ...]]}')
GAP = "……"

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "text": pl.Utf8, "label": pl.Utf8,
          "rationales": pl.List(pl.Utf8), "rationale": pl.Utf8, "sample_type": pl.Utf8}


def _id(record: dict, name: str, path, line: int, shape: str) -> str:
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        bad(path, line, name, f'"{name}" is missing or not an int', shape)
    return str(value).strip()


def _data_part(record: dict, path, line: int, shape: str) -> dict:
    context, tokens = record.get("context"), record.get("sent_token")
    if not isinstance(context, str):
        bad(path, line, "context", '"context" is missing or not a string', shape)
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        bad(path, line, "sent_token", '"sent_token" is missing or not a list of strings', shape)
    rel_ids = record.get("rel_ids") or []
    if not isinstance(rel_ids, list) or not all(isinstance(r, (int, str)) for r in rel_ids):
        bad(path, line, "rel_ids", '"rel_ids" is not a list of ids', shape)
    if not isinstance(record.get("sample_type"), (str, type(None))):
        bad(path, line, "sample_type", '"sample_type" is not a string', shape)
    return {"context": context, "tokens": tokens, "sample_type": record.get("sample_type"),
            "rel_ids": [str(r) for r in rel_ids], "where": (path, line)}


def _gold_part(record: dict, path, line: int, shape: str) -> dict:
    label, rationales = record.get("sent_label"), record.get("rationales")
    if isinstance(label, bool) or not isinstance(label, (int, str)):
        bad(path, line, "sent_label", '"sent_label" is missing or not an int', shape)
    if not isinstance(rationales, list) or not all(isinstance(r, list) for r in rationales):
        bad(path, line, "rationales", '"rationales" is missing or not a list of index lists',
            shape)
    indices = []
    for rationale in rationales:
        if not all((isinstance(i, int) and not isinstance(i, bool))
                   or (isinstance(i, str) and i.strip().isdigit()) for i in rationale):
            bad(path, line, "rationales", '"rationales" holds something that is not a token '
                "index", shape)
        indices.append(sorted({int(i) for i in rationale}))
    rel_ids = record.get("rel_ids") or []
    return {"label": str(label).strip(), "rationales": indices,
            "rel_ids": [str(r) for r in rel_ids] if isinstance(rel_ids, list) else [],
            "where": (path, line)}


def _join_tokens(tokens: list[str]) -> str:
    """Tokens as text: no space between Chinese tokens, one between two Latin/digit tokens."""
    text = ""
    for token in tokens:
        if text and text[-1].isascii() and text[-1].isalnum() and token[:1].isascii() \
                and token[:1].isalnum():
            text += " "
        text += token
    return text


def _punctuation(token: str) -> bool:
    return bool(token) and all(unicodedata.category(c).startswith("P") for c in token)


def rationale_text(tokens: list[str], indices: list[int]) -> str:
    """The tokens at ``indices`` in order. Runs of adjacent tokens are joined; a gap of nothing but
    punctuation keeps that punctuation (annotators skip commas); any other gap shows as ……"""
    runs, run = [], []
    for i in indices:
        if run and i != run[-1] + 1:
            gap = range(run[-1] + 1, i)
            if all(_punctuation(tokens[j]) for j in gap):
                run.extend(gap)
            else:
                runs.append(run)
                run = []
        run.append(i)
    if run:
        runs.append(run)
    return GAP.join(_join_tokens([tokens[i] for i in r]) for r in runs)


def _instance_row(key: str, data: dict, gold: dict, groups: dict, result: ReadResult):
    tokens = data["tokens"]
    path, line = data["where"]
    if any(i >= len(tokens) for r in gold["rationales"] for i in r):
        result.reject("rationale_out_of_range", path, line,
                      f"{key}: {len(tokens)} tokens, rationales {gold['rationales']}")
        return None
    texts = [t for t in (rationale_text(tokens, r).strip() for r in gold["rationales"]) if t]
    texts = list(dict.fromkeys(texts))
    if not texts:
        result.reject("no_rationale", path, line, f"{key}: {data['context'][:100]}")
        return None
    return {KEY: key, GROUP: groups.get(key, key), "text": data["context"],
            "label": gold["label"], "rationales": texts, "rationale": "；".join(texts),
            "sample_type": data["sample_type"]}


def _parts(path, encoding: str, label: str, shape: str, result: ReadResult, parse, skipped: set):
    """(key, part) for each readable line of ``path``; a line that is not (a wrong JSON type, a
    lone surrogate) is counted by the guard, and its id, when readable, goes into ``skipped`` so
    its counterpart in the other file is not counted a second time."""
    guard = FileRows(result, path)
    for line_no, record in json_lines(path, encoding, label, shape):
        out = guard.attempt(line_no, record, lambda: parse(record, line_no), shape)
        if out is None:
            raw = record.get("id", record.get("sent_id"))
            if isinstance(raw, (int, str)) and not isinstance(raw, bool):
                skipped.add(str(raw).strip())
            continue
        yield line_no, out
    guard.done()


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(rows_to_frame([], SCHEMA))
    data, gold, skipped = {}, {}, set()
    if isinstance(files, dict):
        if set(files) != {"data", "golden"}:
            raise SourceError(f"{label}: duexplain_senti takes the named parts 'data' and "
                              f"'golden' (or one merged file); got {', '.join(files)}")
        d_path, g_path = files["data"], files["golden"]

        def data_line(record, line_no):
            return (_id(record, "id", d_path, line_no, DATA_SHAPE),
                    _data_part(record, d_path, line_no, DATA_SHAPE))

        def gold_line(record, line_no):
            return (_id(record, "sent_id", g_path, line_no, GOLD_SHAPE),
                    _gold_part(record, g_path, line_no, GOLD_SHAPE))

        for line_no, (key, part) in _parts(d_path, encoding, label, DATA_SHAPE, result,
                                           data_line, skipped):
            if key in data:
                fail(d_path, line_no, f"id {key} repeats", DATA_SHAPE)
            data[key] = part
        for line_no, (key, part) in _parts(g_path, encoding, label, GOLD_SHAPE, result,
                                           gold_line, skipped):
            if key in gold:
                fail(g_path, line_no, f"sent_id {key} repeats", GOLD_SHAPE)
            gold[key] = part
    else:
        for path in files:
            def merged_line(record, line_no, path=path):
                key = _id(record, "id" if "id" in record else "sent_id", path, line_no,
                          MERGED_SHAPE)
                return key, (_data_part(record, path, line_no, MERGED_SHAPE),
                             _gold_part(record, path, line_no, MERGED_SHAPE))

            for line_no, (key, (d_part, g_part)) in _parts(path, encoding, label, MERGED_SHAPE,
                                                           result, merged_line, skipped):
                if key in data:
                    fail(path, line_no, f"id {key} repeats", MERGED_SHAPE)
                data[key], gold[key] = d_part, g_part
    # an original and its perturbed copies form one group
    groups = {}
    for key, part in [*data.items(), *gold.items()]:
        for rel in part["rel_ids"]:
            groups.setdefault(rel, key)
    rows = []
    for key, part in data.items():
        if key in skipped:                  # its gold line was counted as a bad line
            continue
        if key not in gold:
            path, line = part["where"]
            result.reject("missing_gold", path, line, f"{key}: {part['context'][:100]}")
            continue
        row = _instance_row(key, part, gold[key], groups, result)
        if row is not None:
            rows.append(row)
    for key, part in gold.items():
        if key not in data and key not in skipped:
            path, line = part["where"]
            result.reject("missing_text", path, line, f"sent_id {key} has no instance")
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
