"""A task's records as parquet parts of exactly ``shard_rows`` rows, written while rendering."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from .writer import ROW_GROUP_ROWS, RecordsFile
from ..render.records import empty_records


PART = "part-{:05d}.parquet"


class PartsWriter:
    """Records of one task as parquet parts of exactly ``shard_rows`` rows (the last may be
    shorter), written as batches come in; without a folder they are kept in memory.

    A part is written a row group (ROW_GROUP_ROWS records) at a time, by one background thread
    (polars and arrow release the GIL while they encode), so the next batch renders while the last
    group is compressed, and at most one group waits and one is in flight: a task's records are
    never all held, however long its parts (a whole 200k-record part of long passages was
    hundreds of MB). The parts are the same bytes as parts written whole."""

    def __init__(self, folder: Path | None, shard_rows: int):
        self.folder, self.shard_rows = folder, shard_rows
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0
        self.paths: list[Path] = []
        self.kept: list[pl.DataFrame] = []
        self.writing = None
        self.part: RecordsFile | None = None
        self.part_rows = 0                 # rows already sent to the current part
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.writer = ThreadPoolExecutor(max_workers=1)

    def add(self, records: pl.DataFrame) -> None:
        if self.folder is None:
            self.kept.append(records)
            return
        if records.height:
            self.pending.append(records)
            self.pending_rows += records.height
        while self.pending_rows >= self._next_group():
            self._flush(self._next_group())

    def _next_group(self) -> int:
        """Rows of the next row group: a full group, or what is left of the current part."""
        return min(ROW_GROUP_ROWS, self.shard_rows - self.part_rows)

    def _flush(self, rows: int) -> None:
        frame = pl.concat(self.pending) if len(self.pending) > 1 else self.pending[0]
        if self.part is None:
            self.part = RecordsFile(self.folder / PART.format(len(self.paths)))
            self.paths.append(self.part.path)
        group, part = frame.head(rows), self.part
        self.part_rows += rows
        done = self.part_rows >= self.shard_rows
        if done:
            self.part, self.part_rows = None, 0
        self._wait()
        self.writing = self.writer.submit(_write_group, part, group, done)
        rest = frame.slice(rows)
        self.pending, self.pending_rows = ([rest] if rest.height else []), rest.height

    def close(self) -> pl.DataFrame | None:
        """Write the last part; in memory, return all records."""
        if self.folder is None:
            return pl.concat(self.kept) if self.kept else empty_records()
        while self.pending_rows:
            self._flush(min(self.pending_rows, self._next_group()))
        if self.part is not None:                     # a part that ended on a full group
            part, self.part, self.part_rows = self.part, None, 0
            self._wait()
            self.writing = self.writer.submit(part.close)
        self._wait()
        self.writer.shutdown()
        return None

    def _wait(self) -> None:
        if self.writing is not None:
            self.writing.result()          # re-raises a failed write here
            self.writing = None


def _write_group(part: RecordsFile, group: pl.DataFrame, last: bool) -> None:
    part.write(group)
    if last:
        part.close()
