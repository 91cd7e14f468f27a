"""Multi-domain Chinese spelling check data of Lv et al. (2022, "General and Domain Adaptive Chinese
Spelling Check with Error Consistent Pretraining"; github.com/aopolin-lv/ECSpell,
``Data/domains_data/{law,med,odw}.{train,test}``): one pair per line,

    <number of wrong characters> \\t <sentence as written> \\t <corrected sentence>

e.g. ``1\\t…程序正档原则…\\t…程序正当原则…``; ``0`` with two identical sentences is a sentence
without errors. Spelling check replaces characters one for one, so both sentences have the same
length. The domain is the file name's stem (``law`` 法律, ``med`` 医学, ``odw`` 公文, i.e.
official document writing; another stem takes ``reader_options.domain``).

Output columns: ``source``, ``target``, ``domain`` (Chinese name), ``has_error`` (the sentences
differ), ``corrections`` (one ``错字→正字`` item per changed position, in order) and ``n_errors``
(the number of changed positions, which the first column should equal; where it does not, the
sentences are trusted). Key: ``<stem>:<line>``.

A pair whose sentences differ in length cannot be a character-level correction and is counted as
``length_mismatch``. A line that is not three tab-separated columns with a number first fails with
the file, the line and the expected shape.
"""

from __future__ import annotations

import polars as pl

from ...encoding import read_text
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list

FORMATS = ("ecspell",)

SHAPE = "'<error count>\\t<sentence>\\t<corrected sentence>' per line"
SCHEMA = {KEY: pl.Utf8, "source": pl.Utf8, "target": pl.Utf8, "domain": pl.Utf8,
          "has_error": pl.Boolean, "corrections": pl.List(pl.Utf8), "n_errors": pl.Int64}

DOMAINS = {"law": "法律", "med": "医学", "odw": "公文"}


def corrections(source: str, target: str) -> list[str]:
    return [f"{a}→{b}" for a, b in zip(source, target) if a != b]


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows = []
    for path in file_list(files, fmt, label):
        stem = path.name.split(".")[0]
        domain = DOMAINS.get(stem, options.get("domain"))
        for line_no, line in enumerate(read_text(path, encoding, label).splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                fail(path, line_no, f"{len(fields)} tab-separated columns", SHAPE)
            count, source, target = fields[0].strip(), fields[1].strip(), fields[2].strip()
            if not count.isdigit():
                fail(path, line_no, f"first column {count[:20]!r} is not an error count", SHAPE)
            if len(source) != len(target):
                result.reject("length_mismatch", path, line_no, f"{source}\t{target}")
                continue
            changed = corrections(source, target)
            rows.append({KEY: f"{stem}:{line_no}", "source": source, "target": target,
                         "domain": domain, "has_error": bool(changed), "corrections": changed,
                         "n_errors": len(changed)})
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
