"""CHEF (THU-BPM/CHEF, ``data/CHEF/{train,dev,test}.json``), Chinese evidence-based fact checking.

The release's exact layout is not documented (n/v); this reader is built to the shape the
authors' own scripts read (``Pipeline/Data/get_sents.py``, ``Joint/latent_rationale/sst/
CHEFtrain.py``, ``Pipeline/BERT_Classsfication/train.py``): each file is ONE JSON array of claims

    [{"claimId": ..., "claim": str, "label": 0|1|2, "domain": str,
      "evidence": {"0": {"text": str}, ... "4": {...}},          # retrieved documents
      "gold evidence": {"0": {"text": str}, ... "4": {...}}},    # annotated sentences, "" = none
     ...]

with label 0 supported, 1 refuted, 2 not enough information. A top level that is not an array
fails. A claim without a "claim" string or an integer "label", with "gold evidence" not an
object of {"text": str}, a "domain" that is not a string, or a lone surrogate, is dropped and
counted (``wrong_type:<key>``, ``lone_surrogate:<key>``; the reject's line is the claim's index);
a file none of whose claims is readable fails with the file, the item and this shape. The
authors' Joint/Data/filter.py cuts every "domain" to its first two characters ("政治", "社会").

One row per claim: ``claim``, ``evidence`` (the non-empty gold evidence sentences, in slot order
"0".."4"), ``label`` (the integer as a string: "0", "1", "2"), ``domain`` (null when absent or
null). A
claim without any gold evidence text is dropped as ``no_gold_evidence``. Key: ``claimId``, else the
position in the array.
"""

from __future__ import annotations

import polars as pl

from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, json_document
from ._rows import FileRows, bad

FORMATS = ("chef",)

SHAPE = ('one JSON array of claims shaped {"claimId": ..., "claim": str, "label": 0|1|2, '
         '"domain": str, "gold evidence": {"0": {"text": str}, ..., "4": {"text": str}}}')
GOLD = "gold evidence"
SCHEMA = {KEY: pl.Utf8, "claim": pl.Utf8, "evidence": pl.List(pl.Utf8), "label": pl.Utf8,
          "domain": pl.Utf8}


def _slot_order(slot: str):
    return (0, int(slot)) if slot.isdigit() else (1, slot)


def _gold_sentences(gold, path, where: str) -> list[str]:
    if not isinstance(gold, dict):
        bad(path, where, GOLD, f'"{GOLD}" is missing or not an object of numbered slots', SHAPE)
    sentences = []
    for slot in sorted(gold, key=_slot_order):
        entry = gold[slot]
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            bad(path, f'{where}["{GOLD}"]["{slot}"]', GOLD, 'a slot is not an object with a '
                '"text" string', SHAPE)
        text = entry["text"].strip()
        if text:
            sentences.append(text)
    return sentences


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        files = list(files.values())
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows, seen = [], set()
    for path in files:
        document = json_document(path, encoding, label, SHAPE)
        if not isinstance(document, list):
            fail(path, "$", f"top level is a JSON {type(document).__name__}, not an array", SHAPE)
        guard = FileRows(result, path, SCHEMA)

        def claim_row(claim, i: int) -> dict | None:
            where = f"$[{i}]"
            if not isinstance(claim, dict):
                bad(path, where, "claim", "an item is not a JSON object", SHAPE)
            if not isinstance(claim.get("claim"), str):
                bad(path, where, "claim", '"claim" is missing or not a string', SHAPE)
            value = claim.get("label")
            if not isinstance(value, int) or isinstance(value, bool):
                bad(path, where, "label", f'"label" is {value!r}, not an integer', SHAPE)
            evidence = _gold_sentences(claim.get(GOLD), path, where)
            domain = claim.get("domain")
            if domain is not None and not isinstance(domain, str):
                bad(path, where, "domain", '"domain" is not a string', SHAPE)
            claim_id = claim.get("claimId", i)
            if isinstance(claim_id, (dict, list)):
                bad(path, where, "claimId", '"claimId" is not a string or a number', SHAPE)
            key = str(claim_id)
            if key in seen:
                key = f"{key}@{i}"
            seen.add(key)
            if not evidence:
                result.reject("no_gold_evidence", path, i, claim["claim"])
                return None
            return {KEY: key, "claim": claim["claim"], "evidence": evidence,
                    "label": str(value), "domain": domain}

        for i, claim in enumerate(document):
            row = guard.attempt(f"$[{i}]", claim, lambda: claim_row(claim, i), SHAPE, number=i)
            if row is not None:
                rows.append(row)
        guard.done()
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
