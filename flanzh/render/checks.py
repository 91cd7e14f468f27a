"""Checks on every rendered record, as polars expressions: a failing row is dropped and counted."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import polars as pl

from ..read.normalise import drop_by_reason
from ..spec.specs import Task


# Template syntax; in an output it means a template leaked, unless a field value carried it.
RESIDUE_PATTERN = r"\{\{|\{%|\}\}|%\}"
RESIDUE = re.compile(RESIDUE_PATTERN)

_RESIDUE = RESIDUE_PATTERN
_BLANK = r"^\s*$"


DEFAULT_LIMITS = {"inputs_max_chars": 8000, "targets_max_chars": 4000, "targets_min_chars": 1}


def record_checks(task: Task) -> list[tuple[str, pl.Expr]]:
    """(reason, expression true for a bad row), in the order reasons are assigned."""
    limits = {**DEFAULT_LIMITS, **task.limits}
    inputs, targets = pl.col("inputs"), pl.col("targets")
    return [
        # only whitespace (regex \s and str.strip_chars() agree on every code point (tested),
        # and the regex stops at the first other character instead of copying the text)
        ("empty_inputs", inputs.str.contains(_BLANK)),
        ("empty_targets", targets.str.contains(_BLANK)),
        # Template syntax left in the output; a field value may legitimately contain braces.
        ("template_residue", (inputs.str.contains(_RESIDUE) | targets.str.contains(_RESIDUE))
         & ~pl.col("__braces_in_fields")),
        ("target_not_in_choices", pl.col("__check_choice")
         & ~pl.col("__options").list.contains(targets)),
        ("inputs_too_long", inputs.str.len_chars() > limits["inputs_max_chars"]),
        ("targets_too_long", targets.str.len_chars() > limits["targets_max_chars"]),
        ("targets_too_short", targets.str.len_chars() < limits["targets_min_chars"]),
    ]


POSITION = "__pos"      # a record's place in its batch, when the caller numbers them (refit)


def check_records(task: Task, frame: pl.DataFrame) -> tuple[pl.DataFrame, Counter]:
    """``frame`` without its bad rows, and how many were dropped, each under the first check it
    fails (as drop_by_reason counts): the checks run as one query and the reasons are picked in
    numpy; a batch with no bad row is returned without a copy."""
    keep = [c for c in frame.columns
            if not c.startswith("__") or c in ("__key", "__split", "__answer", POSITION)]
    checks = record_checks(task)
    if frame.is_empty():
        return drop_by_reason(frame, checks, keep=keep)
    failed = frame.select([bad.fill_null(False).alias(f"__check{i}")
                           for i, (_, bad) in enumerate(checks)]).to_numpy()
    bad = failed.any(axis=1)
    if not bad.any():
        return frame.select(keep), Counter()
    first, counts = np.unique(failed[bad].argmax(axis=1), return_counts=True)
    dropped = Counter({checks[i][0]: int(n) for i, n in zip(first, counts)})
    return frame.filter(pl.Series(~bad)).select(keep), dropped
