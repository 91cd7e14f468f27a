"""Render real sample rows for a contributor to read (``flanzh preview``)."""

from __future__ import annotations

from ..errors import TemplateError
from ..hashing import pick
from ..project import Project
from ..read.normalise import normalise
from ..read.readers import KEY
from ..read.sources import SourceMode, read_split
from ..render.templates import compile_templates, render_row
from ..spec.specs import load_task


def preview_rows(project: Project, task_id: str, *, n: int, template_id: str | None, seed: int,
                 mode: SourceMode = SourceMode()) -> list[dict]:
    """The first ``n`` valid sample rows of the first train split, each rendered with the given
    template, or with the template the build would pick for it."""
    task = load_task(project, task_id)
    compiled = compile_templates(task)
    if template_id is not None:
        chosen = [c for c in compiled if c.spec.id == template_id]
        if not chosen:
            raise TemplateError(f"{task.templates_label}: no template '{template_id}'; have: "
                                f"{', '.join(c.spec.id for c in compiled)}")
    split = (task.train_splits or task.eval_splits)[0]    # evaluation-only sources: their eval rows
    frame, _, _ = normalise(task, read_split(project, task, split, mode).frame, split)
    rows = []
    for row in frame.head(n).iter_rows(named=True):
        template = chosen[0] if template_id else compiled[
            pick(seed, task.id, row[KEY], "template", len(compiled))]
        inputs, targets = render_row(task, row, seed, template)
        rows.append({"source_key": row[KEY], "template_id": template.spec.id,
                     "format": template.format, "inputs": inputs, "targets": targets})
    return rows
