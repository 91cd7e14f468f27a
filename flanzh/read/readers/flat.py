"""Flat files (one record per line or row): JSON lines, a JSON array, CSV, TSV, parquet.

flanzh reads them itself, row by row (``tolerant``), not through a library loader: what is read
is what the file holds now (no loader cache keyed on size and mtime), and one odd value cannot
change how the other rows read. Each column the spec reads is typed from its declared field:

- a label (a field with a ``map``) or the row key: any number, string or boolean, as written
  (JSON ``1`` is "1", ``0.50`` is "0.50", a CSV cell is its text);
- ``str``: a string; numbers are read as written only in a column that holds no strings at all
  (ids); a list or an object is ``wrong_type:<field>``;
- ``int``/``float``/``bool``: a JSON value of that type, or a CSV cell that parses as one;
  an empty or blank CSV cell there is ``empty_field:<field>`` (null if the field is optional);
- ``list[str]``/``list[int]``: a list of strings/integers; ``list``/``dict``: any list/object.

An empty CSV/TSV cell is read as an empty string, like a JSON ``""`` (normalise drops a required
field's as ``empty_field:<field>``); a cell a short row leaves out is absent, like a missing JSON
key (``missing_field:<field>``). A row with a wrong value is counted as ``wrong_type:<field>``
with its file and line; only a column with no usable value in any row is a spec error (normalise
names the declared type and what the source holds). Columns no field reads keep their values'
common type, except on the one-pass JSON-lines read, which reads only the fields' columns (all
columns, when one a field reads is missing from every row of a file).
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import polars as pl

from ...encoding import require_text_encoding
from ...errors import SourceError
from . import KEY, ReadResult
from ._lines import file_list
from .tolerant import (Number, Rows, csv_rows, json_array_rows, json_line_rows, reject,
                       starts_with_array)

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")

_WRONG = object()              # a value of the wrong type for its field
_ROWS = "__rows"               # holds the row count of objects that have no keys at all
_INT64 = (-(2**63), 2**63 - 1)
_BOOLS = {"true": True, "false": False, "True": True, "False": False, "TRUE": True,
          "FALSE": False}


def _with_key(frame: pl.DataFrame, key_column: str | None, label: str) -> pl.DataFrame:
    if key_column:
        if key_column not in frame.columns:
            raise SourceError(f"{label}: reader_options.key names column '{key_column}', which the "
                              f"source does not have (columns: {', '.join(frame.columns)})")
        key = pl.col(key_column).cast(pl.Utf8)
    else:
        key = pl.int_range(pl.len()).cast(pl.Utf8)   # row number within the split, in file order
    return frame.select(key.alias(KEY), pl.all())


def decode_class_labels(dataset) -> pl.DataFrame:
    """A hub dataset as a polars frame, with ClassLabel ints turned back into their names (the raw
    files carry names such as "entailment" or "1"); -1 (no gold label) becomes null."""
    from datasets import ClassLabel

    frame = pl.from_arrow(dataset.data.table)
    for name, feature in dataset.features.items():
        if isinstance(feature, ClassLabel):
            names = pl.Series(feature.names, dtype=pl.Utf8)
            frame = frame.with_columns(
                pl.col(name).map_elements(lambda i: names[i] if 0 <= i < len(names) else None,
                                          return_dtype=pl.Utf8))
    return frame


def read(files, *, fmt: str, encoding: str, options: dict, label: str,
         fields: dict | None = None) -> ReadResult:
    """``fields`` (the spec's FieldSpecs) types the columns they read; without it every column
    keeps its values' common type."""
    files = file_list(files, fmt, label)
    if fmt == "parquet":
        return ReadResult(_with_key(_parquet(files), options.get("key"), label))
    require_text_encoding(encoding, label)
    if fmt == "jsonl" or fmt == "json" and not any(map(starts_with_array, files)):
        frame = _clean_json_lines(files, encoding, fields or {}, options.get("key"))
        if frame is not None:
            result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
            if frame.width:
                result.frame = _with_key(frame, options.get("key"), label)
            return result
    return read_rows(files, fmt=fmt, encoding=encoding, options=options, label=label,
                     fields=fields)


def read_rows(files: list[Path], *, fmt: str, encoding: str, options: dict, label: str,
              fields: dict | None = None) -> ReadResult:
    """The split read one row at a time (what ``read`` gives whenever polars' one-pass read
    would not be exactly this)."""
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows = Rows(files, encoding)
    for file, path in enumerate(files):
        if fmt in ("csv", "tsv"):
            csv_rows(rows, file, label, result, "\t" if fmt == "tsv" else ",",
                     options.get("column_names"))
        elif fmt == "json" and starts_with_array(path):
            json_array_rows(rows, file, label, result)
        else:
            json_line_rows(rows, file, label, result)
    if rows.records or rows.columns:
        frame = _frame(rows, fields or {}, options.get("key"), result, label,
                       textual=fmt in ("csv", "tsv"))
        result.frame = _with_key(frame, options.get("key"), label).drop(_ROWS, strict=False)
    return result


_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
# A JSON number polars does not print as written when it reads it into a string column: one with
# a fraction or an exponent (1.0 becomes "1") or minus zero ("0"). First any colon before one
# (whitespace between a key and its colon must not hide it), then only a string's closing quote
# and colon before one (so "步骤: 1. ..." inside a text is not taken for a value). A split where
# a column read as text may hold one is read row by row; elsewhere (a score, a float field) it
# changes nothing.
_ODD_NUMBER = rb':\s*(?:-?\d+[.eE]|-0)'
_ODD_NUMBER_BYTES = re.compile(_ODD_NUMBER)
_ODD_VALUE_BYTES = re.compile(rb'"\s*' + _ODD_NUMBER)
# A key holding an escape (\u6807, \/): polars reads it as the plain name, which the column's own
# pattern (spelled plainly) would not find.
_ESCAPED_KEY_BYTES = re.compile(rb'"[^"\\]*+\\.(?:[^"\\]++|\\.)*+"\s*:')


def _odd_text_columns(data: bytes, names: list[str]) -> bool:
    """Whether a column read as text may hold a number polars would print otherwise."""
    if not names or not _ODD_NUMBER_BYTES.search(data) or not _ODD_VALUE_BYTES.search(data):
        return False
    if _ESCAPED_KEY_BYTES.search(data):
        return True
    return any(re.search(re.escape(json.dumps(name, ensure_ascii=False).encode("utf-8"))
                         + rb'\s*' + _ODD_NUMBER, data) for name in names)


def _read_as_text(spec) -> bool:
    """Whether a field's column is read as text: a label, a key or a text field."""
    return spec.label_map is not None or spec.type in ("key", "str")


_SCHEMA_TYPES = {"key": pl.Utf8, "str": pl.Utf8, "int": pl.Int64, "float": pl.Float64,
                 "bool": pl.Boolean, "list[str]": pl.List(pl.Utf8), "list[int]": pl.List(pl.Int64)}


def _known_schema(readers: dict) -> dict | None:
    """The columns the fields read with the type each needs, when every one has a fixed type:
    polars then reads only them, without a first pass over the file to infer types (a third of
    the time of a large read). Labels and keys are read as text, as the row reader reads them.
    None when a field reads a nested path, a free list or an object, or when no field is known."""
    schema = {}
    for name, spec in readers.items():
        dtype = pl.Utf8 if spec.label_map is not None else _SCHEMA_TYPES.get(spec.type)
        if "." in spec.source or dtype is None:
            return None
        schema[name] = dtype
    return schema or None


def _clean_json_lines(files: list[Path], encoding: str, fields: dict, key_column: str | None
                      ) -> pl.DataFrame | None:
    """The split read by polars in one pass when that is exactly what the row-by-row reader would
    give, else None (then every row is read one by one). Exact means: UTF-8 that decodes, no
    surrogate escape, every non-blank line an object polars reads, and every column a field reads
    holding one kind of value in every row, so polars had nothing to coerce: a text or label
    column only strings (or only integers, read as their digits), typed fields their type. A
    field reading a path into objects, a free list or an object is always read row by row."""
    if codecs.lookup(encoding).name != "utf-8":
        return None
    readers = {}
    for spec in fields.values():
        readers.setdefault(spec.source.split(".")[0], spec)
    if key_column and key_column not in readers:
        from ...spec.specs import FieldSpec
        readers[key_column] = FieldSpec(name=key_column, source=key_column, type="key")
    schema = _known_schema(readers)
    if schema is None:
        # a path into objects, a free list or an object: polars would make the rows' values alike
        # (1 read as "1" inside a list of strings, a record's field dropped), where the row reader
        # counts or refuses what does not fit
        return None
    frames = []
    text_columns = [name for name, spec in readers.items() if _read_as_text(spec)]
    for path in files:
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        if _SURROGATE_BYTES.search(data) or _odd_text_columns(data, text_columns):
            return None
        if not data or data.isspace():          # (strip would copy the whole file)
            continue
        try:
            frame = pl.read_ndjson(data, schema=schema)
        except Exception:  # noqa: BLE001 - a value polars cannot take as its field's type
            return None
        if any(frame[name].null_count() == frame.height for name in schema):
            frame = None                # a column missing from every row: read all its columns
        if frame is None:
            try:
                # polars skips blank lines and fails on any line that is not one JSON object,
                # and on bytes that are not UTF-8
                frame = pl.read_ndjson(data, infer_schema_length=None)
            except Exception:  # noqa: BLE001 - any polars failure means: read it row by row
                return None
            if not frame.width:                 # objects without keys: polars counts no rows
                return None
        frames.append(frame)
    if not frames:
        return pl.DataFrame()
    try:
        frame = pl.concat(frames, how="diagonal")      # no coercion across files either
    except Exception:  # noqa: BLE001
        return None
    casts = []
    for name, spec in readers.items():
        if name not in frame.columns:
            continue
        dtype = frame.schema[name]
        if _read_as_text(spec):
            ok = dtype in (pl.Utf8, pl.Int64, pl.Null) or \
                (dtype == pl.Boolean and spec.type != "str")
            if dtype == pl.Utf8:                          # strings only, nothing coerced
                ok = not _maybe_coerced(frame[name], strict=spec.type == "str"
                                        and spec.label_map is None)
            casts.append(pl.col(name).cast(pl.Utf8))
        else:
            ok = dtype == _SCHEMA_TYPES[spec.type] or (spec.type == "float" and dtype == pl.Int64)
            if ok and spec.type == "list[str]":   # polars writes 1, true or [1] in it as text
                ok = not _maybe_coerced(frame[name].explode(), strict=True)
            if spec.type == "float":
                casts.append(pl.col(name).cast(pl.Float64))
        if not ok:
            return None
    return frame.with_columns(casts) if casts else frame


# What polars may have written into a String column for a value that was not a string: a list
# or an object, a number, a boolean; for a label or key, a number that is not an integer (an
# integer's digits are exact). One pattern each, so a column is scanned once.
_COERCED_TEXT = r"(?s)^(?:\[.*\]|\{.*\}|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|true|false)$"
_COERCED_LABEL = r"(?s)^(?:\[.*\]|\{.*\}|-?\d+(?:\.\d*(?:[eE][+-]?\d+)?|[eE][+-]?\d+))$"


def _maybe_coerced(column: pl.Series, strict: bool) -> bool:
    """Whether polars may have turned a non-string into this String column's text (it does so
    silently when a column mixes kinds): a value that reads as a number (for a label, one that is
    not an integer: those are exact, a split with a fraction in a text column never gets here), a
    boolean (for text) or a list or object. A real string of that shape only sends the split to
    the row-by-row reader."""
    return bool(column.str.contains(_COERCED_TEXT if strict else _COERCED_LABEL).any())


def _parquet(files: list[Path]) -> pl.DataFrame:
    frames = []
    for path in files:
        if not path.stat().st_size:
            continue                                  # an empty file is no rows
        try:
            frames.append(pl.read_parquet(path))
        except Exception as exc:  # polars raises several types for a file that is not parquet
            raise SourceError(f"{path}: cannot read as parquet: {exc}") from None
    if not frames:
        return pl.DataFrame()
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except Exception as exc:
        raise SourceError(f"{', '.join(map(str, files))}: the parquet files do not share one "
                          f"schema: {exc}") from None


# Value conversions by what a field needs; each returns the value or _WRONG.

def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)                   # a Number's literal as a plain str
    return _WRONG


def _strict_text(value):
    return str.__str__(value) if isinstance(value, str) and not isinstance(value, Number) \
        else _WRONG


def _int(value, textual=False):
    if isinstance(value, Number) and value.is_int or textual and isinstance(value, str) \
            and value.strip().lstrip("+-").isdigit():
        number = int(value)
        return number if _INT64[0] <= number <= _INT64[1] else _WRONG
    return _WRONG


def _float(value, textual=False):
    if isinstance(value, Number) or textual and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return _WRONG
    return _WRONG


def _bool(value, textual=False):
    if isinstance(value, bool):
        return value
    if textual and isinstance(value, str):
        return _BOOLS.get(value, _WRONG)
    return _WRONG


def _list_of(item):
    def convert(value, textual=False):
        if not isinstance(value, list):
            return _WRONG
        out = [None if v is None else item(v) for v in value]
        return _WRONG if any(v is _WRONG for v in out) else out
    return convert


def _plain(value):
    """A parsed JSON value with numbers as Python numbers (for lists and objects)."""
    if isinstance(value, Number):
        return value.value()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Number):
        return "number"
    return {str: "str", list: "list", dict: "dict"}.get(type(value), type(value).__name__)


_NEEDS = {
    "int": (_int, pl.Int64), "float": (_float, pl.Float64), "bool": (_bool, pl.Boolean),
    "list[str]": (_list_of(_strict_text), pl.List(pl.Utf8)),
    "list[int]": (_list_of(_int), pl.List(pl.Int64)),
    "list": (lambda v, textual=False: _plain(v) if isinstance(v, list) else _WRONG, None),
    "dict": (lambda v, textual=False: _plain(v) if isinstance(v, dict) else _WRONG, None),
}


def _need(spec, values: list) -> tuple:
    """(convert, dtype) for the top-level column ``spec`` reads."""
    if "." in spec.source:
        return _NEEDS["dict"]                       # a path into an object
    if spec.label_map is not None or spec.type == "key":
        return (lambda v, textual=False: _text(v)), pl.Utf8
    if spec.type == "str":
        if any(type(v) is str for v in values):
            return (lambda v, textual=False: _strict_text(v)), pl.Utf8
        return (lambda v, textual=False: _text(v)), pl.Utf8   # ids: numbers as written
    return _NEEDS.get(spec.type, _NEEDS["dict"] if spec.type == "dict" else _NEEDS["list"])


def _series(name: str, values: list, dtype) -> pl.Series:
    try:
        if dtype is None:
            # typed from every row, so records may differ in their keys (one row's extra key is
            # a field of the whole column, null in the others, as polars reads JSON lines)
            series = pl.DataFrame([{name: v} for v in values], schema=[name] if not values
                                  else None, infer_schema_length=None).to_series()
        else:
            series = pl.Series(name, values, dtype=dtype, strict=False)
    except Exception as exc:  # polars raises several types when values do not share one shape
        raise ValueError(str(exc).splitlines()[0]) from None
    if dtype is None:
        # polars makes the others' type of a value that does not fit it where it can ("1" for
        # 1 among texts) or a null ([{"start": 1}] then [{"start": "x"}]): refused here
        for row, (value, built) in enumerate(zip(values, series.to_list())):
            if not _same(value, built):
                raise _Misfit(row, json.dumps(value, ensure_ascii=False))
    return series


class _Misfit(ValueError):
    """A row's value that polars would build as something else (see _series)."""

    def __init__(self, row: int, value: str):
        super().__init__(f"row {row}: {value}")
        self.row, self.value = row, value


def _same(value, built) -> bool:
    """Whether polars built ``value`` (a plain JSON value) as itself: an object may come back with
    the other rows' keys added as null, an integer as a float of the same value."""
    if isinstance(value, dict):
        return isinstance(built, dict) and value.keys() <= built.keys() and \
            all(_same(value.get(k), v) for k, v in built.items())
    if isinstance(value, list):
        return isinstance(built, list) and len(value) == len(built) and \
            all(map(_same, value, built))
    if isinstance(value, bool) or isinstance(built, bool) or value is None or built is None:
        return value is built
    if isinstance(value, (int, float)):
        return isinstance(built, (int, float)) and (value == built or value != value and
                                                    built != built)       # NaN is NaN
    return value == built


def _common(name: str, values: list) -> pl.Series:
    """A column no field reads (or no row of which fits its field): its values' common type, so
    a spec naming it with the wrong type gets normalise's error naming that type."""
    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return pl.Series(name, values, dtype=pl.Null)
    if kinds == {"str"}:
        return pl.Series(name, values, dtype=pl.Utf8)
    if kinds == {"bool"}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds == {"number"}:
        if all(v is None or v.is_int and _int(v) is not _WRONG for v in values):
            return pl.Series(name, [None if v is None else int(v) for v in values], dtype=pl.Int64)
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if kinds <= {"str", "number", "bool"}:
        return pl.Series(name, [None if v is None else _text(v) for v in values], dtype=pl.Utf8)
    try:
        return _series(name, [_plain(v) for v in values], None)
    except ValueError:
        return pl.Series(name, [None if v is None else json.dumps(_plain(v), ensure_ascii=False)
                                for v in values], dtype=pl.Utf8)


def _frame(rows: Rows, fields: dict, key_column: str | None, result: ReadResult, label: str,
           textual: bool) -> pl.DataFrame:
    names = dict(rows.columns)
    keys = names.keys()
    for record in rows.records:
        if record.keys() != keys:
            names.update(dict.fromkeys(record))
            keys = names.keys()
    readers: dict[str, object] = {}                 # column -> the first field reading it
    for spec in fields.values():
        readers.setdefault(spec.source.split(".")[0], spec)
    if key_column and key_column not in readers:
        from ...spec.specs import FieldSpec
        readers[key_column] = FieldSpec(name=key_column, source=key_column, type="key")
    order = {name: i for i, name in enumerate(spec.name for spec in fields.values())}
    n = len(rows.records)
    reason: dict[int, tuple[int, str]] = {}          # row -> (field order, reason)
    columns = []
    for name in names:
        values = [record.get(name) for record in rows.records]
        spec = readers.get(name)
        if spec is None:
            columns.append(_common(name, values))
            continue
        convert, dtype = _need(spec, values)
        if dtype == pl.Utf8 and set(map(type, values)) <= {str, type(None)}:
            columns.append(pl.Series(name, values, dtype=pl.Utf8))   # the usual text column
            continue
        converted, wrong, blank, present = [], [], [], 0
        for row, value in enumerate(values):
            if value is None:
                converted.append(None)
                continue
            if textual and dtype != pl.Utf8 and not value.strip():
                # an empty CSV cell where a number, boolean or list is read: an empty value
                converted.append(None)
                if not spec.optional:
                    blank.append(row)
                continue
            present += 1
            value = convert(value, textual=textual)
            if value is _WRONG:
                wrong.append(row)
                value = None
            converted.append(value)
        if wrong and len(wrong) == present:          # no row fits: the spec is wrong, not the rows
            try:
                columns.append(_common(name, values))
            except ValueError:
                raise SourceError(f"{label}: $.fields.{spec.name}: declared {spec.type} but the "
                                  f"source column '{name}' holds "
                                  f"{', '.join(sorted({_kind(v) for v in values if v is not None}))}"
                                  " values; fix the type or the 'from' path") from None
            continue
        rank = order.get(spec.name, len(order))
        for rows_of, why in ((wrong, "wrong_type"), (blank, "empty_field")):
            for row in rows_of:
                if row not in reason or reason[row][0] > rank:
                    reason[row] = (rank, f"{why}:{spec.name}")
        try:
            columns.append(_series(name, converted, dtype))
        except _Misfit as exc:
            path, line = rows.where(exc.row)
            shown = exc.value if len(exc.value) <= 80 else exc.value[:77] + "..."
            raise SourceError(f"{path}:{line}: column '{name}' ({spec.name}, {spec.type}): the "
                              f"value {shown} does not have the shape of the other rows' values; "
                              "make them alike, or declare the field with the shape they have"
                              ) from None
        except ValueError as exc:
            raise SourceError(f"{rows.paths[0]}: column '{name}' ({spec.name}, {spec.type}): its "
                              f"values do not share one shape ({exc}); make them alike, or "
                              "declare the field with the shape they have") from None
    frame = pl.DataFrame(columns) if columns else pl.DataFrame({_ROWS: [None] * n})
    if reason:
        for row in sorted(reason):
            path, line = rows.where(row)
            reject(result, reason[row][1], path, line, lambda row=row: rows.excerpt(row))
        keep = pl.Series([row not in reason for row in range(n)], dtype=pl.Boolean)
        frame = frame.filter(keep)
    return frame


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    return ReadResult(_with_key(decode_class_labels(dataset), options.get("key"), label))
