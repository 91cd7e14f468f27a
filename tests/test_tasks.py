"""Per-task checks, parametrised so a failure names the task (in the spirit of promptsource's
test that every template renders against its dataset's fields)."""

import pytest

from conftest import PROJECT, TASK_IDS
from flanzh.build.pipeline import DEFAULT_SEED, process_task
from flanzh.contrib import golden
from flanzh.contrib.lint import lint_task
from flanzh.read.sources import SourceMode
from flanzh.render.templates import compile_templates, row_options
from flanzh.spec.specs import load_task


def sample_rows(task):
    """Every normalised row of every split that has a bundled sample (train and eval)."""
    return golden.sample_rows(PROJECT, task)


@pytest.fixture(scope="module", params=TASK_IDS)
def task(request):
    return load_task(PROJECT, request.param)


def test_lint_is_clean(task):
    """Exactly what `flanzh lint` checks: schema, variables, 10-20 templates, distinct and mostly
    Chinese templates, options shown by some templates, every template on every sample row."""
    problems = [str(p) for p in lint_task(PROJECT, task.id)]
    assert problems == [], "\n".join(problems)


def test_gold_option_position_varies(task):
    if not task.has_choices:
        pytest.skip(f"{task.id} has no answer choices")
    positions = set()
    for row in sample_rows(task):
        options = row_options(task, row, DEFAULT_SEED)
        positions.add(options.index(row[task.answer_field]))
    assert len(positions) > 1, f"{task.id}: the gold answer is always at position {positions}"


def test_golden_outputs(task):
    """Rendered text is pinned in tests/golden/<task>.json, as flanzh.contrib.golden defines it;
    after an intended change run `flanzh golden <task>` and review the diff."""
    stale = golden.check_golden(PROJECT, [task.id])
    assert stale == [], str(stale[0])


def test_task_is_deterministic_and_counts_every_row(task):
    first = process_task(PROJECT, task, DEFAULT_SEED, SourceMode())
    second = process_task(PROJECT, task, DEFAULT_SEED, SourceMode())
    assert first.records.equals(second.records)
    assert first.rows_read == first.rows_written + sum(first.dropped.values())
    assert first.rows_written > 0 or not task.train_splits
    assert first.records["id"].n_unique() == first.rows_written


@pytest.mark.parametrize("max_chars", [None, 300])
def test_vectorised_rendering_matches_jinja_for_every_template(task, max_chars):
    """Templates compiled to polars expressions give exactly the jinja2 text, on every sample row
    (including the rows each path must drop), zero-shot and few-shot (exemplars drawn from a pool
    of a third of the rows; with a 300-character limit, exemplars are dropped to fit)."""
    import dataclasses

    import polars as pl

    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.render.templates import render_plan

    if max_chars is not None:
        task = dataclasses.replace(task, spec={**task.spec, "limits": {
            **task.spec.get("limits", {}), "inputs_max_chars": max_chars}})
    compiled = compile_templates(task)
    rows = sample_rows(task)
    if not rows or not any(c.vector for c in compiled):
        pytest.skip(f"{task.id}: no vectorised template")
    frame = pl.DataFrame(rows, infer_schema_length=None)
    pool, queries = frame.gather_every(3), frame.filter(pl.int_range(pl.len()) % 3 != 0)
    items = pl.DataFrame(
        [(r, t, kind + ("_opt" if c.spec.choices_in_prompt else "_noopt"), repeat)
         for kind, repeat in (("zs", 0), ("fs", 0), ("fs", 1))
         for t, c in enumerate(compiled) if c.vector for r in range(queries.height)],
        schema=ITEMS_SCHEMA, orient="row")
    plan = Plan(queries, pool, items, {}, 0)
    fast = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=True)
    slow = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=False)
    assert fast[1] == slow[1]
    assert fast[0].to_dicts() == slow[0].to_dicts()
    if max_chars is None:
        assert fast[0]["exemplars"].max() > 0
