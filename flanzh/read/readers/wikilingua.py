"""WikiLingua (Ladhak et al. 2020), one language config: JSON lines, one wikiHow article per line,
its sections as a dict of parallel lists (the shape of the HF ``esdurmus/wiki_lingua`` copy, whose
``data/<language>.jsonl.gz`` this reads, gzipped or not):

    {"url": str, "article": {"section_name": [str], "document": [str], "summary": [str],
                             "english_url": [str], "english_section_name": [str]}}

The i-th items of the lists are one section; an article gives one row per section, keyed
``<url>:<i>`` and grouped by url (so a few-shot prompt never shows a sibling section). An article
whose lists differ in length cannot be split safely: it is counted as ``parallel_lists_differ``
(the reject names every length). A line with a key of the wrong JSON type or a lone surrogate is
counted as ``wrong_type:<key>`` / ``lone_surrogate:<key>``. A file with no readable line fails
with the file, the line and the first problem. ``english_url`` / ``english_section_name`` are optional (absent in the English
config). An article without sections is counted as ``article_without_sections``; a url seen
before as ``duplicate_url``.

Output columns: ``url``, ``title`` (the how-to title decoded from the url's last path segment,
``-`` read as a space; null when the url has none), ``section_name``, ``document``, ``summary``,
``summary_steps`` (the summary cut after each 。！？, one step headline per item),
``english_url``, ``english_section_name``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import file_list, json_lines_of
from ._rows import FileRows, bad

FORMATS = ("wikilingua",)

SHAPE = ('one JSON object per line {"url": str, "article": {"section_name": [str], '
         '"document": [str], "summary": [str], "english_url": [str], '
         '"english_section_name": [str]}} (parallel lists of equal length)')

REQUIRED = ("section_name", "document", "summary")
OPTIONAL = ("english_url", "english_section_name")

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "url": pl.Utf8, "title": pl.Utf8, "section_name": pl.Utf8,
          "document": pl.Utf8, "summary": pl.Utf8, "summary_steps": pl.List(pl.Utf8),
          "english_url": pl.Utf8, "english_section_name": pl.Utf8}

_STEP_END = re.compile(r"(?<=[。！？!?])")


def summary_steps(summary: str) -> list[str]:
    return [s.strip() for s in _STEP_END.split(summary) if s.strip()]


def title_from_url(url: str) -> str | None:
    """``https://zh.wikihow.com/%E5%81%9A-%E8%9B%8B%E7%B3%95`` -> ``做 蛋糕``."""
    segment = unquote(urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]).replace("-", " ").strip()
    return segment or None


def _text(path: Path, encoding: str, label: str) -> str:
    if path.suffix != ".gz":
        return read_text(path, encoding, label)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: not a readable gzip file ({exc})") from None
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: byte {exc.start} of the unzipped text is not {encoding}") \
            from None


def _sections(record: dict, path, line: int | str) -> list[dict]:
    url, article = record.get("url"), record.get("article")
    if not isinstance(url, str) or not url.strip():
        bad(path, line, "url", 'no "url" string', SHAPE)
    if not isinstance(article, dict):
        kind = "a list" if isinstance(article, list) else type(article).__name__
        bad(path, line, "article", f'"article" is {kind}, not an object of parallel lists', SHAPE)
    lists = {}
    for name in REQUIRED + OPTIONAL:
        value = article.get(name)
        if value is None and name in OPTIONAL:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            bad(path, line, name, f'"article.{name}" is not a list of strings', SHAPE)
        lists[name] = value
    lengths = {name: len(value) for name, value in lists.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {n}" for name, n in lengths.items())
        bad(path, line, None, f"parallel lists of different lengths ({shown})", SHAPE,
            kind="parallel_lists_differ")
    title = title_from_url(url)
    return [{KEY: f"{url}:{i}", GROUP: url, "url": url, "title": title,
             **{name: (lists[name][i] if name in lists else None) for name in REQUIRED + OPTIONAL},
             "summary_steps": summary_steps(lists["summary"][i])}
            for i in range(lengths["document"])]


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for path in file_list(files, fmt, label):
        guard = FileRows(result, path, SCHEMA)
        for line_no, record in json_lines_of(_text(path, encoding, label), path, SHAPE):
            def build(record=record, line_no=line_no, path=path) -> list[dict] | None:
                sections = _sections(record, path, line_no)
                url = record["url"]
                if url in seen:
                    result.reject("duplicate_url", path, line_no, url)
                    return None
                seen.add(url)
                if not sections:
                    result.reject("article_without_sections", path, line_no, url)
                    return None
                return sections
            rows += guard.attempt(line_no, record, build, SHAPE) or []
        guard.done()
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """The hub copy has the same shape (``article`` a sequence feature: a dict of lists)."""
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for n, record in enumerate(dataset):
        sections = _sections(record, f"{label} hub", f"row {n}")
        if record["url"] in seen:
            result.reject("duplicate_url", f"{label} hub", n, record["url"])
            continue
        seen.add(record["url"])
        if not sections:
            result.reject("article_without_sections", f"{label} hub", n, record["url"])
            continue
        rows += sections
    result.frame = rows_to_frame(rows, SCHEMA)
    return result
