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


# Texts a template must pass through untouched on both paths: template syntax, whitespace at the
# ends and inside, full-width space, zero-width space, line breaks, an emoji, values that look
# like numbers, booleans, None or a list.
_ODD_PIECES = ["{{ x }}", "{%", "%}", "{#", "}}", " ", "  ", "\n", "\r\n", "\t", "\u3000",
               "\u200b", "😀", "None", "0", "-1", "2.5", "true", "[]", "A", "花呗", "，", "…",
               "\\", "\"", "'", "<b>", "&"]


def _odd_text(rng, required: bool) -> str:
    while True:
        text = "".join(rng.choice(_ODD_PIECES) for _ in range(rng.randint(1, 6)))
        if not required or text.strip():
            return text


def _odd_rows(task, rows: list[dict]) -> list[dict]:
    """``rows`` with most text fields (not labels or the answer) replaced by odd texts, and an
    optional one sometimes missing; choice lists keep their length and their answer."""
    import random

    rng = random.Random(task.id)
    out = []
    for row in rows:
        row = dict(row)
        for name, spec in task.fields.items():
            if spec.label_map is not None or name == task.answer_field or rng.random() < 0.3:
                continue
            if spec.type == "str":
                row[name] = None if spec.optional and rng.random() < 0.2 else \
                    _odd_text(rng, not spec.optional)
            elif spec.type == "list[str]" and isinstance(row.get(name), list):
                row[name] = [_odd_text(rng, True) for _ in row[name]]
                answer = row.get(task.answer_field)
                if name == task.choices_field and row[name] and answer is not None:
                    row[name][rng.randrange(len(row[name]))] = answer
        out.append(row)
    return out


@pytest.mark.parametrize("max_chars", [None, 300])
@pytest.mark.parametrize("odd", [False, True], ids=["sample", "odd-texts"])
def test_vectorised_rendering_matches_jinja_for_every_template(task, max_chars, odd):
    """Templates compiled to polars expressions give exactly the jinja2 text, on every sample row
    (including the rows each path must drop), zero-shot and few-shot (exemplars drawn from a pool
    of a third of the rows; with a 300-character limit, exemplars are dropped to fit); and again
    with the rows' texts replaced by odd ones (template syntax, whitespace, look-alike values)."""
    import dataclasses

    import polars as pl

    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.render.templates import render_plan

    if max_chars is not None:
        task = dataclasses.replace(task, spec={**task.spec, "limits": {
            **task.spec.get("limits", {}), "inputs_max_chars": max_chars}})
    compiled = compile_templates(task)
    rows = sample_rows(task)
    if odd:
        rows = _odd_rows(task, rows)
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
    assert fast[0].height > 0 and fast[0].to_dicts() == slow[0].to_dicts()
    if max_chars is None and not odd:
        assert fast[0]["exemplars"].max() > 0
