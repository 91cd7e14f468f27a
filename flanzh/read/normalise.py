"""Map a reader's raw columns onto the spec's declared fields, with polars.

Each field comes from a column (a dotted path reaches into structs), label fields go through the
spec's verbalizer map, and a row is dropped, counted by the first reason that applies, when a
required field is missing (its key or column absent, or null), empty ("", an empty CSV cell, only
whitespace, an empty list), or a label that is not in its map.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import polars as pl
import pyarrow as pa

from ..errors import SourceError
from .readers import EXCERPT_CHARS, GROUP, KEY, MAX_EXAMPLES
from .transforms import CLEANING, TRANSFORMS, remove_debris, truncate
from ..spec.specs import FieldSpec, Task

SPLIT = "__split"

_EXPECTED = {
    "str": (pl.Utf8, pl.String),
    "int": (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64),
    "float": (pl.Float32, pl.Float64),
    "bool": (pl.Boolean,),
}
_EMPTY_DTYPES = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean,
                 "list[str]": pl.List(pl.Utf8), "list[int]": pl.List(pl.Int64),
                 "list": pl.List(pl.Utf8), "dict": pl.Struct({})}
# Numbers and booleans read where the spec wants text (ids, "0"/"1" labels) are cast, not refused.
_CASTABLE_TO_STR = _EXPECTED["int"] + _EXPECTED["float"] + _EXPECTED["bool"]


def _column(frame: pl.DataFrame, path: str, task: Task, name: str
            ) -> tuple[pl.Expr, pl.DataType]:
    """The expression reaching ``path`` (dotted into structs) and the dtype found there."""
    head, *rest = path.split(".")
    if head not in frame.columns:
        raise SourceError(f"{task.spec_label}: $.fields.{name}: source column '{head}' does not "
                          f"exist; the reader gives: {', '.join(c for c in frame.columns if c != KEY)}")
    expr = pl.col(head)
    dtype = frame.schema[head]
    for part in rest:
        if not isinstance(dtype, pl.Struct) or part not in {f.name for f in dtype.fields}:
            raise SourceError(f"{task.spec_label}: $.fields.{name}: '{path}' does not exist in the "
                              f"source (column '{head}' is {frame.schema[head]})")
        dtype = {f.name: f.dtype for f in dtype.fields}[part]
        expr = expr.struct.field(part)
    return expr, dtype


def _typed(expr: pl.Expr, dtype: pl.DataType, spec: FieldSpec, task: Task) -> pl.Expr:
    if spec.label_map is not None or spec.type == "str":
        if dtype in _EXPECTED["str"] or dtype == pl.Null:
            return expr.cast(pl.Utf8)
        if dtype in _CASTABLE_TO_STR:
            return expr.cast(pl.Utf8)
    elif spec.type in _EXPECTED:
        if dtype in _EXPECTED[spec.type] or dtype == pl.Null:
            return expr
    elif spec.type.startswith("list"):
        if isinstance(dtype, pl.List):
            inner = dtype.inner
            if spec.type == "list" or (spec.type == "list[str]" and inner in _EXPECTED["str"]) \
                    or (spec.type == "list[int]" and inner in _EXPECTED["int"]):
                return expr
    elif spec.type == "dict":
        if isinstance(dtype, pl.Struct):
            return expr
    raise SourceError(f"{task.spec_label}: $.fields.{spec.name}: declared {spec.type} but the "
                      f"source column '{spec.source}' is {dtype}; fix the type or the 'from' path")


def empty_rows(task: Task) -> pl.DataFrame:
    """A normalised frame with no rows (an empty file, or no corpus splits)."""
    schema = {KEY: pl.Utf8, SPLIT: pl.Utf8}
    schema.update({name: _EMPTY_DTYPES.get(spec.type, pl.Utf8) for name, spec in task.fields.items()})
    return pl.DataFrame(schema=schema)


def normalise(task: Task, frame: pl.DataFrame, split: str, examples: list[dict] | None = None,
              text_only: bool = False) -> tuple[pl.DataFrame, Counter, Counter]:
    """The declared fields (plus ``__key`` and ``__split``) for each valid row, the drop counts by
    reason, and how many rows each field's length policy shortened.

    ``text_only`` is for evaluation splits, which only feed decontamination: fields other than
    the text fields may be absent (an unlabelled test file) and no row is dropped for them."""
    if frame.height == 0 and set(frame.columns) == {KEY}:       # an empty source file
        return empty_rows(task), Counter(), Counter()
    if text_only:
        text = set(task.text_fields)
        task = replace(task, fields={name: replace(spec, optional=spec.optional or name not in text)
                                     for name, spec in task.fields.items()})
    columns = [pl.col(KEY), pl.lit(split).alias(SPLIT)]
    grouped = GROUP in frame.columns
    if grouped:
        columns.append(pl.col(GROUP).cast(pl.Utf8))
    checks: list[tuple[str, pl.Expr]] = []        # (reason, expression true when the row is bad)
    for spec in task.fields.values():
        if spec.optional and spec.source.split(".")[0] not in frame.columns:
            # e.g. TNEWS keywords: in the raw files, not in the hub copy
            expr = pl.lit(None, dtype=_EMPTY_DTYPES.get(spec.type, pl.Utf8))
        else:
            expr = _typed(*_column(frame, spec.source, task, spec.name), spec, task)
        raw = f"__raw_{spec.name}"
        columns.append(expr.alias(raw))
        if spec.label_map is not None:
            columns.append(expr.replace_strict(spec.label_map, default=None,
                                               return_dtype=pl.Utf8).alias(spec.name))
        else:
            columns.append(expr.alias(spec.name))
        if not spec.optional:
            # missing: no value (the key or column is absent, or null); empty: a value with
            # nothing in it (an empty CSV cell, "", only whitespace, []); checked in that order
            checks.append((f"missing_field:{spec.name}", pl.col(raw).is_null()))
            if spec.label_map is not None:
                if not any(not str(k).strip() for k in spec.label_map):
                    checks.append((f"empty_field:{spec.name}",
                                   pl.col(raw).str.strip_chars() == ""))
                checks.append((f"invalid_label:{spec.name}", pl.col(spec.name).is_null()))
            if spec.type == "str":
                checks.append((f"empty_field:{spec.name}", pl.col(spec.name).str.strip_chars() == ""))
            elif spec.type.startswith("list"):
                checks.append((f"empty_field:{spec.name}", pl.col(spec.name).list.len() == 0))
    selected, truncated = _transform_and_truncate(task, frame.select(columns), checks)
    keep = [KEY, SPLIT, *([GROUP] if grouped else []), *task.fields]
    out, dropped = drop_by_reason(selected, checks, keep=keep, examples=examples)
    return out, dropped, truncated


def _each(step, value):
    """``step`` applied to a string, or to each string of a list."""
    if value is None:
        return None
    if isinstance(value, list):
        return [step(v) if isinstance(v, str) else v for v in value]
    return step(value) if isinstance(value, str) else value


def _transform_and_truncate(task: Task, frame: pl.DataFrame, checks: list
                            ) -> tuple[pl.DataFrame, Counter]:
    """Remove the spec's debris and apply each field's transforms, then its length policy; count
    the values each cleaning step changed (``cleaned:<step>:<field>``) and the rows cut per
    field, and add a drop check for rows where even one sentence or turn is over the limit."""
    truncated: Counter = Counter()
    updates = []
    debris = task.spec.get("debris") or []
    for spec in task.fields.values():
        cleans = bool(debris) and spec.label_map is None and spec.type in ("str", "list[str]")
        if not spec.transform and not spec.truncate and not cleans:
            continue
        steps = [("debris", lambda v: remove_debris(v, debris))] if cleans else []
        steps += [(name, TRANSFORMS[name]) for name in spec.transform]
        column = _apply_steps(frame[spec.name], steps, spec.name, truncated) if steps \
            else frame[spec.name]
        if spec.truncate:
            limit, keep = spec.truncate["max_chars"], spec.truncate.get("keep", "head")
            # only values over the limit go through Python (a list counts its items' characters)
            size = (column.list.eval(pl.element().str.len_chars()).list.sum()
                    if column.dtype != pl.Utf8 else column.str.len_chars())
            over = (size > limit).fill_null(False).to_numpy()
            if spec.truncate.get("on_cut") == "drop":
                # the targets describe the whole text (a summary): a cut row would teach a
                # target that says what the input lost, so the row goes instead
                updates.append(pl.Series(f"__over_{spec.name}", over, dtype=pl.Boolean))
                checks.insert(0, (f"too_long:{spec.name}", pl.col(f"__over_{spec.name}")))
                updates.append(column.alias(spec.name))
                continue
            at = np.flatnonzero(over)
            cut = [truncate(v, limit, keep) for v in column.gather(at).to_list()]
            too_long = np.zeros(len(column), dtype=bool)
            too_long[at] = [was_cut and v is None for v, was_cut in cut]
            truncated[spec.name] = sum(was_cut and v is not None for v, was_cut in cut)
            if len(at):
                # the cut values replace theirs: appended, then gathered into place
                index = np.arange(len(column))
                index[at] = len(column) + np.arange(len(at))
                column = pl.concat([column, pl.Series(spec.name, [v for v, _ in cut],
                                                      dtype=column.dtype)]).gather(index)
            updates.append(pl.Series(f"__too_long_{spec.name}", too_long, dtype=pl.Boolean))
            checks.insert(0, (f"too_long_to_truncate:{spec.name}", pl.col(f"__too_long_{spec.name}")))
        updates.append(column.alias(spec.name))
    if updates:
        frame = frame.with_columns(updates)
    return frame, +truncated


def _apply_steps(column: pl.Series, steps: list, name: str, counts: Counter) -> pl.Series:
    """``steps`` applied in order to every string of a text or list-of-text column (a list's
    strings are taken out of it and put back by offset, not converted list by list); each
    cleaning step counts the rows it changed."""
    if column.dtype == pl.Utf8:
        strings, row_of = column, None
    elif column.dtype == pl.List(pl.Utf8):
        array = column.to_arrow()
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        offsets = np.asarray(array.offsets, dtype=np.int64)
        strings = pl.Series(array.values.slice(offsets[0], offsets[-1] - offsets[0]))
        offsets = offsets - offsets[0]
        row_of = np.repeat(np.arange(len(array)), np.diff(offsets))
    else:                                      # any other value: its strings, one by one
        values = column.to_list()
        for step_name, step in steps:
            done = [_each(step, v) for v in values]
            if step_name in CLEANING:
                counts[f"cleaned:{step_name}:{name}"] += sum(a != b for a, b in zip(values, done))
            values = done
        return pl.Series(name, values, dtype=column.dtype)
    values = strings.to_list()
    for step_name, step in steps:
        done = [None if v is None else step(v) for v in values]
        if step_name in CLEANING:
            changed = [i for i, (a, b) in enumerate(zip(values, done)) if a != b]
            counts[f"cleaned:{step_name}:{name}"] += (
                len(changed) if row_of is None else len(np.unique(row_of[changed])))
        values = done
    out = pl.Series(name, values, dtype=pl.Utf8)
    if row_of is None:
        return out
    rebuilt = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), out.to_arrow(),
                                            mask=array.is_null())
    return pl.Series(name, rebuilt, dtype=column.dtype)


def drop_by_reason(frame: pl.DataFrame, checks: list[tuple[str, pl.Expr]], keep: list[str],
                   examples: list[dict] | None = None) -> tuple[pl.DataFrame, Counter]:
    """Drop rows failing any check, each counted once under the first failing check's reason.
    With ``examples``, append up to MAX_EXAMPLES dropped rows per reason to it."""
    if frame.is_empty() or not checks:
        return frame.select(keep), Counter()
    reasons = pl.lit(None, dtype=pl.Utf8)
    for reason, bad in reversed(checks):
        reasons = pl.when(bad.fill_null(False)).then(pl.lit(reason)).otherwise(reasons)
    marked = frame.with_columns(reasons.alias("__reason"))
    bad_rows = marked.filter(pl.col("__reason").is_not_null())
    counts = bad_rows.group_by("__reason").len()
    dropped = Counter({r: n for r, n in counts.iter_rows()})
    if examples is not None and bad_rows.height:
        shown = [c for c in keep if not c.startswith("__")]
        for row in bad_rows.group_by("__reason", maintain_order=True).head(MAX_EXAMPLES) \
                .iter_rows(named=True):
            # the raw source value where normalise mapped it (e.g. the label before its verbalizer)
            excerpt = json.dumps({c: row.get(f"__raw_{c}", row[c]) for c in shown},
                                 ensure_ascii=False, default=str)
            examples.append({"reason": row["__reason"], "source_key": row.get(KEY),
                             "excerpt": excerpt[:EXCERPT_CHARS]})
    return marked.filter(pl.col("__reason").is_null()).select(keep), dropped
