"""NLPCC 2015 shared task: Weibo-oriented Chinese news summarization (Wan et al. 2015;
tcci.ccf.org.cn, evaluation data released after the task). A news article in, a summary of at
most 140 characters (a Weibo post) out.

The file layout is not described on any public page found (n/v). This reader is built to the best
documented layout of the same organiser's releases (the NLPCC 2014 tcci files: ``<tag id="N">``
blocks with the tags on lines of their own, no root element, bare ``&`` in the text), with the
reference summaries inside the block:

    <doc id="12">
    <title>标题</title>                 (optional; first line of the block)
    正文第一段
    正文第二段
    <summary>参考摘要一</summary>       (one or more; none in an unlabelled file)
    <summary>参考摘要二</summary>
    </doc>

Anything else — text outside a block, a block not closed, an unknown or nested tag, a block without
``id``, body text after a summary — fails with the file, the line and this shape, so another
layout is noticed instead of half-read. Entities (``&amp;``) are decoded, bare ``&`` kept. A
repeated id is counted as ``duplicate_id`` and skipped.

Output columns: ``title`` (null when absent), ``content`` (body lines joined with newlines),
``summary`` (the first reference, null when none), ``summaries`` (every reference). Key: the id.
"""

from __future__ import annotations

import html
import re

import polars as pl

from . import KEY, ReadResult, rows_to_frame
from ._docblocks import doc_blocks, unescape
from ._lines import fail, file_list

FORMATS = ("nlpcc2015_weibo",)

SHAPE = ('blocks <doc id="N"> / optional <title>…</title> / body lines / '
         '<summary>…</summary> lines / </doc>, tags on lines of their own, no root element')
SCHEMA = {KEY: pl.Utf8, "title": pl.Utf8, "content": pl.Utf8, "summary": pl.Utf8,
          "summaries": pl.List(pl.Utf8)}

_TITLE = re.compile(r"<title>(.*)</title>")
_SUMMARY = re.compile(r"<summary>(.*)</summary>")
_TAG = re.compile(r"</?[A-Za-z]+[^>]*>")


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for path in file_list(files, fmt, label):
        for block in doc_blocks(path, encoding, label, SHAPE):
            title, body, summaries = None, [], []
            for line_no, line in block.lines:
                matched = _TITLE.fullmatch(line)
                if matched and title is None and not body and not summaries:
                    title = unescape(matched.group(1)) or None
                    continue
                matched = _SUMMARY.fullmatch(line)
                if matched:
                    summaries.append(unescape(matched.group(1)))
                    continue
                if _TAG.search(line):
                    fail(path, line_no, f"unexpected tag in the <doc> block opened on line "
                         f"{block.line}: {line[:60]!r}", SHAPE)
                if summaries:
                    fail(path, line_no, f"body text after a <summary> in the <doc> block opened "
                         f"on line {block.line}", SHAPE)
                body.append(html.unescape(line))
            if block.id in seen:
                result.reject("duplicate_id", path, block.line, f"id={block.id} " + " ".join(body))
                continue
            seen.add(block.id)
            summaries = [s for s in summaries if s]
            rows.append({KEY: block.id, "title": title, "content": "\n".join(body),
                         "summary": summaries[0] if summaries else None, "summaries": summaries})
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
