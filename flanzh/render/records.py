"""The output record contract: one parquet row per instruction (see DESIGN.md)."""

from __future__ import annotations

import polars as pl

from ..hashing import record_ids
from ..read.readers import KEY
from .templates import SPLIT
from ..spec.licences import commercial_use, hf_license
from ..spec.specs import Task

RECORD_SCHEMA = {
    "id": pl.Utf8,
    "task": pl.Utf8,
    "category": pl.Utf8,
    "source": pl.Utf8,
    "template_id": pl.Utf8,
    "format": pl.Utf8,
    "exemplars": pl.Int32,
    "inputs": pl.Utf8,
    "targets": pl.Utf8,
    "source_split": pl.Utf8,
    "source_key": pl.Utf8,
    "license": pl.Utf8,
    "commercial_use": pl.Boolean,
}


def to_records(task: Task, checked: pl.DataFrame) -> pl.DataFrame:
    """Rendered, checked rows as output records, in RECORD_SCHEMA's column order."""
    parts = checked.select(pl.concat_str([SPLIT, KEY, "template_id", "format"],
                                         separator="\x1f"))
    ids = pl.Series("id", record_ids(task.id, parts.to_series()), dtype=pl.Utf8)
    return checked.select(
        ids,
        pl.lit(task.id).alias("task"),
        pl.lit(task.category).alias("category"),
        pl.lit(task.source["dataset"]).alias("source"),
        pl.col("template_id"),
        pl.col("format"),
        pl.col("exemplars"),
        pl.col("inputs"),
        pl.col("targets"),
        pl.col(SPLIT).alias("source_split"),
        pl.col(KEY).alias("source_key"),
        pl.lit(hf_license(task.source["license"])).alias("license"),
        pl.lit(commercial_use(hf_license(task.source["license"]))).alias("commercial_use"),
    ).cast(RECORD_SCHEMA)


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)
