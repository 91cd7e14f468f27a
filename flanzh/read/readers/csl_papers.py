"""CSL, the Chinese Scientific Literature dataset (Li et al., COLING 2022; github.com/ydli-ai/CSL),
in its two raw layouts, both tab-separated text without a header and without quoting (abstracts
hold bare ``"`` characters, so a CSV parser would mangle them):

- the full set ``csl_camera_readly.tsv`` (396,209 papers, Google Drive download), five columns
  ``title \\t abstract \\t keywords \\t discipline \\t category``, keywords joined by ``_``;
  discipline (学科, 67 values) and category (门类, 13 values). The column order is taken from
  public loaders of the file (n/v against the file itself); a row whose 4th column is one of the 13
  门类 while its 5th is not is taken as a swapped layout and fails;
- the in-repo benchmark ``benchmark/ts/{train,dev,test}.tsv`` of the title-prediction task, three
  columns ``to title \\t abstract \\t title`` (no keywords, discipline or category: null).

Output columns: ``title``, ``abstract``, ``keywords`` (list, null in the benchmark layout),
``discipline``, ``category``. Key: the line number. Journals typeset abstracts with half-width
punctuation, so a ``.`` that ends a sentence before Chinese text (``定标.该文``, ``为2.5.通过``,
``S/cm.研究``) becomes ``。`` in ``abstract``: the length policy cuts at sentence ends and does not
see ASCII periods. Decimals (``0.97``) are left alone; a Latin abbreviation right before Chinese
text (rare in these abstracts) is taken as a sentence end. A line with any other column count,
or a benchmark line of another task (``to keywords``), fails with the file, the line and the
expected shape.

``from_hub`` reads the ``neuclir/csl`` copy: ``doc_id, title, abstract, keywords[], category,
category_eng, discipline, discipline_eng`` (key: ``doc_id``).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list

FORMATS = ("csl_tsv",)

SHAPE = ("tab-separated lines 'title\\tabstract\\tkw1_kw2_...\\tdiscipline\\tcategory' "
         "(csl_camera_readly.tsv) or 'to title\\tabstract\\ttitle' (benchmark/ts/*.tsv)")

SCHEMA = {KEY: pl.Utf8, "title": pl.Utf8, "abstract": pl.Utf8, "keywords": pl.List(pl.Utf8),
          "discipline": pl.Utf8, "category": pl.Utf8}

# The 13 门类 of the CSL readme (Engineering ... Philosophy).
CATEGORIES = frozenset({"工学", "理学", "农学", "医学", "管理学", "法学", "教育学", "经济学",
                        "文学", "艺术学", "历史学", "军事学", "哲学"})

BENCHMARK_PROMPT = "to title"

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
# A sentence-ending ASCII period: after a Chinese character, a closing bracket/quote, a digit, a
# unit or a Latin word (``2.5.通过``, ``S/cm.研究``), before a Chinese character, an opening
# bracket/quote or the end of the text. A decimal point has a digit after it, so it never matches.
_ASCII_STOP = re.compile(rf"(?<=[{_CJK}）)”\"》\w%℃])\.(?=[{_CJK}（(“\"《]|\s*$)")


def sentence_periods(text: str) -> str:
    """``定标.该文`` -> ``定标。该文``; ``剪跨比为2.5.通过`` -> ``剪跨比为2.5。通过``; ``0.97`` and
    ``Eu2+,Dy3+`` stay."""
    return _ASCII_STOP.sub("。", text)


def split_keywords(cell: str) -> list[str]:
    return [k.strip() for k in cell.split("_") if k.strip()]


def _row(fields: list[str], path: Path, line: int) -> dict:
    if len(fields) == 5:
        title, abstract, keywords, discipline, category = (f.strip() for f in fields)
        if discipline in CATEGORIES and category not in CATEGORIES:
            fail(path, line, f"column 4 holds the category {discipline!r} and column 5 "
                 f"{category!r} is not a category; are discipline and category swapped?", SHAPE)
        return {KEY: str(line), "title": title, "abstract": sentence_periods(abstract),
                "keywords": split_keywords(keywords), "discipline": discipline or None,
                "category": category or None}
    if len(fields) == 3:
        if fields[0].strip() != BENCHMARK_PROMPT:
            fail(path, line, f"a 3-column benchmark line of task {fields[0].strip()!r}, not the "
                 f"title-prediction task '{BENCHMARK_PROMPT}'", SHAPE)
        return {KEY: str(line), "title": fields[2].strip(),
                "abstract": sentence_periods(fields[1].strip()), "keywords": None,
                "discipline": None, "category": None}
    fail(path, line, f"{len(fields)} tab-separated columns", SHAPE)


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    rows = []
    for path in file_list(files, fmt, label):
        for line_no, line in enumerate(read_text(path, encoding, label).splitlines(), start=1):
            if not line.strip():
                continue
            rows.append(_row(line.split("\t"), path, line_no))
    return ReadResult(rows_to_frame(rows, SCHEMA))


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    rows = []
    for n, record in enumerate(dataset):
        if not isinstance(record.get("abstract"), str) or "title" not in record:
            raise SourceError(f"{label}: hub row {n}: expected neuclir/csl columns doc_id, title, "
                              f"abstract, keywords, category, discipline; got {', '.join(record)}")
        keywords = record.get("keywords")
        rows.append({KEY: str(record.get("doc_id", n)), "title": (record["title"] or "").strip(),
                     "abstract": sentence_periods(record["abstract"].strip()),
                     "keywords": [k.strip() for k in keywords if k and k.strip()]
                     if keywords is not None else None,
                     # an early revision of the card named the Chinese columns *_zho
                     "discipline": record.get("discipline_zho") or record.get("discipline") or None,
                     "category": record.get("category_zho") or record.get("category") or None})
    return ReadResult(rows_to_frame(rows, SCHEMA))
