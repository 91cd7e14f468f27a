"""A task's records as parquet parts of exactly ``shard_rows`` rows, written while rendering."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from .writer import write_records
from ..render.records import empty_records


PART = "part-{:05d}.parquet"


class PartsWriter:
    """Records of one task as parquet parts of exactly ``shard_rows`` rows (the last may be
    shorter), written as batches come in; without a folder they are kept in memory.

    Parts are written by one background thread (polars releases the GIL while it encodes), so
    the next batch renders while the last one is compressed; at most one write is in flight."""

    def __init__(self, folder: Path | None, shard_rows: int):
        self.folder, self.shard_rows = folder, shard_rows
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0
        self.paths: list[Path] = []
        self.kept: list[pl.DataFrame] = []
        self.writing = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.writer = ThreadPoolExecutor(max_workers=1)

    def add(self, records: pl.DataFrame) -> None:
        if self.folder is None:
            self.kept.append(records)
            return
        self.pending.append(records)
        self.pending_rows += records.height
        while self.pending_rows >= self.shard_rows:
            self._flush(self.shard_rows)

    def _flush(self, rows: int) -> None:
        frame = pl.concat(self.pending) if len(self.pending) > 1 else self.pending[0]
        path = self.folder / PART.format(len(self.paths))
        self._wait()
        self.writing = self.writer.submit(write_records, frame.head(rows), path)
        self.paths.append(path)
        rest = frame.slice(rows)
        self.pending, self.pending_rows = ([rest] if rest.height else []), rest.height

    def close(self) -> pl.DataFrame | None:
        """Write the last part; in memory, return all records."""
        if self.folder is None:
            return pl.concat(self.kept) if self.kept else empty_records()
        if self.pending_rows:
            self._flush(self.pending_rows)
        self._wait()
        self.writer.shutdown()
        return None

    def _wait(self) -> None:
        if self.writing is not None:
            self.writing.result()          # re-raises a failed write here
            self.writing = None
