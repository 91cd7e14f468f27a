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
from ..read.readers import KEY
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
    ``dropped`` less those rows. With a POSITION column in ``rendered`` (and so in ``kept``), a
    refit record takes the place of the record it replaces, so the records and their order do
    not depend on how the plan was cut into batches."""
    if not any(dropped.get(r) for r in LENGTH_REASONS):
        return kept, dropped
    # which rendered records were not kept: by their place when numbered, else by what a record
    # is (a row rendered twice with one template, once per format, is two records)
    joined = [POSITION] if POSITION in rendered.columns else ["__key", "template_id", "format"]
    rejected = rendered.join(kept.select(joined).unique(), on=joined, how="anti")
    rejected = rejected.with_columns(_first_reason(task).alias("__reason")).filter(
        pl.col("__reason").is_in(LENGTH_REASONS))
    if rejected.height == 0:
        return kept, dropped
    index = {t.spec.id: i for i, t in enumerate(compiled)}
    queries = with_hashes(task, plan.queries, seed)
    row_of = dict(zip(queries[KEY].to_list(), range(queries.height)))
    repeat_of = {} if POSITION in rejected.columns else {
        (r, t, f): rep for r, t, f, rep in plan.items.select(
            "row", "template", "format", "repeat").iter_rows()}
    # a record is its (row, template, format): a row repeated to fill a quota gets another
    # (template, format) pair each time, so every rejected record is refit on its own, whatever
    # else its batch holds
    numbered = POSITION in rejected.columns
    places = rejected[POSITION].to_list() if numbered else [None] * rejected.height
    planned = plan.items.select("format", "repeat").rows() if numbered else []
    pending = []      # (row, format, repeat, reason, alternatives in seeded order, place)
    for (key, template_id, fmt, reason), place in zip(rejected.select(
            "__key", "template_id", "format", "__reason").iter_rows(), places):
        row, template = row_of[key], index[template_id]
        if numbered:                    # the record's own item: its planned format and repeat
            fmt, repeat = planned[place]
        else:
            if (row, template, fmt) not in repeat_of:
                # planned few-shot, rendered zero-shot (no exemplar fitted): refit as planned
                fmt = "fs" + fmt[2:]
            repeat = repeat_of[(row, template, fmt)]
        shows = fmt.endswith("_opt")
        others = [i for i, c in enumerate(compiled)
                  if i != template and c.spec.choices_in_prompt == shows]
        order = permutation_of(derive_one(int(queries[HASH][row]), f"refit-{repeat}"), len(others))
        pending.append((row, fmt, repeat, reason, [others[j] for j in order][:REFIT_TRIES],
                        place))
    parts, dropped = [kept], Counter(dropped)
    for attempt in range(REFIT_TRIES):
        trying = [p for p in pending if attempt < len(p[4])]
        if not trying:
            break
        # one render call per occurrence of a (row, template) pair: two repeats of a row that
        # try the same template (in two formats) are rendered apart, as they would be in two
        # batches, so what one gets never depends on the other
        rounds: dict[int, list] = {}
        seen: Counter = Counter()
        for p in trying:
            rounds.setdefault(seen[(p[0], p[4][attempt])], []).append(p)
            seen[(p[0], p[4][attempt])] += 1
        fit_of = {}
        for group in rounds.values():
            fitted, fits = _attempt(task, plan, seed, compiled, max_exemplars, queries, group,
                                    attempt, kept.schema.get(POSITION) if numbered else None)
            for p, fit in zip(group, fits):
                fit_of[id(p)] = fit
                if fit:
                    dropped[p[3]] -= 1
            parts.append(fitted.select(kept.columns) if numbered else fitted)
        pending = [p for p in trying if not fit_of[id(p)]]   # the rest have no more to try
    out = pl.concat(parts, how="vertical_relaxed")
    return (out.sort(POSITION) if numbered else out), +dropped


def _attempt(task: Task, plan, seed: int, compiled, max_exemplars: int, queries: pl.DataFrame,
             group: list, attempt: int, position) -> tuple[pl.DataFrame, list[bool]]:
    """Render ``group`` (pending records, no (row, template) twice) with their next template;
    (the records that fit, placed where the records they replace were when ``position`` is the
    POSITION dtype; whether each of the group fitted)."""
    batch = pl.DataFrame([(row, alts[attempt], fmt, repeat)
                          for row, fmt, repeat, _, alts, _ in group],
                         schema=ITEMS_SCHEMA, orient="row")
    frame, _ = render_plan(task, replace(plan, items=batch), seed, compiled, max_exemplars)
    fitted, _ = check_records(task, frame)
    # a fitted record is its tried record's key and template (a few-shot record may come back
    # under another format, without its exemplars)
    done = {row: True for row in fitted.select("__key", "template_id").iter_rows()}
    tried = [(queries[KEY][p[0]], compiled[p[4][attempt]].spec.id) for p in group]
    fits = [t in done for t in tried]
    if position is not None:
        place = {t: p[5] for t, p in zip(tried, group)}
        fitted = fitted.with_columns(pl.Series(POSITION, [
            place[t] for t in fitted.select("__key", "template_id").iter_rows()], dtype=position))
    return fitted, fits
