"""Each row's answer options, in a per-row seeded order so the gold position varies.

``row_options`` does one row (the jinja2 path, lint, preview); ``options_column`` does a whole
frame with numpy and Arrow, without a Python object per row. Both derive the order from the
row key's hash (hashing.py), so they give the same options; a test compares them on every task.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from ..hashing import HASH, derive, derive_one, key_hash, permutation_of, permutations
from ..read.readers import KEY
from ..spec.specs import Task

_BATCH = 65_536          # rows per permutation matrix


def _base(task: Task, row: dict, seed: int) -> int:
    return row[HASH] if row.get(HASH) is not None else key_hash(seed, task.id, row[KEY])


def row_options(task: Task, row: dict, seed: int) -> list[str] | None:
    """The row's answer options in its seeded order."""
    if task.choices is not None:
        choices = task.choices
    elif task.choices_field is not None:
        choices = row[task.choices_field]
    else:
        return None
    base = _base(task, row, seed)
    if task.max_options is not None and len(choices) > task.max_options:
        # Large label sets: the gold answer plus seeded distractors, never the whole list.
        gold = row[task.answer_field]
        others = [c for c in choices if c != gold]
        order = permutation_of(derive_one(base, "distractors"), len(others))
        choices = [gold, *(others[i] for i in order[:task.max_options - 1])]
    order = permutation_of(derive_one(base, "options"), len(choices))
    return [choices[i] for i in order]


def _batched_permutations(values: np.ndarray, n: int) -> np.ndarray:
    out = np.empty((len(values), n), dtype=np.int64)
    for start in range(0, len(values), _BATCH):
        out[start:start + _BATCH] = permutations(values[start:start + _BATCH], n)
    return out


def _first_of_permutations(values: np.ndarray, n: int, first: int) -> np.ndarray:
    """The first ``first`` entries of each row's ``permutations(values, n)``: the positions of
    the smallest sort keys, found with argpartition instead of sorting all n (119 labels)."""
    from ..hashing import sort_keys

    out = np.empty((len(values), first), dtype=np.int64)
    for start in range(0, len(values), _BATCH):
        keys = sort_keys(values[start:start + _BATCH], n)
        if first < n:
            part = np.argpartition(keys, first - 1, axis=1)[:, :first]
        else:
            part = np.broadcast_to(np.arange(n), keys.shape).copy()
        order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
        out[start:start + _BATCH] = np.take_along_axis(part, order, axis=1)
    return out


def _arrow(values: np.ndarray) -> pa.Array:
    """A numpy integer or boolean array as an Arrow array, through its buffer: ``pa.array`` and
    ``to_numpy`` import pandas (about 0.3 s, once per process) to check for its types."""
    if values.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), len(values), [
            None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    values = np.ascontiguousarray(values)
    kind = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32()}[values.dtype]
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _list_array(values: pa.Array, offsets: np.ndarray, valid: np.ndarray | None = None
                ) -> pl.Series:
    mask = None if valid is None or valid.all() else _arrow(~valid)
    array = pa.LargeListArray.from_arrays(_arrow(offsets.astype(np.int64)),
                                          values.cast(pa.large_string()), mask=mask)
    return pl.Series("options", pl.from_arrow(array)).cast(pl.List(pl.Utf8))


def options_column(task: Task, frame: pl.DataFrame
                   ) -> tuple[pl.Series, np.ndarray] | None:
    """Every row's options (a list column) and the gold answer's position among them (-1 when
    the answer is not an option), equal to ``row_options`` row by row; None for the cases
    left to row_options (max_options with an answer outside the choices, or over per-row
    lists). ``frame`` needs HASH."""
    base = frame[HASH].to_numpy()
    answers = (frame[task.answer_field] if task.answer_field
               else pl.Series([None] * frame.height, dtype=pl.Utf8))
    if task.choices is not None:
        return _fixed_choices(task, base, answers)
    column = frame[task.choices_field]
    if task.max_options is not None and (column.list.len() > task.max_options).any():
        return None      # distractors drawn from each row's own list: left to row_options
    return _row_choices(column, base, answers)


def _fixed_choices(task: Task, base: np.ndarray, answers: pl.Series
                   ) -> tuple[pl.Series, np.ndarray] | None:
    choices = list(task.choices)
    k, n = len(choices), len(base)
    index = {c: i for i, c in enumerate(choices)}
    gold = (answers.cast(pl.Utf8).replace_strict(index, default=-1, return_dtype=pl.Int64)
            .fill_null(-1).to_numpy())
    width = k
    picked = None                     # choice indices per row before the "options" order
    if task.max_options is not None and k > task.max_options:
        width = task.max_options
        if (gold < 0).any():
            return None      # an answer outside the choices: row_options handles such rows
        distractors = _first_of_permutations(derive(base, "distractors"), k - 1, width - 1)
        distractors += distractors >= gold[:, None]       # others skip the gold choice
        picked = np.concatenate([gold[:, None], distractors], axis=1)
    order = _batched_permutations(derive(base, "options"), width)
    shown = order if picked is None else np.take_along_axis(picked, order, axis=1)
    position = np.where((shown == gold[:, None]).any(axis=1),
                        np.argmax(shown == gold[:, None], axis=1), -1)
    # gathered and shaped by polars: its strings are views of the choices, where building the
    # lists through Arrow copied every option's text twice (500k rows of 15: 0.56 -> 0.09 s)
    values = pl.Series(choices, dtype=pl.Utf8).gather(shown.ravel().astype(np.uint32))
    return values.reshape((n, width)).cast(pl.List(pl.Utf8)).alias("options"), position


def _row_choices(column: pl.Series, base: np.ndarray, answers: pl.Series
                 ) -> tuple[pl.Series, np.ndarray]:
    array = column.cast(pl.List(pl.Utf8)).to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_list(pa.large_string()))
    # (polars, not pyarrow's to_numpy: that imports pandas, ~0.3 s)
    valid = column.is_not_null().to_numpy()
    bounds = array.offsets            # read from its buffer (to_numpy would import pandas)
    offsets = np.frombuffer(bounds.buffers()[1], dtype=np.int64)[
        bounds.offset:bounds.offset + len(bounds)] - array.offsets[0].as_py()
    values = array.values.slice(array.offsets[0].as_py(), int(offsets[-1]))
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    take = np.arange(int(offsets[-1]), dtype=np.int64)
    for k in np.unique(lengths[lengths > 1]):
        rows = np.flatnonzero(lengths == k)
        perm = _batched_permutations(derive(base[rows], "options"), int(k))
        take[(starts[rows, None] + np.arange(k)).ravel()] = (starts[rows, None] + perm).ravel()
    shown = values.take(_arrow(take))
    row_of = np.repeat(np.arange(len(base)), lengths)
    same = (pl.Series(shown, dtype=pl.Utf8) == answers.cast(pl.Utf8).gather(row_of)) \
        .fill_null(False).to_numpy()
    big = np.iinfo(np.int64).max
    within = np.arange(len(take)) - np.repeat(starts, lengths)
    position = np.full(len(base), big, dtype=np.int64)
    np.minimum.at(position, row_of[same], within[same])
    position[position == big] = -1
    return _list_array(shown, offsets, valid), position
