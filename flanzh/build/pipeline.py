"""The build.

    per task (a unit):  read -> normalise -> decontaminate     (source rows, spilled to parquet)
    corpus:             near-dedup across tasks, quotas
    per task (a unit):  plan formats -> in batches: render -> check -> exact dedup within the
                        task -> shard files                    (records stream to disk)
    corpus:             exact dedup across tasks (64-bit hashes; only shards that lose a row
                        are rewritten) -> shards in place, manifest, card

Units run on an executor (executors.py: serial, a process pool, or Ray), so a build's memory is
bounded by one task's source rows plus a batch of records, not by the corpus. Each step returns
drop counts by reason; per task the build keeps the invariant
rows_read + rows_repeated == rows_written + sum(dropped), and fails loudly if it breaks.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from .. import __version__
from .cache import (TaskCache, build_fingerprint, copy_file, fingerprint, output_up_to_date,
                    package_versions, source_stamps)
from .parts import PartsWriter
from .plots import box_stats
from .report import write_report
from .unit import REJECTS, TaskResult, UnitContext
from .writer import (DEFAULT_SHARD_ROWS, RECORDS_LAYOUT, StagedOutput, disk_full_error,
                     output_target, shard_names, task_manifest, write_records)
from ..corpus.decontaminate import (EvalIndex, audit_summary, compared_texts, decontaminate,
                                    read_extra_eval_file)
from ..corpus.exact_dedup import (RECORD_HASH, SeenHashes, count, record_hashes,
                                  seen_in_earlier)
from ..corpus.near_dedup import NearDuplicates, sign_to_file
from ..digests import remembered
from ..executors import (check_executor, default_workers, in_background, release_pools,
                         return_freed_memory, run_units, start_pool)
from ..hashing import keys_digest
from ..project import Project
from ..read.download import read_record
from ..read.normalise import SPLIT, empty_rows, normalise
from ..read.readers import KEY
from ..read.sources import (SourceMode, missing_files, read_split, require_all_files,
                            source_bytes)
from ..read.textnorm import source_text
from ..render.checks import POSITION, check_records
from ..render.formats import plan_task
from ..render.records import to_records
from ..render.refit import refit
from ..render.templates import compile_templates, render_plan
from ..spec.mixture import Mixture, check_task_ids, load_mixture, quotas, target_shares
from ..spec.specs import Task, load_tasks, task_ids as all_task_ids

DEFAULT_SEED = 20230918   # OpenBA's arXiv submission date; any integer works
TASK_STEPS = ("read", "render", "write")
ROW = "__row"                      # a source row's position in its task's rows (decontamination)
DEFAULT_MAX_REJECT_RATE = 0.5
CORPUS_STEPS = ("decontaminate", "near-dedup", "exact-dedup", "report")

Progress = Callable[[str], None]   # called once as each step finishes, with its label


def progress_total(n_tasks: int) -> int:
    return n_tasks * len(TASK_STEPS) + len(CORPUS_STEPS)


def load_rows(project: Project, task: Task, mode: SourceMode, splits: list[str] | None = None,
              cache: TaskCache | None = None, text_only: bool = False) -> TaskResult:
    """Read and normalise ``splits`` (default: the task's train splits); ``text_only`` for
    evaluation splits (see normalise)."""
    splits = task.train_splits if splits is None else splits
    key = fingerprint("read", task.spec_sha256, mode.kind, splits, text_only,
                      source_stamps(project, task, splits, mode))
    cached = cache.load("read", task.id, key) if cache else None
    if cached is not None:
        frame, meta = cached
        return TaskResult(task, frame, rows_read=meta["rows_read"],
                          dropped=Counter(meta["dropped"]), truncated=Counter(meta["truncated"]),
                          rejects=meta["rejects"], read_key=key)
    result = TaskResult(task, empty_rows(task), read_key=key)
    frames = []
    for split in splits:
        read = read_split(project, task, split, mode)
        result.rows_read += read.frame.height + sum(read.dropped.values())
        result.dropped += read.dropped
        result.rejects += [{"split": split, **r, "file": project.relative(r["file"])}
                           for r in read.rejects]
        examples: list[dict] = []
        frame, dropped, truncated = normalise(task, read.frame, split, examples, text_only)
        result.rejects += [{"split": split, **r} for r in examples]
        result.dropped += dropped
        result.truncated += truncated
        frames.append(frame)
    if frames:
        result.rows = pl.concat(frames)
    if cache:
        cache.store("read", task.id, key, result.rows,
                    {"rows_read": result.rows_read, "dropped": result.dropped,
                     "truncated": result.truncated, "rejects": result.rejects})
    return result


RENDER_BATCH = 100_000     # records rendered, checked, deduplicated and written at a time, at most
BATCH_CHARS = 6_000_000    # ... and about this many characters of records (long passages: fewer)
MIN_BATCH = 10_000
HASHES = "hashes.npy"      # a rendered task's record hashes, in record order
DIGESTS = "digests.json"   # source files' content digests by stat, in the cache folder
LENGTHS = "lengths.npy"    # ... and their (inputs, targets) lengths in characters, for the report


def render_task(result: TaskResult, seed: int, mixture: Mixture, quota: int | None,
                compiled=None, cache: TaskCache | None = None, folder: Path | None = None,
                shard_rows: int = DEFAULT_SHARD_ROWS) -> None:
    """Plan formats, then render, check and deduplicate ``result.rows`` in batches.

    Records go to parquet parts in ``folder`` (or in the cache when there is one), listed in
    ``result.parts`` with their hashes in ``result.hashes``; with neither, to ``result.records``.
    """
    task = result.task
    policy = mixture.formats_for(task.id)
    result.quota = quota
    result.hashes = np.zeros(0, dtype=np.uint64)
    if result.rows.height == 0:
        return
    kept = keys_digest(result.rows[KEY])
    key = fingerprint("render", result.read_key, task.templates_sha256, seed, policy, quota,
                      mixture.policy["max_repeat"], kept, shard_rows, RECORDS_LAYOUT, RECORD_HASH)
    cached = cache.load_folder("render", task.id, key) if cache else None
    if cached is not None:
        entry, meta = cached
        result.parts = [entry / name for name in meta["parts"]]
        # mapped, not read: render_unit leaves them in the file for exact dedup to map again
        result.hashes = np.load(entry / HASHES, mmap_mode="r")
        result.rows_repeated = meta["rows_repeated"]
        result.dropped += Counter(meta["dropped"])
        result.answers = Counter(meta["answers"])
        return
    target = cache.new_folder("render", task.id, key) if cache else folder
    compiled = compiled or compile_templates(task)        # once, not once per batch
    dropped: Counter = Counter()
    plan = plan_task(task, result.rows, seed, policy, quota, mixture.policy["max_repeat"])
    result.rows = result.rows.clear()       # the plan holds them now, as its pool and queries
    result.rows_repeated = plan.repeats
    dropped += plan.dropped
    parts, hashes, lengths = PartsWriter(target, shard_rows), [], []
    seen = SeenHashes(expected=plan.items.height)
    answers: Counter = Counter()
    start, size = 0, min(MIN_BATCH, RENDER_BATCH)      # the first batch measures the records
    while start < plan.items.height:
        batch = replace(plan, items=plan.items.slice(start, size))
        start += size
        rendered, render_dropped = render_plan(task, batch, seed, compiled, policy.max_exemplars,
                                               keep_order=True)
        # each record's item in the plan: refit knows its planned format and repeat, and a
        # refit record takes its place
        rendered = rendered.rename({"__order": POSITION})
        frame, check_dropped = check_records(task, rendered)
        frame, check_dropped = refit(task, batch, seed, compiled, policy.max_exemplars, rendered,
                                     frame, check_dropped)
        frame = frame.drop(POSITION)
        dropped += render_dropped + check_dropped
        if task.choices is not None:
            answers += Counter(dict(frame["__answer"].drop_nulls().value_counts().iter_rows()))
        records = to_records(task, frame)
        record_hash = record_hashes(records)
        repeated = (seen.first_seen(record_hash) if mixture.dedup["exact"]   # within the task
                    else np.zeros(len(record_hash), dtype=bool))
        if repeated.any():
            dropped["duplicate"] += int(repeated.sum())
            records, record_hash = records.filter(~pl.Series(repeated)), record_hash[~repeated]
        size = _next_batch(records, size)
        parts.add(records)
        hashes.append(record_hash)
        if target is not None:
            lengths.append(records.select(pl.col("inputs").str.len_chars(),
                                          pl.col("targets").str.len_chars()).to_numpy()
                           .astype(np.uint32))
    result.hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    in_memory = parts.close()
    if in_memory is not None:
        result.records = in_memory
    result.parts = parts.paths
    result.dropped += dropped
    result.answers = answers
    if target is not None:
        np.save(target / HASHES, result.hashes)
        np.save(target / LENGTHS, np.concatenate(lengths) if lengths
                else np.zeros((0, 2), dtype=np.uint32))
    if cache:
        entry = cache.store_folder("render", task.id, key, target, {
            "rows_repeated": result.rows_repeated, "dropped": dropped, "answers": answers,
            "parts": [p.name for p in parts.paths]})
        result.parts = [entry / p.name for p in parts.paths]


def process_task(project: Project, task: Task, seed: int, mode: SourceMode,
                 mixture: Mixture | None = None) -> TaskResult:
    """One task on its own (no corpus-level steps): read, normalise, render, check."""
    result = load_rows(project, task, mode)
    render_task(result, seed, mixture or load_mixture(None), quota=None)
    result.check_invariant()
    return result


def build_task_alone(project: Project, task: Task, seed: int, mode: SourceMode,
                     mixture: Mixture) -> TaskResult:
    """What a build of this one task does with its rows: read and normalise its corpus splits,
    decontaminate them against its own evaluation splits (when the policy says so), plan, render,
    check and deduplicate; the steps across tasks (near-dedup, exact dedup between tasks) are left
    out. Lint counts what this drops from a bundled sample."""
    result = load_rows(project, task, mode, mixture.corpus_splits(task))
    if mixture.decontamination["enabled"] and result.rows.height:
        index = eval_index(project, [task], mode, mixture, project.root)
        index.freeze()
        texts, at = compared_texts(task, result.rows)
        result.rows, dropped = decontaminate(result.rows, texts, index, at, Counter())
        result.dropped += dropped
    render_task(result, seed, mixture, quota=None)
    result.check_invariant()
    return result


def eval_index(project: Project, tasks: list[Task], mode: SourceMode, mixture: Mixture,
               base: Path) -> EvalIndex:
    """The compared texts of every evaluation split (and benchmark split kept out of training)
    and every extra evaluation file. In samples mode a split without a bundled sample is skipped;
    otherwise its files must exist."""
    policy = mixture.decontamination
    index = EvalIndex(policy["ngram"], max_eval_items=policy["boilerplate"]["eval_items"],
                      max_source_rows=policy["boilerplate"]["source_rows"], whole=True,
                      min_chars=policy["whole_min_chars"],
                      ignore=[p for t in tasks
                              for p in (t.spec.get("decontamination") or {}).get("ignore", [])])
    for task in tasks:
        splits = mixture.evaluation_splits(task)
        hub_splits = (task.source.get("hub") or {}).get("splits")
        if mode.kind == "hub" and hub_splits is not None:
            # an evaluation split the hub copy does not have (CSL's benchmark files) is skipped
            splits = [s for s in splits if s in hub_splits]
        if mode.kind == "samples":
            splits = [s for s in splits if not missing_files(project, task, [s], mode)]
        if not splits:
            continue
        for split in splits:
            rows = load_rows(project, task, mode, [split], text_only=True).rows
            if rows.height:
                texts, at = compared_texts(task, rows)
                index.add(f"{task.id}/{split}", texts, at, rows.height,
                          (task.spec.get("decontamination") or {}).get("whole_texts", True))
    for extra in mixture.decontamination["extra"]:
        path = Path(extra) if Path(extra).is_absolute() else base / extra
        items = read_extra_eval_file(path)
        index.add(f"extra/{path.name}", [t for item in items for t in item],
                  np.repeat(np.arange(len(items)), [len(item) for item in items]), len(items))
    return index


def write_rejects(path: Path, results: dict[str, TaskResult]) -> None:
    """Examples of rejected source rows, a few per task and reason, with file and line."""
    with open(path, "w", encoding="utf-8") as handle:
        for task_id in sorted(results):
            for reject in results[task_id].rejects:
                handle.write(json.dumps({"task": task_id, **reject}, ensure_ascii=False,
                                        sort_keys=True) + "\n")


def read_unit(context: UnitContext, task: Task) -> TaskResult:
    """Read and normalise one task's source rows; spill them to parquet."""
    project = Project(context.root)
    result = load_rows(project, task, context.mode, context.mixture.corpus_splits(task),
                       cache=context.cache())
    # the rows as the cache holds them need not be written again (they are only read from there)
    result.spill = context.cache().entry("read", task.id, result.read_key)
    if context.mixture.include_benchmarks and task.benchmark_splits and result.rows.height:
        # each record says it came from a benchmark's evaluation set (source_split)
        result.rows = result.rows.with_columns(
            pl.when(pl.col(SPLIT).is_in(task.benchmark_splits))
            .then(pl.lit("benchmark:") + pl.col(SPLIT)).otherwise(pl.col(SPLIT)).alias(SPLIT))
        result.spill = None
    result.check_reject_rate(context.max_reject_rate if context.max_reject_rate is not None
                             else task.spec.get("max_reject_rate", DEFAULT_MAX_REJECT_RATE))
    result.available = result.rows.height
    if result.spill is None:
        _keep_rows(context, result, result.rows)
    near = context.mixture.dedup["near"]
    if near["enabled"] and result.rows.height:
        # signed here, where each task's read runs (in parallel on a pool), not in the driver
        folder = context.work / "signed"
        folder.mkdir(parents=True, exist_ok=True)
        result.signed = folder / f"{task.id}.npy"
        keys = sign_to_file(source_text(task, result.rows), result.signed,
                            ngram=near["ngram"], num_perm=near["num_perm"])
        np.save(folder / f"{task.id}.keys.npy", keys)
    result.rows = empty_rows(task)
    return_freed_memory()              # a pool worker goes on to other tasks' units
    return result


def render_unit(context: UnitContext, result: TaskResult, quota: int | None) -> TaskResult:
    """Plan, render, check and deduplicate one task's spilled rows into parquet parts."""
    task = result.task
    result.rows = pl.read_parquet(result.spill)
    render_task(result, context.seed, context.mixture, quota, cache=context.cache(),
                folder=context.work / "records" / task.id, shard_rows=context.shard_rows)
    result.rows = empty_rows(task)
    if result.parts:
        # the hashes stay in the file beside the parts until exact dedup reads them: sent back,
        # every task's would sit in the driver through the rest of render (50M records: 400 MB)
        result.hashes = None
    return_freed_memory()
    return result


def record_hashes_of(result: TaskResult) -> np.ndarray:
    """A rendered task's record hashes, in record order: in memory, or (mapped) from the file its
    render unit saved beside its parts."""
    if result.hashes is not None:
        return result.hashes
    return np.load(result.parts[0].parent / HASHES, mmap_mode="r")


def _keep_rows(context: UnitContext, result: TaskResult, rows: pl.DataFrame) -> None:
    """Spill a task's source rows to the build's work folder (never over a cache entry)."""
    folder = context.work / "rows"
    folder.mkdir(parents=True, exist_ok=True)
    result.spill = folder / f"{result.task.id}.parquet"
    rows.write_parquet(result.spill, statistics=False)   # read whole, never filtered by them


def _decontaminate_spill(context: UnitContext, result: TaskResult, index: EvalIndex
                         ) -> tuple[Counter, np.ndarray | None]:
    """Drop a read task's rows that match the evaluation n-grams, from its spill. Run in the
    driver, where the index is built once and held, as each task's read comes back (the other
    tasks' reads go on meanwhile). Returns the task's audit (see decontaminate.audit_summary) and
    the positions of the rows kept when it dropped some, else None."""
    rows = pl.read_parquet(result.spill)
    texts, at = compared_texts(result.task, rows)
    audit: Counter = Counter()
    kept, dropped = decontaminate(rows.with_row_index(ROW), texts, index, at, audit)
    positions = None
    if kept.height != rows.height:
        positions = kept[ROW].to_numpy()
        _keep_rows(context, result, kept.drop(ROW))
    result.dropped += dropped
    result.available = kept.height
    return audit, positions


def _read_and_clean(context: UnitContext, tasks: list[Task], run, costs: list[float],
                    index: EvalIndex | None, step: Progress) -> tuple[dict[str, TaskResult], dict]:
    """Read every task on the executor (``run``), decontaminating each task's rows in the driver
    as its read comes back, then drop near-duplicates across tasks. Returns the results by task
    and the decontamination audit (see decontaminate.audit_summary); the per-task audits and the
    kept positions are not held past this call."""
    audits: dict[str, Counter] = {}
    positions: dict[str, np.ndarray] = {}   # rows decontamination kept, where it removed some

    def decontaminated(result: TaskResult) -> None:
        audits[result.task.id], kept = _decontaminate_spill(context, result, index)
        if kept is not None:
            positions[result.task.id] = kept
        # trimmed now, between reads coming back: left to the end, what the next results
        # leave in between stays (the 4M scale build's driver held 249 MiB at render against
        # 200 MiB trimmed after each task)
        return_freed_memory()

    reads = run(partial(read_unit, context), tasks, "read", costs,
                then=decontaminated if index is not None else None)
    results = {r.task.id: r for r in reads}
    step("decontaminate")
    near = context.mixture.dedup["near"]
    if near["enabled"]:
        _near_dedup(context, results, near, positions)
    step("near-dedup")
    return results, audit_summary(audits)


def _near_dedup(context: UnitContext, results: dict[str, TaskResult], near: dict,
                positions: dict[str, np.ndarray]) -> None:
    """Drop rows that are near-duplicates of rows of earlier tasks (task order matters), over the
    spills, in the driver, where its index is built once. ``positions``: for each task that
    decontamination dropped rows of, the rows it kept (its signatures were made before)."""
    lsh = NearDuplicates(threshold=near["threshold"], ngram=near["ngram"],
                         num_perm=near["num_perm"], exempt=near["exempt"],
                         folder=context.work / "near")     # signatures spill beside the output
    try:
        for task_id, result in results.items():
            rows = None          # a task's rows are read only when its texts or a drop need them
            if result.signed is not None:
                keys = np.load(result.signed.with_suffix(".keys.npy"))
                flags = lsh.add_task(task_id, signed=(result.signed, keys,
                                                      positions.get(task_id)))
            else:
                rows = pl.read_parquet(result.spill)
                flags = lsh.add_task(task_id, source_text(result.task, rows))
            flags = np.array(flags, dtype=bool)
            if flags.any():
                result.dropped += count(flags, "near_duplicate")
                rows = rows if rows is not None else pl.read_parquet(result.spill)
                _keep_rows(context, result, rows.filter(~pl.Series(flags, dtype=pl.Boolean)))
            result.available = len(flags) - int(flags.sum())
    finally:
        lsh.close()


def _place_shards(staged: Path, result: TaskResult, repeated: np.ndarray, moves: bool) -> list[str]:
    """Put a task's parts in the output as its shards, rewriting only parts that lost rows to
    exact dedup across tasks. Parts from the cache are copied (or reflinked), never moved or
    hard-linked: editing a shard must never change the cache."""
    task_id = result.task.id
    survivors, start = [], 0
    for path in result.parts:
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        lost = repeated[start:start + rows]
        start += rows
        if not lost.any():
            survivors.append((path, None))
        elif not lost.all():
            survivors.append((path, ~lost))
    names = shard_names(sum(1 for _ in survivors), 1) if survivors else []
    folder = staged / "data" / task_id
    written = []
    for (path, keep), name in zip(survivors, names):
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        if keep is not None:
            write_records(pl.read_parquet(path).filter(pl.Series(keep)), target)
        elif moves:
            os.replace(path, target)
        else:
            copy_file(path, target)
        written.append(f"data/{task_id}/{name}")
    return written


def _next_batch(records: pl.DataFrame, size: int) -> int:
    """Records to render next: about BATCH_CHARS characters of records like these, between
    MIN_BATCH and RENDER_BATCH, so a batch's rendered, checked and finished copies stay about the
    same size whatever the task (100k few-shot reading-comprehension records held over 600 MB in
    a render worker). The records do not depend on the batch sizes (tested)."""
    if not records.height:
        return size
    mean = records.select(pl.col("inputs").str.len_bytes().mean()
                          + pl.col("targets").str.len_bytes().mean()).item() / 3 or 1
    return max(min(MIN_BATCH, RENDER_BATCH), min(RENDER_BATCH, int(BATCH_CHARS / mean)))


def _length_stats(result: TaskResult, repeated: np.ndarray) -> tuple[dict, dict] | None:
    """Box-plot statistics of the (inputs, targets) lengths of a task's written records, from
    the lengths its render step saved beside its parts (the report need not read every record's
    text back); None when there are none."""
    if not result.parts or not (result.parts[0].parent / LENGTHS).is_file():
        return None
    lengths = np.load(result.parts[0].parent / LENGTHS)
    if len(lengths) != len(repeated):
        return None
    kept = lengths[~repeated]
    if not len(kept):
        return None
    return box_stats(kept[:, 0]), box_stats(kept[:, 1])


def _shard_stats(staged: Path, shards: list[str]) -> tuple[int, int, dict]:
    """(rows, templates used, records per format) of a task's final shards."""
    if not shards:
        return 0, 0, {}
    frame = pl.read_parquet([staged / s for s in shards], columns=["template_id", "format"])
    formats = dict(frame["format"].value_counts().iter_rows())
    return frame.height, frame["template_id"].n_unique(), formats


def build(project: Project, out: Path, *, task_ids: list[str] | None = None,
          seed: int = DEFAULT_SEED, mode: SourceMode = SourceMode(), mixture: Mixture | None = None,
          shard_rows: int = DEFAULT_SHARD_ROWS, on_step: Progress | None = None,
          max_reject_rate: float | None = None, use_cache: bool = True,
          executor: str = "serial", workers: int | None = None) -> dict:
    """Build the corpus for ``task_ids`` (default: every task) into ``out``; return the manifest.
    ``mixture`` defaults to zero-shot records, exact dedup only (see mixture.DEFAULT_POLICY).
    Per-task units run on ``executor`` (serial, process or ray; see executors.py)."""
    step = on_step or (lambda label: None)
    out = output_target(out)          # a symlinked --out: build the folder it points to
    check_executor(executor, workers)
    mixture = mixture or load_mixture(None)
    if task_ids:                        # a task named twice is built once
        task_ids = list(dict.fromkeys(task_ids))
    tasks = load_tasks(project, task_ids)
    check_task_ids(mixture, all_task_ids(project))
    for task in tasks:                  # template errors before anything is read
        compile_templates(task)
    if mode.kind == "data_dir":
        require_all_files(project, tasks, mode,       # every missing download at once
                          with_eval=mixture.decontamination["enabled"])
    cache = TaskCache(out, enabled=use_cache)
    # source digests are kept beside the cache, so a rebuild does not read every source again
    with remembered(cache.root / DIGESTS if use_cache else None):
        return _build(project, out, tasks, seed, mode, mixture, shard_rows, step,
                      max_reject_rate, use_cache, executor, workers, cache)


def _build(project: Project, out: Path, tasks: list[Task], seed: int, mode: SourceMode,
           mixture: Mixture, shard_rows: int, step: Progress, max_reject_rate: float | None,
           use_cache: bool, executor: str, workers: int | None, cache: TaskCache) -> dict:
    whole = build_fingerprint(project, tasks, seed, mode, mixture, shard_rows, max_reject_rate)
    if use_cache:
        current = output_up_to_date(Path(out), cache, whole)
        if current is not None:           # nothing that decides the output has changed
            return current
    if executor == "process":
        workers = workers or default_workers(len(tasks))
        # its workers start (and import this module) while the evaluation sets load
        start_pool(workers, preload=[__name__])
    staged = StagedOutput(out)
    context = UnitContext(project.root, seed, mode, mixture, shard_rows, max_reject_rate,
                          staged.path / ".work", Path(out), use_cache)
    submitted = False              # whether any unit went to the executor yet
    stop_reading = None            # asks the thread reading the sources' digests to stop

    def run(fn, units, label, costs, then=None):
        nonlocal submitted

        def done(i, result):
            step(f"{tasks[i].id}: {label}")
            if then is not None:
                then(result)
        submitted = True
        return run_units(fn, units, executor=executor, workers=workers, costs=costs, on_done=done)

    try:
        decon = {"enabled": mixture.decontamination["enabled"]}
        index = None
        if decon["enabled"]:
            index = eval_index(project, tasks, mode, mixture, project.root)
            index.freeze()
            decon.update(ngram=index.ngram, eval_sets=dict(sorted(index.sizes.items())),
                         boilerplate={**mixture.decontamination["boilerplate"],
                                      **index.boilerplate},
                         whole_min_chars=index.min_chars, ignore=index.ignore)
        benchmark = {t.id: {"splits": t.benchmark_splits, "included": mixture.include_benchmarks}
                     for t in tasks if t.benchmark_splits}
        results, removed = _read_and_clean(context, tasks, run, read_costs(project, tasks, mode,
                                                                           mixture), index, step)
        if index is not None:
            decon["removed"] = removed
        index = None          # the evaluation n-grams are not held through render
        return_freed_memory()

        available = {tid: r.available for tid, r in results.items()}
        task_quotas = quotas(mixture, tasks, available)
        shares = target_shares(mixture, tasks, available) if mixture.total else {}
        # the manifest's record of what each task read (the sha256 of every source file: 0.2 s
        # for 240 MB) is worked out by a thread of the driver while the units render: in a
        # process build the driver only waits then, and the last unit leaves a core idle
        records_read, stop_reading = in_background(
            partial(_records_read, project, tasks, mode), "flanzh-read-record")
        rendered = run(_render_with_quota, [(context, results[t.id], task_quotas[t.id])
                                            for t in tasks], "render",
                       [render_cost(results[t.id], task_quotas[t.id]) for t in tasks])
        results = {r.task.id: r for r in rendered}
        release_pools()                 # the units are done: their workers' memory goes now

        # exact dedup across tasks, in task order (each task's records are already unique)
        if mixture.dedup["exact"]:
            flags = seen_in_earlier([record_hashes_of(results[t.id]) for t in tasks])
        else:
            flags = [np.zeros(len(record_hashes_of(results[t.id])), dtype=bool) for t in tasks]
        repeated = {task.id: flag for task, flag in zip(tasks, flags)}
        for task in tasks:
            results[task.id].dropped += count(repeated[task.id], "duplicate")
        return_freed_memory()
        step("exact-dedup")

        manifest_tasks, written, length_stats = {}, {}, {}
        for task in tasks:
            result = results[task.id]
            length_stats[task.id] = _length_stats(result, repeated[task.id])
            shards = _place_shards(staged.path, result, repeated[task.id], moves=not use_cache)
            result.written, result.templates_used, result.formats = _shard_stats(staged.path,
                                                                                 shards)
            result.check_invariant()
            written[task.id] = shards
            step(f"{task.id}: write")
        shutil.rmtree(context.work, ignore_errors=True)
        total_written = sum(r.rows_written for r in results.values())
        for task in tasks:
            manifest_tasks[task.id] = task_manifest(results[task.id], written[task.id],
                                                    shares.get(task.id), total_written,
                                                    mixture.corpus_splits(task),
                                                    benchmark.get(task.id))
            manifest_tasks[task.id]["read"] = records_read.result()[task.id]
        manifest = {
            "flanzh_version": __version__,
            "seed": seed,
            "source_mode": mode.description if mode.kind != "data_dir" else "downloaded raw files",
            "mixture": {"file": mixture.path, "policy": mixture.policy},
            "decontamination": decon,
            "benchmark_splits": {"policy": mixture.policy["benchmark_splits"], "tasks": benchmark},
            "versions": package_versions(),
            "tasks": manifest_tasks,
            "totals": {
                "tasks": len(manifest_tasks),
                "rows_read": sum(t["rows_read"] for t in manifest_tasks.values()),
                "rows_repeated": sum(t["rows_repeated"] for t in manifest_tasks.values()),
                "rows_written": total_written,
                "rows_dropped": sum(sum(t["dropped"].values()) for t in manifest_tasks.values()),
            },
        }
        write_rejects(staged.path / REJECTS, results)
        manifest["rejects_file"] = REJECTS
        manifest["report"] = write_report(staged.path, manifest, length_stats)
        staged.commit(manifest)
        cache.record_build(whole)
        step("report")
    except BaseException as exc:
        staged.discard()
        if stop_reading is not None:
            stop_reading.set()
        # started before anything was read: no idle workers left behind (before any unit,
        # nothing they did is worth waiting for)
        release_pools(now=not submitted)
        full = disk_full_error(exc, out.parent, out) if isinstance(exc, Exception) else None
        if full is not None:
            raise full from exc
        raise
    return manifest


def _records_read(project: Project, tasks: list[Task], mode: SourceMode, stop) -> dict:
    """read_record of every task, by task id, until ``stop`` is set."""
    records = {}
    for task in tasks:
        if stop.is_set():
            break
        records[task.id] = read_record(project, task, mode)
    return records


def read_costs(project: Project, tasks: list[Task], mode: SourceMode, mixture: Mixture
               ) -> list[float]:
    """Each task's read, roughly: the size of its files. A pool starts the largest first, so the
    longest read does not start last and run on alone."""
    return [float(source_bytes(project, t, mixture.corpus_splits(t), mode)) for t in tasks]


def render_cost(result: TaskResult, quota: int | None) -> float:
    """A task's render, roughly: the records it plans times the size of a source row (its spilled
    rows' bytes on disk each, plus a fixed cost a record)."""
    if not result.available:
        return 0.0
    size = result.spill.stat().st_size if result.spill is not None and result.spill.is_file() else 0
    per_row = size / result.available
    return (quota if quota is not None else result.available) * (per_row + 100)


def _render_with_quota(unit: tuple) -> TaskResult:
    context, result, quota = unit
    return render_unit(context, result, quota)
