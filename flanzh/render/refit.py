"""A record dropped only for its length (``inputs_too_long``, ``targets_too_long``) is rendered
again with the task's other templates of the same format, in an order seeded by the row, and kept
with the first that fits: a long row is not lost because the template drawn for it is the wordy
one. Only when no other template fits (or after ``REFIT_TRIES`` of them) is the row dropped, under
the reason its first template gave.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import polars as pl

from ..hashing import HASH, derive_one, permutation_of
from .checks import POSITION, check_records, record_checks
from .formats import ITEMS_SCHEMA, with_hashes
from .templates import render_plan
from ..spec.specs import Task

REFIT_TRIES = 3
LENGTH_REASONS = ("inputs_too_long", "targets_too_long")


def _first_reason(task: Task) -> pl.Expr:
    reason = pl.lit(None, pl.Utf8)
    for name, expr in reversed(record_checks(task)):
        reason = pl.when(expr).then(pl.lit(name)).otherwise(reason)
    return reason


def refit(task: Task, plan, seed: int, compiled, max_exemplars: int, rendered: pl.DataFrame,
          kept: pl.DataFrame, dropped: Counter) -> tuple[pl.DataFrame, Counter]:
    """``kept`` plus the length-dropped records of ``rendered`` that another template fits;
    ``dropped`` less those rows. ``rendered`` (and so ``kept``) carries POSITION, each record's
    item in ``plan.items``: a rejected record is refit with its planned format and repeat, and
    the refit record takes its place, so the records and their order do not depend on how the
    plan was cut into batches."""
    if not any(dropped.get(r) for r in LENGTH_REASONS):
        return kept, dropped
    rejected = rendered.join(kept.select(POSITION), on=POSITION, how="anti")
    rejected = rejected.with_columns(_first_reason(task).alias("__reason")).filter(
        pl.col("__reason").is_in(LENGTH_REASONS))
    if rejected.height == 0:
        return kept, dropped
    queries = with_hashes(task, plan.queries, seed)
    planned = plan.items.select("row", "template", "format", "repeat").rows()
    pending = []      # (place, reason, planned item, alternatives in seeded order)
    for place, reason in rejected.select(POSITION, "__reason").iter_rows():
        row, template, fmt, repeat = planned[place]
        shows = fmt.endswith("_opt")
        others = [i for i, c in enumerate(compiled)
                  if i != template and c.spec.choices_in_prompt == shows]
        order = permutation_of(derive_one(int(queries[HASH][row]), f"refit-{repeat}"), len(others))
        pending.append((place, reason, planned[place], [others[j] for j in order][:REFIT_TRIES]))
    parts, dropped = [kept], Counter(dropped)
    for attempt in range(REFIT_TRIES):
        trying = [p for p in pending if attempt < len(p[3])]
        if not trying:
            break
        items = pl.DataFrame([(row, alts[attempt], fmt, repeat)
                              for _, _, (row, _, fmt, repeat), alts in trying],
                             schema=ITEMS_SCHEMA, orient="row")
        frame, _ = render_plan(task, replace(plan, items=items), seed, compiled, max_exemplars,
                               keep_order=True)
        # each record that fits is its tried item's: it takes that record's place
        fitted, _ = check_records(task, frame.rename({"__order": POSITION}))
        fits = set(fitted[POSITION].to_list())
        for i in fits:
            dropped[trying[i][1]] -= 1
        parts.append(fitted.with_columns(pl.Series(POSITION, [
            trying[i][0] for i in fitted[POSITION].to_list()], dtype=kept.schema[POSITION]))
            .select(kept.columns))
        pending = [p for i, p in enumerate(trying) if i not in fits]   # the rest: nothing to try
    return pl.concat(parts, how="vertical_relaxed").sort(POSITION), +dropped
