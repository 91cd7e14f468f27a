"""Row-by-row parsers for flat sources (JSON lines, a JSON array, CSV/TSV): each bad row (broken
JSON, not an object, undecodable bytes, a lone surrogate escape, a CSV row with extra cells) is counted
by reason with its file and line, and the rest is read. Values are kept as written: a JSON number
is a ``Number`` holding its literal text, a CSV cell is its text; a key written twice in one object
keeps its first value. A file that is mostly
undecodable is a wrong encoding, not bad rows, and stays an error."""

from __future__ import annotations

import csv
import io
import json
import re
from array import array
from pathlib import Path

from ...encoding import check_decodes
from ...errors import SourceError
from . import MAX_EXAMPLES, ReadResult
from ._lines import BLANK
from ._rows import safe, surrogate_at

FORMATS = ()              # used by the flat reader, not named in specs

# More undecodable lines than this share means the declared encoding is wrong.
WRONG_ENCODING_SHARE = 0.1
BAD_ROW = "bad_row"       # a CSV/TSV row with more cells than the header
# A \uD800-\uDFFF escape: only text holding one can parse to a lone surrogate, so a file without
# any is not checked value by value.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def lone_surrogate(text: str, record) -> str | None:
    """``lone_surrogate:<top-level key>`` when a string or key of ``record`` (parsed from the JSON
    ``text``) holds a lone surrogate (an unpaired escape; no UTF-8 writer takes it), else None.
    The same reason the nested readers' row guard gives."""
    if not _SURROGATE_ESCAPE.search(text):
        return None
    where = surrogate_at(record)
    if where is None:
        return None
    top = re.split(r"[.\[]", where, maxsplit=1)[0] or where
    return f"lone_surrogate:{top}"


class Number(str):
    """A JSON number as written in the file: ``"0.50"``, ``"1e3"``, ``"7"``."""

    __slots__ = ()

    @property
    def is_int(self) -> bool:
        return self.lstrip("-").isdigit()

    def value(self) -> int | float:
        return int(self) if self.is_int else float(self)


def _first_value(pairs: list[tuple[str, object]]) -> dict:
    """An object whose key is written twice keeps the key's first value, as polars' one-pass read
    takes it (Python's json would keep the last), so both reads give one row."""
    record = dict(pairs)
    if len(record) != len(pairs):
        record = {}
        for key, value in pairs:
            record.setdefault(key, value)
    return record


_DECODER = json.JSONDecoder(parse_float=Number, parse_int=Number, parse_constant=Number,
                            object_pairs_hook=_first_value)
_SPACE = re.compile(r"[ \t\n\r]*")


class Rows:
    """The parsed objects of a split, with where each came from (file, line; for a JSON array the
    object's span, for its excerpt)."""

    def __init__(self, paths: list[Path], encoding: str):
        self.paths = paths
        self.encoding = encoding
        self.records: list[dict] = []
        self.columns: dict[str, None] = {}        # CSV headers (a header-only file has columns)
        self.file = array("l")
        self.line = array("q")
        self.spans: dict[int, tuple[int, int]] = {}
        self._texts: dict[int, str] = {}

    def add(self, record: dict, file: int, line: int, span: tuple[int, int] | None = None) -> None:
        if span is not None:
            self.spans[len(self.records)] = span
        self.records.append(record)
        self.file.append(file)
        self.line.append(line)

    def where(self, row: int) -> tuple[Path, int]:
        return self.paths[self.file[row]], self.line[row]

    def excerpt(self, row: int) -> str:
        """The row as written (re-read: only rejected rows need it)."""
        file = self.file[row]
        if file not in self._texts:
            data = self.paths[file].read_bytes()
            self._texts[file] = data.decode(self.encoding, "replace").removeprefix("\ufeff")
        text = self._texts[file]
        if row in self.spans:
            start, end = self.spans[row]
            return text[start:end]
        return physical_line(text, self.line[row])


def physical_line(text: str, line_no: int) -> str:
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if number == line_no:
            return line.rstrip("\r\n")
    return ""


def reject(result: ReadResult, reason: str, path, line: int, excerpt) -> None:
    """Count a bad row; ``excerpt`` (a function) runs only while examples of ``reason`` are
    still kept, so a file of many bad rows is not re-read for each."""
    kept = sum(1 for r in result.rejects if r["reason"] == reason)
    result.reject(reason, path, line, excerpt() if kept < MAX_EXAMPLES else "")


def starts_with_array(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"[")


def _decoded_lines(path: Path, encoding: str, label: str):
    """(line number, text or None when undecodable, raw bytes) of each non-blank line."""
    data = path.read_bytes()
    if "\n".encode(encoding) != b"\n" or _decodes(data, encoding):
        # the usual case (and utf-16/32, whose lines only exist after decoding): decode once
        if "\n".encode(encoding) != b"\n":
            check_decodes(path, encoding, label)
        text = data.decode(encoding).removeprefix("\ufeff")
        return [(n, line.removesuffix("\r"), None)
                for n, line in enumerate(text.split("\n"), start=1) if line.strip(BLANK)]
    decoded = []
    bad = 0
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            decoded.append((line_no, raw.decode(encoding), raw))
        except UnicodeDecodeError:
            bad += 1
            decoded.append((line_no, None, raw))
    if decoded and bad / len(decoded) > WRONG_ENCODING_SHARE:
        check_decodes(path, encoding, label)      # raises with offset and a suggestion
    return decoded


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def read_json_lines(paths: list[Path], encoding: str, label: str) -> ReadResult:
    """A JSON-lines split read line by line, each column in its values' common type."""
    from .flat import read

    return read(paths, fmt="jsonl", encoding=encoding, options={}, label=label)


def json_line_rows(rows: Rows, file: int, label: str, result: ReadResult) -> None:
    """Each line of a JSON-lines file: an object is a row; anything else is counted."""
    path, encoding = rows.paths[file], rows.encoding
    lines = _decoded_lines(path, encoding, label)
    scan, records, files, numbers = _DECODER.scan_once, rows.records, rows.file, rows.line
    for line_no, text, raw in lines:
        if text is None:
            result.reject("invalid_encoding", path, line_no, raw[:200].decode(encoding, "replace"))
            continue
        try:
            start = len(text) - len(text.lstrip())
            record, end = scan(text, start)
            if end != len(text) and text[end:].strip():
                raise ValueError("extra data")
        except (StopIteration, ValueError):       # JSONDecodeError is a ValueError
            result.reject("bad_json", path, line_no, text)
            continue
        if type(record) is not dict:
            result.reject("not_an_object", path, line_no, text)
        elif "\\u" in text and (reason := lone_surrogate(text, record)):
            result.reject(reason, path, line_no, safe(text))
        else:
            records.append(record)
            files.append(file)
            numbers.append(line_no)


def json_array_rows(rows: Rows, file: int, label: str, result: ReadResult) -> None:
    """A file holding one JSON array of objects: each object is a row, counted like a line."""
    path = rows.paths[file]
    check_decodes(path, rows.encoding, label)
    text = path.read_bytes().decode(rows.encoding).removeprefix("\ufeff")
    shape = "a JSON array of objects, or one JSON object per line"

    def fail(at: int, what: str):
        raise SourceError(f"{path}: line {text.count(chr(10), 0, at) + 1}: {what}; expected {shape}")

    at = _SPACE.match(text).end() + 1            # past '['
    line_no, counted_to = 1, 0
    first = True
    while True:
        at = _SPACE.match(text, at).end()
        if at < len(text) and text[at] == "]" and first:
            at += 1
            break
        try:
            value, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            fail(exc.pos, f"not valid JSON ({exc.msg})")
        line_no += text.count("\n", counted_to, at)
        counted_to = at
        if not isinstance(value, dict):
            result.reject("not_an_object", path, line_no, text[at:end])
        elif reason := lone_surrogate(text[at:end], value):
            result.reject(reason, path, line_no, safe(text[at:end]))
        else:
            rows.add(value, file, line_no, (at, end))
        first = False
        at = _SPACE.match(text, end).end()
        if at < len(text) and text[at] == ",":
            at += 1
            continue
        if at < len(text) and text[at] == "]":
            at += 1
            break
        fail(at, "expected ',' or ']' after an array item")
    if _SPACE.match(text, at).end() != len(text):
        fail(_SPACE.match(text, at).end(), "text after the end of the array")


def csv_rows(rows: Rows, file: int, label: str, result: ReadResult, delimiter: str,
             column_names: list[str] | None) -> None:
    """Each record of a CSV/TSV file (quoted cells may span lines) as a row of text cells; an
    empty cell is an empty string (the column is there, its value is empty: ``empty_field``), a
    cell a short record leaves out is absent (``missing_field``); a record with more cells than
    the header is counted as ``bad_row``."""
    path = rows.paths[file]
    check_decodes(path, rows.encoding, label)
    text = path.read_bytes().decode(rows.encoding).removeprefix("\ufeff")
    csv.field_size_limit(2**31 - 1)                  # a 10 MB review is a row, not an error
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = list(column_names) if column_names else None
    if header:
        rows.columns.update(dict.fromkeys(header))
    end_line = 0
    while True:
        start_line = end_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end_line = reader.line_num
            reject(result, BAD_ROW, path, start_line,
                   lambda: f"{physical_line(text, start_line)} ({exc})")
            continue
        end_line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue                                # a blank line is no row
        if header is None:
            seen = set()
            for name in cells:
                if name in seen:
                    raise SourceError(f"{path}: line {start_line}: the header names column "
                                      f"'{name}' twice; give every column its own name")
                seen.add(name)
            header = cells
            rows.columns.update(dict.fromkeys(header))
            continue
        if len(cells) > len(header):
            reject(result, BAD_ROW, path, start_line, lambda: physical_line(text, start_line))
            continue
        rows.add(dict(zip(header, cells)), file, start_line)
