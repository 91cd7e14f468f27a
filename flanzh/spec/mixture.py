"""The mixture policy (``mixture.yaml``): how many records each task contributes, in which formats.

Quotas: with ``total: null`` every task gives all its rows up to its spec's ``mixture.cap``.
With a total, each task's share comes from the weights (OpenBA's shares, examples-proportional, or
explicit task/category weights), raised to 1/temperature and normalised; a task's quota is
``round(total * share)``, never above its cap. A task with more rows than its quota is sampled
without replacement by hash order; one with fewer is re-rendered with other templates/formats, at
most ``max_repeat`` times per row.

Caps: a task's cap is the policy's ``caps.tasks[<id>]``, else ``caps.categories[<category>]``
(each task of that category), else ``caps.default``, else its spec's ``mixture.cap``; a policy
value of ``null`` lifts the cap, ``spec`` keeps the spec's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import SpecError
from .schema import schema_problems
from .specs import Task

FORMATS = ("zs_opt", "zs_noopt", "fs_opt", "fs_noopt")

DEFAULT_POLICY = {
    "total": None,
    "weights": "openba",
    "temperature": 1.0,
    "max_repeat": 3,
    "formats": {"weights": {"zs_opt": 1.0, "zs_noopt": 1.0}, "max_exemplars": 3,
                "exemplar_pool": 0.1},
    "tasks": {},
    "caps": {},
    "dedup": {"exact": True, "near": {"enabled": False, "threshold": 0.85, "ngram": 5,
                                      "num_perm": 128, "exempt": []}},
    "decontamination": {"enabled": False, "ngram": 13, "extra": [],
                        "boilerplate": {"eval_items": 10, "source_rows": 10},
                        "whole_min_chars": 4},
    "benchmark_splits": "exclude",
}


@dataclass(frozen=True)
class FormatPolicy:
    weights: dict[str, float]
    max_exemplars: int
    exemplar_pool: float

    @property
    def few_shot(self) -> bool:
        return any(self.weights.get(f, 0) > 0 for f in ("fs_opt", "fs_noopt"))


@dataclass
class Mixture:
    """A validated mixture policy."""

    policy: dict
    path: str | None = None
    formats_by_task: dict[str, FormatPolicy] = field(default_factory=dict)

    @property
    def total(self) -> int | None:
        return self.policy["total"]

    def formats_for(self, task_id: str) -> FormatPolicy:
        base = self.policy["formats"]
        override = self.policy["tasks"].get(task_id, {}).get("formats", {})
        merged = {**base, **override}
        return FormatPolicy(weights=dict(merged["weights"]), max_exemplars=merged["max_exemplars"],
                            exemplar_pool=merged["exemplar_pool"])

    @property
    def dedup(self) -> dict:
        return self.policy["dedup"]

    @property
    def decontamination(self) -> dict:
        return self.policy["decontamination"]

    @property
    def include_benchmarks(self) -> bool:
        return self.policy["benchmark_splits"] == "include"

    def corpus_splits(self, task: Task) -> list[str]:
        """The splits that feed the corpus: the spec's train splits without its benchmark splits
        (default), or with them (benchmark_splits: include)."""
        bench = task.benchmark_splits
        if self.include_benchmarks:
            return task.train_splits + [s for s in bench if s not in task.train_splits]
        return [s for s in task.train_splits if s not in bench]

    def evaluation_splits(self, task: Task) -> list[str]:
        """The splits that feed decontamination: the spec's eval splits and, unless included in
        training, its benchmark splits."""
        corpus = self.corpus_splits(task)
        splits = task.eval_splits + [s for s in task.benchmark_splits if s not in task.eval_splits]
        return [s for s in splits if s not in corpus]


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "weights":
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def load_mixture(path: Path | None, label: str | None = None) -> Mixture:
    """The policy in ``path`` over the defaults; ``None`` gives the defaults (zero-shot only,
    exact dedup only)."""
    if path is None:
        return Mixture(DEFAULT_POLICY)
    label = label or str(path)
    try:
        document = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except FileNotFoundError:
        raise SpecError([f"{label}: no such mixture file"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{label}: not valid YAML: {exc}"]) from None
    problems = schema_problems(document, "mixture", label)
    if problems:
        raise SpecError(problems)
    return Mixture(_merge(DEFAULT_POLICY, document), path=label)


_UNSET = object()


def cap_for(mixture: Mixture, task: Task) -> int | None:
    """The task's cap under this policy (None: no cap): ``caps.tasks``, then ``caps.categories``,
    then ``caps.default``, then the spec's ``mixture.cap``."""
    caps = mixture.policy.get("caps") or {}
    spec_cap = task.spec.get("mixture", {}).get("cap")
    value = (caps.get("tasks") or {}).get(task.id, _UNSET)
    if value is _UNSET:
        value = (caps.get("categories") or {}).get(task.category, _UNSET)
    if value is _UNSET:
        value = caps.get("default", _UNSET)
    if value is _UNSET or value == "spec":
        return spec_cap
    return value


def check_task_ids(mixture: Mixture, known: list[str]) -> None:
    """Refuse task ids the policy names (``tasks:``, ``weights.tasks``, ``caps.tasks``,
    ``dedup.near.exempt``) that are not tasks of the project: a typo there would otherwise
    silently do nothing."""
    from difflib import get_close_matches

    label, policy, known_set = mixture.path or "mixture policy", mixture.policy, set(known)
    named: list[tuple[str, object]] = [("$.tasks", t) for t in policy.get("tasks") or {}]
    if isinstance(policy.get("weights"), dict):
        named += [("$.weights.tasks", t) for t in policy["weights"].get("tasks") or {}]
    named += [("$.caps.tasks", t) for t in (policy.get("caps") or {}).get("tasks") or {}]
    for i, pair in enumerate(policy["dedup"]["near"].get("exempt") or []):
        named += [(f"$.dedup.near.exempt[{i}][{j}]", t) for j, t in enumerate(pair)]
    problems = []
    for where, task_id in named:
        if task_id in known_set:
            continue
        close = get_close_matches(str(task_id), known, n=3, cutoff=0.6)
        hint = (f"did you mean {', '.join(close)}?" if close else
                f"known tasks: {', '.join(sorted(known))}")
        problems.append(f"{label}: {where}: no task '{task_id}' in task_specs/; {hint}")
    if problems:
        raise SpecError(problems)


def _openba_shares(tasks: list[Task], default: float | None) -> dict[str, float]:
    """Each spec's ``mixture.openba_share``; a task without one gets ``default``, or the mean."""
    shares = {t.id: t.spec.get("mixture", {}).get("openba_share") for t in tasks}
    known = [s for s in shares.values() if s]
    fallback = default if default is not None else (sum(known) / len(known) if known else 1.0)
    return {tid: float(s) if s else float(fallback) for tid, s in shares.items()}


def _raw_weights(mixture: Mixture, tasks: list[Task], available: dict[str, int]) -> dict[str, float]:
    weights = mixture.policy["weights"]
    capped = {}
    for t in tasks:
        cap = cap_for(mixture, t)
        capped[t.id] = available[t.id] if cap is None else min(available[t.id], cap)
    if weights == "examples":
        return {t.id: float(capped[t.id]) for t in tasks}
    if weights == "openba":
        return _openba_shares(tasks, None)
    base = (_openba_shares(tasks, weights.get("default")) if weights.get("base") == "openba"
            else None)
    result = {}
    by_category: dict[str, list[Task]] = {}
    for t in tasks:
        by_category.setdefault(t.category, []).append(t)
    for t in tasks:
        if t.id in weights.get("tasks", {}):
            result[t.id] = float(weights["tasks"][t.id])
        elif t.category in weights.get("categories", {}):
            siblings = [s for s in by_category[t.category] if s.id not in weights.get("tasks", {})]
            rows = sum(capped[s.id] for s in siblings) or 1
            result[t.id] = weights["categories"][t.category] * capped[t.id] / rows
        elif base is not None:
            result[t.id] = base[t.id]
        else:
            result[t.id] = float(weights.get("default", 0.0))
    return result


def target_shares(mixture: Mixture, tasks: list[Task], available: dict[str, int]) -> dict[str, float]:
    """Each task's share of the corpus, after temperature, summing to 1."""
    raw = _raw_weights(mixture, tasks, available)
    tempered = {tid: w ** (1.0 / mixture.policy["temperature"]) if w > 0 else 0.0
                for tid, w in raw.items()}
    total = sum(tempered.values()) or 1.0
    return {tid: w / total for tid, w in tempered.items()}


def quotas(mixture: Mixture, tasks: list[Task], available: dict[str, int]
           ) -> dict[str, int | None]:
    """Records each task should contribute (before exact dedup); None: each row once."""
    caps = {t.id: cap_for(mixture, t) for t in tasks}
    if mixture.total is None:   # every row once, up to the cap; None means "all of them"
        return {tid: caps[tid] if caps[tid] and caps[tid] < n else None
                for tid, n in available.items()}
    shares = target_shares(mixture, tasks, available)
    result = {}
    for t in tasks:
        quota = round(mixture.total * shares[t.id])
        if caps[t.id]:
            quota = min(quota, caps[t.id])
        result[t.id] = min(quota, available[t.id] * mixture.policy["max_repeat"])
    return result
