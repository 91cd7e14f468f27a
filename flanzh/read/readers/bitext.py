"""Parallel text (bitext) in the two raw shapes WMT-style corpora ship in. One row per segment
pair, one string column per language.

- Tab-separated lines, optionally gzipped (detected by the gzip magic bytes, so ``.tsv`` and
  ``.tsv.gz`` both work): a split's files are a list, and ``reader_options.columns`` names the
  language of each column in file order, e.g. ``[zh, en]`` for ``wikititles-v1.zh-en.tsv.gz`` and
  ``[en, zh]`` for ``news-commentary-v14.en-zh.tsv.gz``. A line whose cells are all empty is a
  document boundary (News Commentary separates articles that way): it is not a row, and it
  starts a new ``__group`` so few-shot exemplars never come from the query's own article. A line
  with one empty side is kept with an empty string, and normalise drops it as
  ``empty_field:<language>``. A line with the wrong number of cells is counted as
  ``wrong_column_count``; when the file's first line already has the wrong number the file is not
  this shape at all and the reader fails. Key: the line number (``<file>:<line>`` when a split
  has several files).
- Line-aligned files, one per language (Multitarget TED Talks ``ted_train_en-zh.raw.en`` /
  ``.raw.zh``; WMT dev/test ``.sgm``): a split's files are named parts ``{language: file}``.
  Line i of every file is one segment; in ``.sgm`` files the segments are the ``<seg>``
  elements. Files with different segment counts are an error naming both files and counts.
  Empty lines stay rows (they hold the alignment); normalise drops them as empty fields. Key:
  the line (segment) number.

- JSON lines, one object per pair (translation2019zh ``{"english": str, "chinese": str}``): a
  split's files are a list and ``reader_options.json_keys`` maps each language to its key, e.g.
  ``{en: english, zh: chinese}``. A line that is not an object with a string under every key
  fails with the file and the line; stray punctuation after the object (a real line ends in
  ``}.``) is ignored. Key: the line number (``<file>:<line>`` with several files).

Whatever the shape, when one language is ``zh``, a pair whose ``zh`` side has no Han character
while another side has one is counted as ``swapped_sides`` (real translation2019zh lines hold the
Chinese sentence under "english" and the English under "chinese"; read as they are, the
translation would go the wrong way).

``reader_options.drop_identical: true`` counts pairs whose sides are the same text (untranslated
titles such as ``IBM\\tIBM``) as ``identical_sides`` instead of reading them.

``from_hub`` reads the hub's WMT shape ``{"translation": {"en": str, "zh": str}}``.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

import polars as pl

from ...encoding import read_text, read_text as _read_text
from ...errors import SourceError
from . import GROUP, KEY, ReadResult
from ._lines import fail

FORMATS = ("bitext",)

GZIP_MAGIC = b"\x1f\x8b"
_SEG = re.compile(r"<seg\b[^>]*>(.*?)</seg>", re.S)
_LANGUAGE = re.compile(r"^[a-z][a-z0-9_]*$")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def swapped(languages: list[str], cells: list[str]) -> bool:
    """The zh side has no Han character but another side has: the pair is the wrong way round."""
    if "zh" not in languages:
        return False
    zh = cells[languages.index("zh")]
    return not _HAN.search(zh) and any(_HAN.search(c) for lang, c in zip(languages, cells)
                                       if lang != "zh")


def _languages(names, label: str, where: str) -> list[str]:
    names = list(names)
    if len(names) < 2 or len(set(names)) != len(names) or not all(
            isinstance(n, str) and _LANGUAGE.match(n) for n in names):
        raise SourceError(f"{label}: {where}: the bitext reader needs two or more distinct "
                          f"language names such as [zh, en]; got {names}")
    return names


def _schema(languages: list[str], grouped: bool = False) -> dict:
    return {KEY: pl.Utf8, **({GROUP: pl.Utf8} if grouped else {}),
            **{lang: pl.Utf8 for lang in languages}}


def read_lines(path: Path, encoding: str, label: str) -> list[str]:
    """The file's lines (gunzipped when it is gzip), without line ends. Only ``\\n`` ends a
    line, so a stray U+2028 or form feed inside a segment cannot break the alignment."""
    raw = Path(path).read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(f"{path}: not a readable gzip file ({exc}); download it "
                              "again") from None
        try:
            text = raw.decode(encoding)
        except LookupError:
            raise SourceError(f"{label}: unknown encoding '{encoding}' in source.encoding") from None
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path}: byte {exc.start} (after gunzip): cannot decode as "
                              f"{encoding} ({exc.reason}); check source.encoding") from None
        text = text.removeprefix("\ufeff")
    else:
        text = read_text(Path(path), encoding, label)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()                       # the final line end
    return [line.removesuffix("\r") for line in lines]


def _read_tsv(paths: list[Path], encoding: str, options: dict, label: str) -> ReadResult:
    columns = _languages(options.get("columns") or [], label, "reader_options.columns")
    drop_identical = bool(options.get("drop_identical", False))
    shape = f"{len(columns)} tab-separated columns ({' TAB '.join(columns)})"
    data: dict[str, list] = {KEY: [], GROUP: [], **{c: [] for c in columns}}
    result = ReadResult(pl.DataFrame())
    several = len(paths) > 1
    for path in paths:
        document, first, start = 0, True, len(data[GROUP])
        for line_no, line in enumerate(read_lines(path, encoding, label), start=1):
            cells = line.split("\t")
            if all(not c.strip() for c in cells):
                document += 1             # a blank line (or only tabs): next article
                continue
            if len(cells) != len(columns):
                if first:
                    fail(path, line_no, f"{len(cells)} tab-separated cells", shape)
                result.reject("wrong_column_count", path, line_no, line)
                continue
            first = False
            cells = [c.strip() for c in cells]
            if drop_identical and len(set(cells)) == 1:
                result.reject("identical_sides", path, line_no, line)
                continue
            if swapped(columns, cells):
                result.reject("swapped_sides", path, line_no, line)
                continue
            data[KEY].append(f"{path.name}:{line_no}" if several else str(line_no))
            data[GROUP].append(f"{path.name}:{document}")
            for column, cell in zip(columns, cells):
                data[column].append(cell)
        if document == 0:
            # no blank line anywhere: the lines are independent pairs (WikiTitles), not one
            # document, so each is its own group and few-shot exemplars can be drawn
            data[GROUP][start:] = [f"{path.name}:{key}" for key in data[KEY][start:]]
    result.frame = pl.DataFrame(data, schema=_schema(columns, grouped=True))
    return result


def _segments(path: Path, encoding: str, label: str) -> list[str]:
    if path.name.endswith((".sgm", ".sgm.gz")):
        segments = _SEG.findall("\n".join(read_lines(path, encoding, label)))
        if not segments:
            fail(path, 1, "no <seg> element", 'an SGML file of <seg id="N">text</seg> lines')
        return segments
    return read_lines(path, encoding, label)


def _read_aligned(parts: dict, encoding: str, options: dict, label: str) -> ReadResult:
    languages = _languages(parts, label, "source.files (named parts, one per language)")
    drop_identical = bool(options.get("drop_identical", False))
    texts = {lang: _segments(Path(parts[lang]), encoding, label) for lang in languages}
    first = languages[0]
    for lang in languages[1:]:
        if len(texts[lang]) != len(texts[first]):
            raise SourceError(
                f"{parts[first]} has {len(texts[first])} lines but {parts[lang]} has "
                f"{len(texts[lang])}; line-aligned parallel files must have one segment per line "
                "and the same number of lines")
    data: dict[str, list] = {KEY: [], **{lang: [] for lang in languages}}
    result = ReadResult(pl.DataFrame())
    for i, cells in enumerate(zip(*(texts[lang] for lang in languages))):
        cells = [c.strip() for c in cells]
        if drop_identical and cells[0] and len(set(cells)) == 1:
            result.reject("identical_sides", parts[first], i + 1, cells[0])
            continue
        if swapped(languages, cells):
            result.reject("swapped_sides", parts[first], i + 1, "\t".join(cells))
            continue
        data[KEY].append(str(i + 1))
        for lang, cell in zip(languages, cells):
            data[lang].append(cell)
    result.frame = pl.DataFrame(data, schema=_schema(languages))
    return result


_TRAILING = re.compile(r"[\s.,;。，；]*")
_DECODER = json.JSONDecoder()


def _json_objects(path: Path, encoding: str, label: str, shape: str):
    """(line number, object) per non-blank line. Stray punctuation after a line's object (a real
    translation2019zh line ends in ``}.``) is ignored; anything else after it fails."""
    for line_no, line in enumerate(_read_text(path, encoding, label).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record, end = _DECODER.raw_decode(line.strip())
        except json.JSONDecodeError as exc:
            fail(path, line_no, f"not valid JSON ({exc.msg})", shape)
        rest = line.strip()[end:]
        if not _TRAILING.fullmatch(rest):
            fail(path, line_no, f"text after the JSON object: {rest[:30]!r}", shape)
        if not isinstance(record, dict):
            fail(path, line_no, "not a JSON object", shape)
        yield line_no, record


def _read_json_lines(paths: list[Path], encoding: str, options: dict, label: str) -> ReadResult:
    keys = options["json_keys"]
    if not isinstance(keys, dict) or not all(isinstance(k, str) for k in keys.values()):
        raise SourceError(f"{label}: reader_options.json_keys must map each language to a JSON "
                          f"key, such as {{en: english, zh: chinese}}; got {keys!r}")
    languages = _languages(keys, label, "reader_options.json_keys")
    shape = "JSON lines {" + ", ".join(f'"{keys[lang]}": str' for lang in languages) + "}"
    drop_identical = bool(options.get("drop_identical", False))
    data: dict[str, list] = {KEY: [], **{lang: [] for lang in languages}}
    result = ReadResult(pl.DataFrame())
    several = len(paths) > 1
    for path in paths:
        for line_no, record in _json_objects(path, encoding, label, shape):
            values = [record.get(keys[lang]) for lang in languages]
            for lang, value in zip(languages, values):
                if not isinstance(value, str):
                    fail(path, line_no, f'"{keys[lang]}" is missing or not a string', shape)
            cells = [v.strip() for v in values]
            if drop_identical and cells[0] and len(set(cells)) == 1:
                result.reject("identical_sides", path, line_no, "\t".join(cells))
                continue
            if swapped(languages, cells):
                result.reject("swapped_sides", path, line_no, "\t".join(cells))
                continue
            data[KEY].append(f"{path.name}:{line_no}" if several else str(line_no))
            for lang, cell in zip(languages, cells):
                data[lang].append(cell)
    result.frame = pl.DataFrame(data, schema=_schema(languages))
    return result


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        return _read_aligned(files, encoding, options, label)
    if "json_keys" in options:
        return _read_json_lines([Path(p) for p in files], encoding, options, label)
    return _read_tsv([Path(p) for p in files], encoding, options, label)


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """Hub rows ``{"translation": {lang: str, ...}}``; the key is the row number."""
    languages = options.get("columns")
    data: dict[str, list] | None = None
    result = ReadResult(pl.DataFrame())
    drop_identical = bool(options.get("drop_identical", False))
    for n, record in enumerate(dataset):
        pair = record.get("translation")
        if not isinstance(pair, dict):
            raise SourceError(f"{label}: hub row {n}: no 'translation' mapping; expected "
                              '{"translation": {"en": str, "zh": str}}')
        if data is None:
            languages = _languages(languages or sorted(pair), label, "reader_options.columns")
            data = {KEY: [], **{lang: [] for lang in languages}}
        missing = [lang for lang in languages if lang not in pair]
        if missing:
            raise SourceError(f"{label}: hub row {n}: translation has no '{missing[0]}' (has: "
                              f"{', '.join(pair)})")
        cells = [(pair[lang] or "").strip() for lang in languages]
        if drop_identical and cells[0] and len(set(cells)) == 1:
            result.reject("identical_sides", label, n, cells[0])
            continue
        if swapped(languages, cells):
            result.reject("swapped_sides", label, n, "\t".join(cells))
            continue
        data[KEY].append(str(n))
        for lang, cell in zip(languages, cells):
            data[lang].append(cell)
    if data is None:
        return ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    result.frame = pl.DataFrame(data, schema=_schema(languages))
    return result
