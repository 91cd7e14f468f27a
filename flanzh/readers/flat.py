"""Flat files (one record per line or row) read through ``datasets``' packaged loaders."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from ..encoding import check_decodes, first_bad_byte
from ..errors import SourceError
from . import KEY, ReadResult
from ._lines import file_list
from .tolerant import read_json_lines

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")

_BUILDER = {"jsonl": "json", "json": "json", "csv": "csv", "tsv": "csv", "parquet": "parquet"}


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


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    import datasets
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError

    datasets.disable_progress_bars()          # flanzh shows its own progress

    files = file_list(files, fmt, label)
    # datasets cannot infer a schema from an empty file; an empty file is simply no rows.
    paths = [str(p) for p in files if Path(p).stat().st_size and Path(p).read_bytes().strip()]
    if not paths:
        return ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    kwargs = {}
    if fmt == "jsonl" and any(first_bad_byte(Path(p), encoding) for p in paths):
        return _tolerant(paths, encoding, options, label)   # a few undecodable lines
    if fmt != "parquet":
        if fmt != "jsonl":
            for path in files:
                check_decodes(Path(path), encoding, label)
        has_bom = any(Path(p).read_bytes()[:3] == b"\xef\xbb\xbf" for p in paths)
        kwargs["encoding"] = "utf-8-sig" if has_bom and encoding.lower() in ("utf-8", "utf8") \
            else encoding
    if fmt == "tsv":
        kwargs["delimiter"] = "\t"
    if fmt in ("csv", "tsv") and "column_names" in options:
        kwargs["column_names"] = options["column_names"]
    # A throwaway datasets cache for this read (beside datasets' own, on the same disk): datasets
    # keys its cache on a file's path and mtime, so it would serve the old rows of a file edited
    # with the same size and mtime. What was read is decided by the file, not by a cache. The
    # table stays memory-mapped; the mapping outlives the folder's removal.
    root = Path(datasets.config.HF_DATASETS_CACHE)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flanzh-read-", dir=root) as scratch:
        try:
            dataset = load_dataset(_BUILDER[fmt], data_files=paths, split="train",
                                   cache_dir=scratch, **kwargs)
        except (DatasetGenerationError, ValueError, OSError) as exc:
            if fmt == "jsonl":
                return _tolerant(paths, encoding, options, label)
            cause = exc.__cause__ or exc
            raise SourceError(f"{', '.join(paths)}: cannot read as {fmt}: {cause}") from None
        frame = pl.from_arrow(dataset.data.table)
    return ReadResult(_with_key(frame, options.get("key"), label))


def _tolerant(paths: list[str], encoding: str, options: dict, label: str) -> ReadResult:
    """Bad lines (broken JSON, a stray type, an undecodable line): read line by line, counting
    and keeping examples of each bad line instead of failing the file."""
    result = read_json_lines([Path(p) for p in paths], encoding, label)
    if result.frame.height:
        result.frame = _with_key(result.frame.drop(KEY), options.get("key"), label)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    return ReadResult(_with_key(decode_class_labels(dataset), options.get("key"), label))
