"""Render templates into (inputs, targets), sandboxed, with undefined variables as errors.

Templates are contributed text, so they run in jinja2's immutable sandbox with StrictUndefined.
Every variable a template uses is checked against the task's declared fields before any row is
rendered. Each row gets one template, chosen by a hash of (seed, task, row key).
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

import jinja2
import numpy as np
import polars as pl
from jinja2 import meta
from jinja2.exceptions import SecurityError

from ..errors import TemplateError
from ..hashing import HASH
from ..read.readers import KEY
from .checks import RESIDUE, RESIDUE_PATTERN
from .choices import options_column, row_options  # noqa: F401 (row_options: lint, tests)
from .sandbox import (GROWTH, MAX_TEXT_CHARS, OVER_OUTPUT, OVER_TEXT, TOO_DEEP,
                      TemplateEnvironment, make_environment, policy_problems, render_bounded, text_limit)
from .vectorise import GOLD_INDEX, LIMIT, OPTIONS, Unsupported, compile_expression, fits
from ..spec.specs import Task, TemplateSpec

SPLIT = "__split"
OPTIONS_VAR = "options"


@dataclass(frozen=True, eq=False)
class CompiledTemplate:
    """A checked template. Its jinja2 form (``input``, ``target``) is generated when first used:
    templates with a polars form (``vector``) are rendered in bulk, and turning ~600 templates
    into Python code that a build never runs was a large part of a small build's time."""

    spec: TemplateSpec
    env: TemplateEnvironment
    asts: dict
    # (input, target) as polars expressions, when the template is simple enough (vectorise.py)
    vector: tuple[pl.Expr, pl.Expr] | None = None
    # (expression true for a row over the text limit, what would grow) of ``vector``, checked on
    # every row before its text is built (vectorise.py)
    guards: tuple[tuple[pl.Expr, str], ...] = ()
    # the record lists ``vector`` reads (field, attribute): it is used only on frames that hold
    # them as lists of structs with text attributes (vectorise.fits)
    needs: tuple[tuple[str, str | None], ...] = ()

    @cached_property
    def input(self) -> jinja2.Template:
        return _from_ast(self.env, self.asts["input"])

    @cached_property
    def target(self) -> jinja2.Template:
        return _from_ast(self.env, self.asts["target"])

    @property
    def format(self) -> str:
        """Zero-shot, with or without the options in the prompt."""
        return "zs_opt" if self.spec.choices_in_prompt else "zs_noopt"


def _from_ast(env: TemplateEnvironment, ast) -> jinja2.Template:
    """``env.from_string`` without parsing the source a second time."""
    return env.template_class.from_code(env, env.compile(ast), env.make_globals(None), None)


def allowed_variables(task: Task) -> list[str]:
    names = list(task.fields)
    if task.has_choices:
        names.append(OPTIONS_VAR)
    return names


def _template_label(task: Task, template: TemplateSpec) -> str:
    return f"{task.templates_label}: template '{template.id}'"


# Compiled templates of this process, keyed by the whole task (its repr holds the spec, fields
# and template texts): a build compiles each task's templates once, not once per use (the CLI's
# up-front check, the read and the render units). Only the default environment is cached.
_COMPILED: dict[str, list[CompiledTemplate]] = {}


def compile_templates(task: Task, env: TemplateEnvironment | None = None
                      ) -> list[CompiledTemplate]:
    """Compile every template of ``task``; raise TemplateError listing every problem."""
    if env is not None:
        return _compile_templates(task, env)
    key = repr(task)
    if key not in _COMPILED:
        _COMPILED[key] = _compile_templates(task, make_environment())
    return list(_COMPILED[key])


def _compile_templates(task: Task, env: TemplateEnvironment) -> list[CompiledTemplate]:
    allowed = allowed_variables(task)
    field_types = {name: field.type for name, field in task.fields.items()}
    if task.has_choices:
        field_types[OPTIONS_VAR] = "list[str]"
    problems, compiled = [], []
    for template in task.templates:
        label = _template_label(task, template)
        used: set[str] = set()
        asts = {}
        for part in ("input", "target"):
            source = getattr(template, part)
            try:
                ast = env.parse(source)
                refused = policy_problems(ast, field_types)
                problems += [f"{label}: {part}: {problem}" for problem in refused]
                if TOO_DEEP in refused:
                    continue
                if refused:
                    try:        # a refused filter or test is already reported
                        used |= meta.find_undeclared_variables(ast)
                    except jinja2.TemplateSyntaxError:
                        pass
                else:
                    used |= meta.find_undeclared_variables(ast)
                    asts[part] = ast
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{label}: {part} line {exc.lineno}: {exc.message}")
            except RecursionError:          # the parser recurses per bracket
                problems.append(f"{label}: {part}: {TOO_DEEP}")
        for name in sorted(used - set(allowed)):
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"{label}: unknown variable '{name}'{hint} "
                            f"(declared: {', '.join(allowed)})")
        shown = used & set(task.option_fields) or (task.has_choices and OPTIONS_VAR in used)
        if template.choices_in_prompt and task.option_fields and not shown:
            problems.append(f"{label}: choices_in_prompt is true but the input never prints an "
                            f"option field ({', '.join(task.option_fields)}); print one or set "
                            "choices_in_prompt: false")
        elif template.choices_in_prompt and not shown:
            problems.append(f"{label}: choices_in_prompt is true but the input never shows "
                            "{{ options }}; show them through a filter such as "
                            "{{ options | abc }} so their order is shuffled per row")
        if len(asts) == 2:
            guards: list = []
            needs: list = []
            try:
                vector = tuple(compile_expression(task, asts[part], guards, needs, checked=True)
                               for part in ("input", "target"))
            except Unsupported:
                vector, guards, needs = None, [], []
            one = CompiledTemplate(template, env, asts, vector, tuple(guards),
                                   tuple(dict.fromkeys(needs)))
            failed = False
            for part in ("input", "target") if vector is None else ():
                try:     # generated now: jinja2 reports some errors (an unknown filter) only here
                    getattr(one, part)
                except jinja2.TemplateSyntaxError as exc:
                    problems.append(f"{label}: {part} line {exc.lineno}: {exc.message}")
                    failed = True
                except RecursionError:      # code generation recurses per nesting level
                    problems.append(f"{label}: {part}: {TOO_DEEP}")
                    failed = True
            if not failed:
                compiled.append(one)
    if problems:
        raise TemplateError("\n".join(problems))
    return compiled


def render_frame(task: Task, frame: pl.DataFrame, seed: int,
                 compiled: list[CompiledTemplate] | None = None) -> tuple[pl.DataFrame, Counter]:
    """Render each normalised row once, zero-shot, with its hash-chosen template."""
    from .formats import plan_task
    from ..spec.mixture import load_mixture

    policy = load_mixture(None).formats_for(task.id)      # the default policy: zero-shot only
    plan = plan_task(task, frame, seed, policy, quota=None)
    rendered, dropped = render_plan(task, plan, seed, compiled, policy.max_exemplars)
    return rendered, plan.dropped + dropped


RENDERED_SCHEMA = {KEY: pl.Utf8, SPLIT: pl.Utf8, "template_id": pl.Utf8, "format": pl.Utf8,
                   "exemplars": pl.Int32, "inputs": pl.Utf8, "targets": pl.Utf8,
                   "__options": pl.List(pl.Utf8), "__check_choice": pl.Boolean,
                   "__braces_in_fields": pl.Boolean, "__answer": pl.Utf8}


def render_plan(task: Task, plan, seed: int, compiled: list[CompiledTemplate] | None,
                max_exemplars: int, vectorised: bool = True,
                keep_order: bool = False) -> tuple[pl.DataFrame, Counter]:
    """Render every planned record (see formats.plan_task); few-shot records get exemplars from
    the plan's pool, rendered with the same template, within the spec's input length limit.
    Zero-shot records of templates that compile to polars expressions are rendered in bulk.

    Returns the rendered frame (RENDERED_SCHEMA; with ``keep_order``, also ``__order``: each
    record's row in ``plan.items``), in plan order, and drop counts by reason."""
    from .formats import with_hashes

    compiled = compiled or compile_templates(task)
    items = plan.items.with_row_index("__order")
    queries = with_hashes(task, plan.queries, seed)
    vector = pl.Series([c.vector is not None and fits(c.needs, queries.schema)
                        for c in compiled], dtype=pl.Boolean)
    bulk_mask = (vector.gather(items["template"])
                 if vectorised and len(items) else pl.Series([False] * len(items)))
    zero_shot = items["format"].str.starts_with("zs")
    parts, dropped = [], Counter()
    if bulk_mask.any():
        # zero-shot records and the queries of few-shot ones, in one bulk call
        done, failed = _render_bulk_frame(task, queries, compiled, items.filter(bulk_mask))
        few = (~zero_shot).gather(done["__order"])
        for shots, subset in ((False, bulk_mask & zero_shot), (True, bulk_mask & ~zero_shot)):
            subset_items = items.filter(subset)
            if subset_items.height == 0:
                continue
            frame = done.filter(few if shots else ~few)
            _refuse_too_long(task, compiled, frame)
            dropped += _render_errors(compiled, subset_items, failed)
            if shots:
                frame = _render_few_shot(task, plan, queries, seed, compiled, subset_items,
                                         max_exemplars, frame)
            parts.append(frame.drop(LIMIT, strict=False))
    if not bulk_mask.all():
        frame, row_dropped = _render_rows_spread(task, plan, queries, seed, compiled,
                                                 items.filter(~bulk_mask), max_exemplars)
        parts.append(frame)
        dropped += row_dropped
    if not parts:
        return pl.DataFrame(schema={**RENDERED_SCHEMA, **({"__order": pl.UInt32} if keep_order
                                                         else {})}), dropped
    rendered = (parts[0] if len(parts) == 1 else pl.concat(parts)).sort("__order")
    return (rendered if keep_order else rendered.drop("__order")), dropped


# Records on the per-row path in one call before they are spread over worker processes: below
# this, starting the workers (each imports flanzh and compiles the task's templates) costs more
# than it saves.
ROW_PROCESS_MIN = 20_000
_ROW_POOL: list = []        # [pool, workers] once started; kept for the rest of the process


def _row_pool():
    """This process's pool for the per-row path, None when it would not help: fewer than two
    free cores, or already inside a worker of a pool (a build's process executor)."""
    from ..executors import free_cores, in_worker, process_pool

    if not _ROW_POOL:
        workers = 1 if in_worker() else free_cores()
        if workers < 2:
            return None
        import atexit

        pool = process_pool(workers)
        atexit.register(pool.shutdown, cancel_futures=True)
        _ROW_POOL.extend([pool, workers])
    return _ROW_POOL


def _render_rows_spread(task: Task, plan, queries: pl.DataFrame, seed: int,
                        compiled: list[CompiledTemplate], items: pl.DataFrame, max_exemplars: int
                        ) -> tuple[pl.DataFrame, Counter]:
    """``_render_rows``, split into contiguous runs of records rendered in worker processes when
    there are enough of them and cores to spare. Each record's text depends on its row alone, so
    the concatenated runs are the serial result (tested byte for byte)."""
    default = _COMPILED.get(repr(task))
    pool = _row_pool() if items.height >= ROW_PROCESS_MIN and default is not None \
        and [id(c) for c in compiled] == [id(c) for c in default] else None
    if pool is None:
        return _render_rows(task, plan, queries, seed, compiled, items, max_exemplars)
    executor, workers = pool
    # workers get the pool and the rows their records need, not the whole task
    bare = replace(plan, queries=plan.queries.clear(), items=plan.items.clear(), shared={})
    size = -(-items.height // workers)
    futures = []
    for start in range(0, items.height, size):
        run = items.slice(start, size)
        needed = run["row"].unique().sort()
        position = pl.DataFrame({"row": needed, "__at": pl.int_range(len(needed), eager=True,
                                                                      dtype=pl.UInt32)})
        run = run.join(position, on="row", how="left", maintain_order="left").with_columns(
            pl.col("__at").cast(run.schema["row"]).alias("row")).drop("__at")
        futures.append(executor.submit(_render_rows_unit, task, bare, queries[needed], seed,
                                       run, max_exemplars))
    frames, dropped = [], Counter()
    for future in futures:
        frame, run_dropped = future.result()
        frames.append(frame)
        dropped += run_dropped
    return pl.concat(frames), dropped


def _render_rows_unit(task: Task, plan, queries: pl.DataFrame, seed: int, items: pl.DataFrame,
                      max_exemplars: int) -> tuple[pl.DataFrame, Counter]:
    """One run of per-row records, in a worker process."""
    return _render_rows(task, plan, queries, seed, compile_templates(task), items, max_exemplars)


def _render_rows(task: Task, plan, queries: pl.DataFrame, seed: int,
                 compiled: list[CompiledTemplate], items: pl.DataFrame, max_exemplars: int
                 ) -> tuple[pl.DataFrame, Counter]:
    """Records that need jinja2 row by row: few-shot ones, and templates that do not compile
    to polars expressions."""
    from .checks import DEFAULT_LIMITS
    from .formats import exemplar_rows, few_shot_prompt, effective_format, with_hashes

    max_chars = {**DEFAULT_LIMITS, **task.limits}["inputs_max_chars"]
    dropped: Counter = Counter()
    out = {name: [] for name in (*RENDERED_SCHEMA, "__order")}
    needed = items["row"].unique().sort()
    rows = dict(zip(needed.to_list(), queries[needed].iter_rows(named=True)))
    few_shot = items["format"].str.starts_with("fs").any()
    if few_shot and plan.pool.height and "pool" not in plan.shared:
        plan.shared["pool"] = list(with_hashes(task, plan.pool, seed).iter_rows(named=True))
    pool = plan.shared.get("pool", [])
    pool_cache: dict[tuple[int, int], tuple[str, str] | None] = plan.shared.setdefault(
        "exemplars", {})

    def render(row: dict, template: CompiledTemplate):
        context, options = row_context(task, row, seed)
        limit = text_limit(context)
        return (render_bounded(template.input, context, limit).strip(),
                render_bounded(template.target, context, limit).strip(), context, options)

    def exemplar(index: int, template_index: int):
        if (index, template_index) not in pool_cache:
            try:
                inputs, targets, _, _ = render(pool[index], compiled[template_index])
                pool_cache[index, template_index] = (inputs, targets)
            except SecurityError as exc:
                raise TemplateError(f"{_template_label(task, compiled[template_index].spec)}: "
                                    f"refused while rendering row {pool[index][KEY]}: {exc}") from None
            except _ROW_ERRORS:
                pool_cache[index, template_index] = None
        return pool_cache[index, template_index]

    for order, index, template_index, fmt, repeat in items.iter_rows():
        template = compiled[template_index]
        row = rows[index]
        try:
            inputs, targets, context, options = render(row, template)
        except SecurityError as exc:
            raise TemplateError(f"{_template_label(task, template.spec)}: refused while rendering "
                                f"row {row[KEY]}: {exc}") from None
        except _ROW_ERRORS:
            dropped[f"render_error:{template.spec.id}"] += 1
            continue
        chosen = exemplar_rows(plan, row[HASH], repeat, max_exemplars) \
            if fmt.startswith("fs") else []
        shots = [e for e in (exemplar(i, template_index) for i in chosen) if e is not None]
        if shots:
            inputs, kept = few_shot_prompt(shots, inputs, max_chars)
        else:
            kept = 0
        out["__order"].append(order)
        out[KEY].append(row[KEY])
        out[SPLIT].append(row[SPLIT])
        out["template_id"].append(template.spec.id)
        out["format"].append(effective_format(fmt, kept))
        out["exemplars"].append(kept)
        out["inputs"].append(inputs)
        out["targets"].append(targets)
        out["__options"].append(options)
        out["__check_choice"].append(template.spec.target_in_choices and options is not None)
        out["__braces_in_fields"].append(any(
            isinstance(v, str) and RESIDUE.search(v) for v in context.values()))
        answer = row.get(task.answer_field) if task.answer_field else None
        out["__answer"].append(answer if isinstance(answer, str) else None)
    return pl.DataFrame(out, schema={**RENDERED_SCHEMA, "__order": pl.UInt32}), dropped


def _list_series(name: str, lists: list[list[str] | None]) -> pl.Series:
    """A list-of-strings column built through one flat Arrow array (much cheaper than polars
    converting a Python list of lists)."""
    import pyarrow as pa

    lengths = np.fromiter((len(x) if x is not None else 0 for x in lists), dtype=np.int32,
                          count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.array([v for x in lists if x is not None for v in x], type=pa.large_string())
    mask = pa.array([x is None for x in lists])
    array = pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pl.Series(name, pl.from_arrow(array)).cast(pl.List(pl.Utf8))


def _render_bulk(task: Task, queries: pl.DataFrame, compiled: list[CompiledTemplate],
                 items: pl.DataFrame) -> tuple[pl.DataFrame, Counter]:
    """Zero-shot records of vectorised templates: options are drawn with numpy from each row's
    hash, and the text is built by one polars expression per template over all of its rows.
    The records come grouped by template, not in plan order (``__order``)."""
    done, failed = _render_bulk_frame(task, queries, compiled, items)
    _refuse_too_long(task, compiled, done)
    return done.drop(LIMIT), _render_errors(compiled, items, failed)


def _render_errors(compiled: list[CompiledTemplate], items: pl.DataFrame, failed: pl.DataFrame
                   ) -> Counter:
    """``render_error:<template>`` counts of the records of ``items`` that ``failed``, keyed in
    the order the templates first appear in ``items``."""
    lost = failed.join(items.select("__order"), on="__order", how="semi")
    if lost.height == 0:
        return Counter()
    counts = dict(lost["template_id"].value_counts().iter_rows())
    dropped: Counter = Counter()
    for index in items["template"].unique(maintain_order=True):
        template_id = compiled[index].spec.id
        if template_id in counts:
            dropped[f"render_error:{template_id}"] += counts[template_id]
    return dropped


def _refuse_too_long(task: Task, compiled: list[CompiledTemplate], done: pl.DataFrame) -> None:
    """Fail the build on the first record whose text is over its row's text bound, as
    render_bounded refuses on the jinja2 path."""
    # a text has at least as many bytes as characters: only texts over the limit in bytes (read
    # from the offsets) need counting
    too_long = done.filter((pl.col("inputs").str.len_bytes() > pl.col(LIMIT))
                           | (pl.col("targets").str.len_bytes() > pl.col(LIMIT)))
    if too_long.height:
        too_long = too_long.filter((pl.col("inputs").str.len_chars() > pl.col(LIMIT))
                                   | (pl.col("targets").str.len_chars() > pl.col(LIMIT)))
    if too_long.height:
        spec = next(c.spec for c in compiled if c.spec.id == too_long["template_id"][0])
        raise TemplateError(f"{_template_label(task, spec)}: refused while rendering row "
                            f"{too_long[KEY][0]}: {OVER_OUTPUT}")


def _render_bulk_frame(task: Task, queries: pl.DataFrame, compiled: list[CompiledTemplate],
                       items: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``_render_bulk``'s records (with each row's text bound, LIMIT, not yet checked) and the
    (template_id, __order) of those that failed to render."""
    text_fields = [n for n, f in task.fields.items() if f.type == "str" or f.label_map]
    # the row's own text, as text_limit counts it on the jinja2 path (about)
    own_text = pl.sum_horizontal(
        [pl.col(n).str.len_chars().fill_null(0) for n in text_fields]
        + [pl.col(n).cast(pl.List(pl.Utf8)).list.eval(pl.element().str.len_chars()).list.sum()
           .fill_null(0) for n, f in task.fields.items() if f.type == "list[str]"] + [pl.lit(0)])
    per_row = [
        (pl.any_horizontal([pl.col(n).str.contains(RESIDUE_PATTERN).fill_null(False)
                            for n in text_fields]) if text_fields else pl.lit(False))
        .alias("__braces_in_fields"),
        (MAX_TEXT_CHARS + GROWTH * own_text.cast(pl.Int64)).alias(LIMIT),
    ]
    if items.height > queries.height:       # rows rendered more than once: worked out per row
        frame = queries.with_columns(per_row)[items["row"]]
    else:
        frame = queries[items["row"]].with_columns(per_row)
    options, gold = None, None
    if task.has_choices:
        drawn = options_column(task, frame)
        if drawn is None:          # the rare layout options_column leaves to row_options
            needed = frame.select(HASH, KEY, *([task.choices_field] if task.choices_field
                                               else []), task.answer_field)
            # the seed is already in each row's HASH
            lists = [row_options(task, r, seed=0) for r in needed.iter_rows(named=True)]
            answers = frame[task.answer_field].to_list()
            options = _list_series(OPTIONS, lists)
            gold = np.array([o.index(a) if a in o else -1 for o, a in zip(lists, answers)])
        else:
            options, gold = drawn
    frame = frame.with_columns(
        items["__order"], items["template"].alias("__template"),
        (options.alias(OPTIONS) if options is not None
         else pl.lit(None, dtype=pl.List(pl.Utf8)).alias(OPTIONS)),
        (pl.Series(GOLD_INDEX, gold, dtype=pl.Int64).replace(-1, None) if gold is not None
         else pl.lit(None, dtype=pl.Int64).alias(GOLD_INDEX)),
    )
    answer = pl.col(task.answer_field) if task.answer_field and \
        task.fields[task.answer_field].type == "str" else pl.lit(None, dtype=pl.Utf8)
    # One query over every template's rows (each template's expression over its own rows),
    # collected once: a collect per template and step cost more than the text itself on small
    # tasks.
    groups = frame.partition_by("__template", maintain_order=True, include_key=True)
    queries = []
    for group in groups:
        template = compiled[group["__template"][0]]
        for over, what in template.guards:       # before the text is built, as the sandbox
            refused = group.filter(over)
            if refused.height:
                raise TemplateError(f"{_template_label(task, template.spec)}: refused while "
                                    f"rendering row {refused[KEY][0]}: {what} {OVER_TEXT}")
        inputs, targets = template.vector
        queries.append(group.lazy().select(
            pl.col(KEY), pl.col(SPLIT), pl.lit(template.spec.id).alias("template_id"),
            pl.lit(template.format).alias("format"), pl.lit(0, dtype=pl.Int32).alias("exemplars"),
            inputs.alias("inputs"), targets.alias("targets"), pl.col(OPTIONS).alias("__options"),
            pl.lit(template.spec.target_in_choices and task.has_choices).alias("__check_choice"),
            "__braces_in_fields", answer.alias("__answer"), "__order", LIMIT))
    # (without common-subexpression elimination: it found little to share in template
    # expressions and cost about a third of this collect on large batches)
    done = pl.concat(queries, how="vertical_relaxed").collect(
        optimizations=pl.QueryOptFlags(comm_subexpr_elim=False, comm_subplan_elim=False))
    failed = pl.col("inputs").is_null() | pl.col("targets").is_null()
    lost = done.filter(failed).select("template_id", "__order")
    if lost.height:    # e.g. more options than a marker style can number, as in the jinja path
        done = done.filter(~failed)
    # grouped by template; render_plan puts records back in plan order, once
    return done.cast({**RENDERED_SCHEMA, "__order": pl.UInt32}), lost


def _render_few_shot(task: Task, plan, queries: pl.DataFrame, seed: int,
                     compiled: list[CompiledTemplate], items: pl.DataFrame, max_exemplars: int,
                     frame: pl.DataFrame) -> pl.DataFrame:
    """Few-shot records of vectorised templates, equal to the row path, from ``frame``: the
    queries of ``items``, rendered zero-shot in bulk. Each query draws its exemplars from the
    pool by hash, the exemplars are rendered in bulk with the query's template, and exemplars
    are dropped whole from the end until the prompt fits."""
    from .checks import DEFAULT_LIMITS
    from .formats import pool_groups, with_hashes
    from ..hashing import derive, distinct_draws_many, slot_values

    max_chars = {**DEFAULT_LIMITS, **task.limits}["inputs_max_chars"]
    planned = items.select("__order", "row", "template", "repeat",
                           pl.col("format").alias("__planned"))
    frame = frame.drop(LIMIT, strict=False).join(planned, on="__order", how="left",
                                                 maintain_order="left")
    pool_size = plan.pool.height
    slots = np.full((frame.height, max_exemplars), -1, dtype=np.int64)
    if pool_size:
        base = queries[HASH].gather(frame["row"]).to_numpy()
        repeats = frame["repeat"].to_numpy()
        for repeat in np.unique(repeats):
            rows = np.flatnonzero(repeats == repeat)
            counts = 1 + (derive(base[rows], f"exemplar-count-{repeat}")
                          % np.uint64(max_exemplars)).astype(np.int64)
            groups = pool_groups(plan)
            drawn = distinct_draws_many(derive(base[rows], f"exemplars-{repeat}"), counts,
                                        len(groups.sizes), max_exemplars)
            # one row of each drawn document (exemplar_rows does the same per query)
            pick = derive(base[rows], f"exemplar-pick-{repeat}")
            for slot in range(max_exemplars):
                document = drawn[:, slot]
                ok = document >= 0
                offset = (slot_values(pick[ok], slot)
                          % groups.sizes[document[ok]].astype(np.uint64)).astype(np.int64)
                column = np.full(len(rows), -1, dtype=np.int64)
                column[ok] = groups.order[groups.starts[document[ok]] + offset]
                slots[rows, slot] = column
    templates = frame["template"].to_numpy()
    # Each rendered exemplar as the block it adds to a prompt, "inputs\ntargets\n\n", and its
    # length; an exemplar that fails to render has no block and is skipped. Blocks are kept for
    # the plan's later batches (up to BLOCKS_CACHE_BYTES), so each is rendered once, not once
    # per batch that draws it; ``where`` finds a (pool row, template)'s block by its code,
    # row * templates + template (-1: not tried yet, -2: failed to render).
    key = (seed, tuple((c.spec.id, c.spec.input, c.spec.target) for c in compiled))
    cache = plan.shared.get("blocks")
    if cache is None or cache["key"] != key:
        cache = plan.shared["blocks"] = {
            "key": key, "bytes": 0, "where": np.full(pool_size * len(compiled), -1, np.int64),
            "blocks": pl.DataFrame(schema={"__block": pl.Utf8, "__length": pl.Int64})}
    blocks, where = cache["blocks"], cache["where"]
    codes = np.where(slots >= 0, slots * len(compiled) + templates[:, None], -1)
    wanted = np.unique(codes[codes >= 0])
    new = wanted[where[wanted] == -1]
    at = np.where(codes >= 0, where[np.maximum(codes, 0)], -1)
    if len(new):
        pool = with_hashes(task, plan.pool, seed)
        tried = pl.DataFrame({"row": new // len(compiled), "template": new % len(compiled)},
                             schema={"row": pl.Int64, "template": pl.Int32}).with_row_index(
                                 "__order")
        shown, _ = _render_bulk(task, pool, compiled, tried)
        fresh = shown.sort("__order").select(
            pl.col("__order").cast(pl.Int64),
            pl.concat_str(["inputs", pl.lit("\n"), "targets", pl.lit("\n\n")]).alias("__block"))
        fresh = fresh.with_columns(pl.col("__block").str.len_chars().cast(pl.Int64)
                                   .alias("__length"))
        # this batch's new blocks follow the kept ones: their place in ``blocks``
        placed = np.full(len(new), -2, dtype=np.int64)
        placed[fresh["__order"].to_numpy()] = blocks.height + np.arange(fresh.height)
        # one chunk: a gather across chunks costs many times one from a single chunk (8 chunks:
        # 40x); for text, rechunking moves the 16-byte views, not the text
        blocks = pl.concat([blocks, fresh.drop("__order")]).rechunk()
        fresh_at = placed[np.minimum(np.searchsorted(new, np.maximum(codes, 0)), len(new) - 1)]
        at = np.where((codes >= 0) & (at == -1), fresh_at, at)
        size = cache["bytes"] + int(fresh["__block"].str.len_bytes().sum() or 0)
        if size <= BLOCKS_CACHE_BYTES:
            where[new] = placed
            cache.update(blocks=blocks, bytes=size)
    at = np.where(at >= 0, at, -1).reshape(frame.height, max_exemplars)
    lengths = np.where(at >= 0, blocks["__length"].to_numpy()[np.maximum(at, 0)], 0) \
        if blocks.height else np.zeros_like(at)
    # The prompt is the exemplar blocks then the query. Of the exemplars that rendered, the
    # most that fit are kept from the front, whole (a query alone may already be over the limit).
    room = max_chars - frame["inputs"].str.len_chars().cast(pl.Int64).to_numpy()
    included = (at >= 0) & (np.cumsum(lengths, axis=1) <= room[:, None])
    shown_at = np.where(included, at, -1)
    shots = [blocks["__block"].gather(pl.Series(shown_at[:, slot]).replace(-1, None)
                                      .cast(pl.UInt32)).alias(f"__shot{slot}")
             for slot in range(max_exemplars)]
    frame = frame.with_columns(
        pl.Series("exemplars", included.sum(axis=1), dtype=pl.Int32),
        pl.concat_str([*shots, pl.col("inputs")], ignore_nulls=True).alias("inputs"))
    fmt = pl.when(pl.col("exemplars") > 0).then(pl.col("__planned")).otherwise(
        pl.lit("zs") + pl.col("__planned").str.slice(2))
    frame = frame.with_columns(fmt.alias("format"))
    return frame.select(*RENDERED_SCHEMA, "__order").cast(
        {**RENDERED_SCHEMA, "__order": pl.UInt32})


# Exemplar blocks kept per plan across its render batches, at most (text bytes)
BLOCKS_CACHE_BYTES = 64 * 1024 * 1024


# A row whose values a template cannot handle is dropped and counted, not fatal.
_ROW_ERRORS = (jinja2.TemplateError, ValueError, TypeError, IndexError, KeyError,
               ArithmeticError)


def row_context(task: Task, row: dict, seed: int) -> tuple[dict, list[str] | None]:
    """The variables a template sees for ``row``: the declared fields, plus ``options``."""
    context = {name: row[name] for name in task.fields}
    options = row_options(task, row, seed)
    if options is not None:
        context[OPTIONS_VAR] = options
    return context, options


def render_row(task: Task, row: dict, seed: int, template: CompiledTemplate) -> tuple[str, str]:
    """Render one normalised row with a given template (used by preview and tests)."""
    context, _ = row_context(task, row, seed)
    limit = text_limit(context)
    return (render_bounded(template.input, context, limit).strip(),
            render_bounded(template.target, context, limit).strip())
