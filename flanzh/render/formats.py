"""Which rows become records, with which template and format (zero-/few-shot, with/without
options), and which rows are held back as few-shot exemplars.

Every decision is a hash of (seed, task, row key, purpose). Exemplars come from a pool disjoint
from the queries, so a source row is never both; a row repeated to fill a quota gets a different
(template, format) pair each time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..hashing import (HASH, derive, derive_one, distinct_draws, key_hashes, permutations,
                       slot_value, uniform)
from ..read.readers import GROUP, KEY
from ..spec.mixture import FormatPolicy
from ..spec.specs import Task

ITEMS_SCHEMA = {"row": pl.Int64, "template": pl.Int32, "format": pl.Utf8, "repeat": pl.Int32}


@dataclass
class Plan:
    queries: pl.DataFrame
    pool: pl.DataFrame
    # one row per record to render: row (index into queries), template (index into the task's
    # compiled templates), format (zs_opt, zs_noopt, fs_opt, fs_noopt), repeat (0 for a row's
    # first rendering); in (repeat, row) order
    items: pl.DataFrame
    dropped: Counter
    repeats: int        # records added by re-rendering rows
    # the pool as row dicts and its rendered exemplars, kept across the render batches of one
    # plan (dataclasses.replace hands the same dict to each batch's copy)
    shared: dict = field(default_factory=dict)


def _combos(task: Task, policy: FormatPolicy, has_pool: bool) -> list[tuple[int, str, float]]:
    """(template index, format, weight) pairs allowed for this task."""
    weights = {f: w for f, w in policy.weights.items() if w > 0}
    if not has_pool:
        weights = {f: w for f, w in weights.items() if not f.startswith("fs")}
    if not weights:                      # e.g. few-shot only, but no pool: fall back to zero-shot
        weights = {"zs_opt": 1.0, "zs_noopt": 1.0}
    combos = []
    for f, w in weights.items():
        matching = [i for i, t in enumerate(task.templates)
                    if t.choices_in_prompt == f.endswith("_opt")]
        combos += [(i, f, w / len(matching)) for i in matching]   # empty when none match
    if not combos:   # the policy asks only for a kind of template the task lacks
        combos = [(i, ("zs_opt" if t.choices_in_prompt else "zs_noopt"), 1.0)
                  for i, t in enumerate(task.templates)]
    return combos


def with_hashes(task: Task, frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """``frame`` with HASH, the hash every per-row choice is derived from."""
    if HASH in frame.columns:
        return frame
    return frame.with_columns(pl.Series(HASH, key_hashes(seed, task.id, frame[KEY]),
                                        dtype=pl.UInt64))


def _pool_mask(task: Task, frame: pl.DataFrame, seed: int, policy: FormatPolicy) -> np.ndarray:
    """Which rows are held as few-shot exemplars. Membership is decided per source document when
    the reader gives groups, so an exemplar never comes from the query's own passage.

    Units in hash order join the pool while their hash is under the pool share, and never past
    twice the share of rows (a few long documents must not take half a small task); at least
    one unit is always held so few-shot is possible."""
    in_pool = np.zeros(frame.height, dtype=bool)
    unit_column = frame[GROUP] if GROUP in frame.columns else frame[KEY]
    if not policy.few_shot or frame.height == 0:
        return in_pool
    units = unit_column.to_frame("u").group_by("u", maintain_order=True).len()
    if units.height < 2:
        return in_pool
    value = derive(key_hashes(seed, task.id, units["u"]), "pool")
    order = np.argsort(value, kind="stable")
    # the same hash orders the units and decides "wanted", so the wanted units are a prefix
    wanted = uniform(value[order]) < policy.exemplar_pool
    held = np.cumsum(units["len"].to_numpy()[order])
    limit = max(1, math.ceil(2 * policy.exemplar_pool * frame.height))
    take = wanted & (held <= limit)
    take[0] = True
    count = int(np.argmin(take)) if not take.all() else len(take)
    pooled = units["u"].gather(order[:count])
    return unit_column.is_in(pooled.implode()).to_numpy()


def plan_task(task: Task, frame: pl.DataFrame, seed: int, policy: FormatPolicy,
              quota: int | None, max_repeat: int = 1) -> Plan:
    """Split ``frame`` into exemplar pool and queries, and plan each record."""
    dropped: Counter = Counter()
    frame = with_hashes(task, frame, seed)
    mask = pl.Series(_pool_mask(task, frame, seed, policy), dtype=pl.Boolean)
    # one chunk each: every render batch gathers its rows from them, and a gather across the
    # chunks of a parquet read (one a row group) cost 40x one from a single chunk (100k of 1M
    # rows in 8 chunks: 17 ms against 0.4 ms); for text the rechunk moves views, not the text
    pool, queries = frame.filter(mask).rechunk(), frame.filter(~mask).rechunk()
    if pool.height:
        dropped["held_for_exemplars"] = pool.height
    base = queries[HASH].to_numpy()
    order = None    # rows in the order a quota takes them (by hash): sorted only when one does
    combos = _combos(task, policy, pool.height > 0)
    n = len(base)
    quota = n if quota is None else quota
    if quota < n:
        dropped["over_quota"] = n - quota
    rounds = max(1, min(max_repeat, len(combos), -(-quota // n) if n else 1))
    cumulative = np.cumsum([w for _, _, w in combos])
    templates = np.array([t for t, _, _ in combos], dtype=np.int32)
    formats = pl.Series("format", [f for _, f, _ in combos], dtype=pl.Utf8)
    # each row's first (template, format) drawn by weight
    point = uniform(derive(base, "format")) * cumulative[-1]
    first = np.minimum(np.searchsorted(cumulative, point, side="right"), len(combos) - 1)
    parts = []
    repeated, later = None, None       # the rows of the second round and their later combos
    for repeat in range(rounds):
        take = max(0, min(n, quota - repeat * n))
        if take == n:                            # every row: no need to sort them by hash
            rows = np.arange(n, dtype=np.int64)
        else:
            if order is None:
                order = np.argsort(derive(base, "sample"), kind="stable")
            rows = np.sort(order[:take])
        if len(rows) == 0:
            break
        if repeat == 0:
            combo = first[rows]
        else:      # the row's other combos in a seeded order, worked out only for repeated rows
            if later is None:      # once for every round: each round's rows are among these
                repeated = rows
                later = _repeat_combos(base[rows], first[rows], len(combos), rounds - 1)
            combo = later[np.searchsorted(repeated, rows), repeat - 1].astype(np.int64)
        parts.append(pl.DataFrame({"row": rows, "template": templates[combo],
                                   "format": formats.gather(combo),
                                   "repeat": np.full(len(rows), repeat)}, schema=ITEMS_SCHEMA))
    items = pl.concat(parts) if parts else pl.DataFrame(schema=ITEMS_SCHEMA)
    repeats = int((items["repeat"] > 0).sum())
    return Plan(queries, pool, items, dropped, repeats)


def _repeat_combos(base: np.ndarray, first: np.ndarray, n_combos: int, repeats: int,
                   batch: int = 65_536) -> np.ndarray:
    """The combos of each row's renderings 1 to ``repeats`` (a rows x repeats array; batched:
    the order is a rows x combos matrix)."""
    out = np.empty((len(base), repeats), dtype=np.int32)
    for start in range(0, len(base), batch):
        perm = permutations(derive(base[start:start + batch], "repeat-order"), n_combos)
        rest = perm[perm != first[start:start + batch, None]].reshape(len(perm), n_combos - 1)
        out[start:start + batch] = rest[:, :repeats]
    return out


@dataclass(frozen=True)
class PoolGroups:
    """The pool's source documents: pool row indices ordered by document, and each document's
    start in that order and its size. Exemplars are drawn as distinct documents, then one row of
    each, so a prompt never shows the same passage twice."""
    order: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray


def pool_groups(plan: Plan) -> PoolGroups:
    if "groups" not in plan.shared:
        pool = plan.pool
        if GROUP in pool.columns and pool.height:
            # a row without a document is a document of its own
            codes = pool.select(pl.coalesce(pl.col(GROUP), pl.lit("\x00") + pl.col(KEY))
                                .rank("dense").cast(pl.Int64))[GROUP].to_numpy() - 1
            # documents in order of first appearance, rows of each in pool order
            first = np.full(codes.max() + 1, len(codes), dtype=np.int64)
            np.minimum.at(first, codes, np.arange(len(codes)))
            rank = np.empty_like(first)
            rank[np.argsort(first, kind="stable")] = np.arange(len(first))
            document = rank[codes]
            order = np.argsort(document, kind="stable")
            sizes = np.bincount(document, minlength=len(first))
        else:
            order = np.arange(pool.height)
            sizes = np.ones(pool.height, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        plan.shared["groups"] = PoolGroups(order, starts, sizes.astype(np.int64))
    return plan.shared["groups"]


def exemplar_rows(plan: Plan, base: int, repeat: int, max_exemplars: int) -> list[int]:
    """Pool row indices shown before a few-shot query (whose key hash is ``base``): distinct
    source documents, one row of each."""
    if plan.pool.height == 0:
        return []
    groups = pool_groups(plan)
    count = 1 + derive_one(base, f"exemplar-count-{repeat}") % max_exemplars
    drawn = distinct_draws(derive_one(base, f"exemplars-{repeat}"), count, len(groups.sizes))
    pick = derive_one(base, f"exemplar-pick-{repeat}")
    return [int(groups.order[int(groups.starts[g]) + slot_value(pick, slot) % int(groups.sizes[g])])
            for slot, g in enumerate(drawn)]


def few_shot_prompt(exemplars: list[tuple[str, str]], query: str, max_chars: int
                    ) -> tuple[str, int]:
    """Exemplars (input, target) then the query, dropping exemplars from the end until the prompt
    fits ``max_chars``; text is never cut. Returns the prompt and the exemplars kept."""
    kept = list(exemplars)
    while True:
        blocks = [f"{i}\n{t}" for i, t in kept] + [query]
        prompt = "\n\n".join(blocks)
        if len(prompt) <= max_chars or not kept:
            return prompt, len(kept)
        kept.pop()


def effective_format(fmt: str, exemplars: int) -> str:
    """A few-shot query that lost every exemplar to the length limit is zero-shot."""
    return fmt if exemplars or not fmt.startswith("fs") else "zs" + fmt[2:]

