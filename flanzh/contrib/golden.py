"""Golden outputs (``flanzh golden``): each template of a task rendered on one sample row, pinned
in ``tests/golden/<task>.json`` so that a change to a template, a sample or a filter that changes
rendered text shows up as a diff a reviewer reads. This module is the one definition of what a
golden file holds: ``flanzh golden`` writes and checks it, the test suite compares against it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..build.pipeline import DEFAULT_SEED
from ..errors import FlanzhError
from ..project import Project
from ..read.normalise import normalise
from ..read.readers import KEY
from ..read.sources import SourceMode, missing_files, read_split
from ..render.templates import compile_templates, render_row
from ..spec.specs import Task, load_task

GOLDEN_DIR = "tests/golden"


def sample_rows(project: Project, task: Task) -> list[dict]:
    """Every normalised row of every split that has a bundled sample (train, then eval)."""
    rows = []
    for split in task.train_splits + task.eval_splits:
        if split in task.eval_splits and missing_files(project, task, [split], SourceMode()):
            continue
        frame, _, _ = normalise(task, read_split(project, task, split, SourceMode()).frame, split)
        rows += list(frame.iter_rows(named=True))
    return rows


def corpus_rows(project: Project, task: Task) -> list[dict]:
    """The sample rows that feed the corpus; for an evaluation-only source, its evaluation rows."""
    rows = sample_rows(project, task)
    return [r for r in rows if r["__split"] in task.train_splits] if task.train_splits else rows


def golden_records(project: Project, task: Task) -> list[dict]:
    """Each template rendered on one sample row (row i % n for template i), with the default
    seed."""
    rows = corpus_rows(project, task)
    if not rows:
        raise FlanzhError(f"{task.spec_label}: the bundled sample has no valid row to render; "
                          f"add rows to samples/{task.id}/")
    records = []
    for i, template in enumerate(compile_templates(task)):
        row = rows[i % len(rows)]
        inputs, targets = render_row(task, row, DEFAULT_SEED, template)
        records.append({"template_id": template.spec.id, "source_key": row[KEY],
                        "inputs": inputs, "targets": targets})
    return records


def golden_text(records: list[dict]) -> str:
    return json.dumps(records, ensure_ascii=False, indent=1) + "\n"


def golden_path(project: Project, task: Task) -> Path:
    return project.root / GOLDEN_DIR / f"{task.id}.json"


def write_golden(project: Project, task_ids: list[str]) -> list[Path]:
    """Write each task's golden file; the paths written."""
    tasks = [load_task(project, task_id) for task_id in task_ids]
    texts = [(golden_path(project, task), golden_text(golden_records(project, task)))
             for task in tasks]                  # render every task before writing any
    for path, text in texts:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return [path for path, _ in texts]


@dataclass
class Stale:
    """A task whose golden file does not match what its templates render now."""
    task_id: str
    file: str                              # relative to the project root
    missing: bool = False                  # no golden file at all
    changed: tuple[str, ...] = ()          # templates rendering other text (or on another row)
    new: tuple[str, ...] = ()              # templates the golden file does not have
    gone: tuple[str, ...] = ()             # templates the golden file has and the task does not

    def __str__(self) -> str:
        if self.missing:
            return f"{self.file}: no golden file; run `flanzh golden {self.task_id}` and review it"
        parts = [f"{label}: {', '.join(ids)}" for label, ids in (
            ("templates rendering differently", self.changed),
            ("templates not pinned yet", self.new),
            ("pinned templates no longer in the task", self.gone)) if ids]
        what = "; ".join(parts) or "the file differs only in template order or layout"
        return (f"{self.file}: {self.task_id}: {what}; if intended, run "
                f"`flanzh golden {self.task_id}` and review the diff")


def check_golden(project: Project, task_ids: list[str]) -> list[Stale]:
    """The tasks whose golden file is missing or differs from what they render now."""
    stale = []
    for task_id in task_ids:
        task = load_task(project, task_id)
        path = golden_path(project, task)
        shown = project.relative(path)
        records = golden_records(project, task)
        if not path.is_file():
            stale.append(Stale(task.id, shown, missing=True))
            continue
        try:
            pinned = json.loads(path.read_text("utf-8"))
            pinned = {r["template_id"]: r for r in pinned}
        except (ValueError, TypeError, KeyError) as exc:
            raise FlanzhError(f"{shown}: not a golden file ({exc}); run `flanzh golden "
                              f"{task.id}` to write it again") from None
        now = {r["template_id"]: r for r in records}
        if path.read_text("utf-8") == golden_text(records):
            continue
        entry = Stale(task.id, shown,
                      changed=tuple(t for t in now if t in pinned and now[t] != pinned[t]),
                      new=tuple(t for t in now if t not in pinned),
                      gone=tuple(t for t in pinned if t not in now))
        stale.append(entry)
    return stale
