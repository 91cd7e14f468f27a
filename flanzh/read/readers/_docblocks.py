"""The NLPCC (tcci) release layout shared by several readers: ``<doc id="N" ...>`` blocks with
the tags on lines of their own, no root element and bare ``&`` in the text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...encoding import read_text
from ._lines import fail

_OPEN = re.compile(r"<doc((?:\s+[A-Za-z_]+\s*=\s*\"[^\"]*\")*)\s*>")
_ATTR = re.compile(r"([A-Za-z_]+)\s*=\s*\"([^\"]*)\"")
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")


@dataclass
class DocBlock:
    line: int                         # where <doc> opened
    id: str
    attrs: dict[str, str]
    lines: list[tuple[int, str]] = field(default_factory=list)   # (line number, stripped text)


def unescape(value: str) -> str:
    """Entities decoded (``&amp;``), bare ``&`` kept."""
    return html.unescape(value).strip()


def doc_blocks(path: Path, encoding: str, label: str, shape: str) -> Iterator[DocBlock]:
    """Each ``<doc>`` block with its non-empty inner lines; text outside a block, a block without
    an id, or a block left open fail with the file, the line and ``shape``."""
    block = None
    for line_no, raw in enumerate(read_text(path, encoding, label).split("\n"), start=1):
        line = raw.strip()
        if block is None:
            if not line or (line_no == 1 and _DECLARATION.fullmatch(line)):
                continue
            opened = _OPEN.fullmatch(line)
            if not opened:
                fail(path, line_no, f"{line[:60]!r} outside a <doc> block", shape)
            attrs = dict(_ATTR.findall(opened.group(1)))
            if not attrs.get("id", "").strip():
                fail(path, line_no, "<doc> without an id attribute", shape)
            block = DocBlock(line_no, attrs["id"].strip(), attrs)
        elif line == "</doc>":
            yield block
            block = None
        elif line:
            block.lines.append((line_no, line))
    if block is not None:
        fail(path, block.line, "<doc> block is not closed before the end of the file", shape)
