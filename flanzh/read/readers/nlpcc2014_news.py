"""NLPCC 2014 shared task 6, Chinese news categorization (tcci.ccf.org.cn, ``evtestdata6.zip``;
guideline ``evatask6.pdf``; the task LongBench calls LSHT).

The files inside the zip are not described on any public page found (n/v). This reader is built to
the best documented layout of the same site's NLPCC 2014 releases: the task-2 sentiment files
(``sample.positive.txt``, ``test.label.cn.txt``) are blocks ``<review id="N" label="1">`` ... text
lines ... ``</review>`` with no root element, the tags on lines of their own and bare ``&`` in the
text (public loaders read them line by line or with a lenient HTML parser, not as XML). For the news
task the block is

    <doc id="N" category="体育">
    <title>标题</title>          (optional; the first line of the block)
    正文第一段
    正文第二段
    </doc>

``category`` holds the top-level category name (absent in a test file without gold labels).
Anything else — text outside a block, a block that is not closed, a nested or stray tag, a block
without ``id`` — fails with the file, the line and this shape, so another layout is noticed instead
of half-read. Entities (``&amp;``, ``&lt;`` ...) are decoded and bare ``&`` kept. A repeated id is
counted as ``duplicate_id`` and skipped.

Output columns: ``title`` (null when the block has none), ``content`` (the body lines, stripped,
joined with newlines), ``category`` (null when absent). Key: the block ``id``.
"""

from __future__ import annotations

import html
import re

import polars as pl

from . import KEY, ReadResult, rows_to_frame
from ._docblocks import doc_blocks, unescape
from ._lines import fail, file_list

FORMATS = ("nlpcc2014_news",)

SHAPE = ('blocks <doc id="N" category="类别"> / optional <title>…</title> / body lines / </doc>, '
         'tags on lines of their own, no root element')
SCHEMA = {KEY: pl.Utf8, "title": pl.Utf8, "content": pl.Utf8, "category": pl.Utf8}

_TITLE = re.compile(r"<title>(.*)</title>")
_TAG = re.compile(r"</?(?:doc|title)\b")


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for path in file_list(files, fmt, label):
        for block in doc_blocks(path, encoding, label, SHAPE):
            title, body = None, []
            for line_no, line in block.lines:
                matched = _TITLE.fullmatch(line)
                if matched and title is None and not body:
                    title = unescape(matched.group(1))
                    continue
                if _TAG.search(line):
                    fail(path, line_no, f"unexpected tag in the <doc> block opened on line "
                         f"{block.line}: {line[:60]!r}", SHAPE)
                body.append(html.unescape(line))
            if block.id in seen:
                result.reject("duplicate_id", path, block.line, f"id={block.id} " + " ".join(body))
                continue
            seen.add(block.id)
            category = block.attrs.get("category")
            rows.append({KEY: block.id, "title": title, "content": "\n".join(body),
                         "category": category.strip() if category is not None else None})
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
