"""A unit of work: what it needs besides its task (UnitContext) and what it returns (TaskResult:
rows, records, counts by reason)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from .cache import TaskCache
from ..errors import BuildError
from ..read.readers import OUT_OF_SCOPE
from ..read.sources import SourceMode
from ..render.records import empty_records
from ..spec.mixture import Mixture
from ..spec.specs import Task


REJECTS = "rejects.jsonl"


@dataclass
class TaskResult:
    task: Task
    rows: pl.DataFrame                      # normalised source rows still in the running
    records: pl.DataFrame = field(default_factory=empty_records)
    rows_read: int = 0
    rows_repeated: int = 0
    quota: int | None = None
    dropped: Counter = field(default_factory=Counter)
    truncated: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)      # examples of bad source rows
    read_key: str = ""                                      # cache fingerprint of the read step
    available: int = 0                  # source rows left after decontamination and near-dedup
    parts: list[Path] = field(default_factory=list)        # rendered records, as parquet parts
    hashes: np.ndarray | None = None                        # their (inputs, targets) hashes
    written: int | None = None          # records in the output shards (streamed builds)
    templates_used: int | None = None
    formats: dict | None = None
    spill: Path | None = None           # parquet of its source rows between the build's steps
    signed: Path | None = None          # their MinHash signatures (near dedup), by the read unit

    def check_reject_rate(self, max_rate: float) -> None:
        """Fail when more than ``max_rate`` of the rows read were bad input."""
        rejects = Counter({r: n for r, n in self.dropped.items() if not r.startswith(OUT_OF_SCOPE)})
        bad = sum(rejects.values())
        if self.rows_read and bad / self.rows_read > max_rate:
            top = ", ".join(f"{r} {n}" for r, n in rejects.most_common(3))
            raise BuildError(f"task {self.task.id}: {bad} of {self.rows_read} source rows "
                             f"({100 * bad / self.rows_read:.0f}%) were rejected ({top}), over the "
                             f"maximum of {100 * max_rate:.0f}%; see the examples in {REJECTS} of "
                             "a build with --max-reject-rate 1, fix the source or raise "
                             "max_reject_rate in the spec")

    @property
    def rows_written(self) -> int:
        return self.records.height if self.written is None else self.written

    def check_invariant(self) -> None:
        if self.rows_read + self.rows_repeated != self.rows_written + sum(self.dropped.values()):
            raise BuildError(f"task {self.task.id}: {self.rows_read} rows read + "
                             f"{self.rows_repeated} repeats but {self.rows_written} written + "
                             f"{sum(self.dropped.values())} dropped; a step lost rows without "
                             "counting them (this is a flanzh bug)")


@dataclass(frozen=True)
class UnitContext:
    """What a unit of work needs besides its task; picklable, so a unit can run anywhere."""
    root: Path
    seed: int
    mode: SourceMode
    mixture: Mixture
    shard_rows: int
    max_reject_rate: float | None
    work: Path                     # the staged output's scratch folder
    out: Path
    use_cache: bool

    def cache(self) -> TaskCache:
        return TaskCache(self.out, enabled=self.use_cache)
