"""``flanzh new-task``: the three files of a new task, with placeholders that ``flanzh lint``
reports until they are filled in."""

from __future__ import annotations

import re

from ..errors import BuildError
from ..project import Project
from ..spec.schema import load_schema
from ..spec.specs import FLAT_FORMATS

_EXTENSION = {"csv": "csv", "tsv": "tsv", "parquet": "parquet"}

_FILES = """\
  files: {{train: train.{ext}}}        # under <data dir>/{id}/, as the upstream download names them
"""
_FIELDS = """\
fields:                                 # what templates may use; label maps verbalise labels
  text: str
  # label: {{from: label, map: {{"0": 负面, "1": 正面}}}}
# choices: [正面, 负面]                  # for classification tasks
"""
# lines_by_label: one text per line, one file per label; the part name is the label.
_LABEL_PARTS = ("pos", "neg")
_FILES_BY_LABEL = """\
  files: {{train: {{pos: pos.txt, neg: neg.txt}}}}   # one text per line, one file per label, under
                                        # <data dir>/{id}/; the part name (pos, neg) is the label
"""
_FIELDS_BY_LABEL = """\
fields:                                 # the reader gives text (the line) and label (the part name)
  text: str
  label: {{from: label, map: {{pos: "TODO: 正面", neg: "TODO: 负面"}}}}
choices: ["TODO: 正面", "TODO: 负面"]     # the label map's values
"""

SPEC = """\
# TODO: describe the raw upstream format here: file names, one example record, what is n/v.
id: {id}
category: {category}
name_zh: "TODO: 任务的中文名"
source:
  dataset: "TODO: the source dataset's name"
  format: {format}
  encoding: utf-8
{files}  download: "TODO: where a user gets the raw files (URL; say if a login is needed)"
  license: "TODO: the source's licence, or n/v"
  citation: "TODO: a bibtex entry for the source"
{fields}splits: {{train: [train]}}                # add eval: [validation] when there is an eval split
mixture: {{cap: 30000}}
"""

TEMPLATES = """\
task: {id}
# 10-20 hand-written Chinese templates. Vary the wording, where the instruction sits (before or
# after the text), how options are shown ({{{{ options | abc }}}}, jiayi, circled, dunhao, ...), and
# the output form; one or two inverted templates where the task allows. Examples:
#
#  - id: {id}_02
#    choices_in_prompt: true
#    input: |
#      {{{{ text }}}}
#      这段话的情感倾向是{{{{ options | huo }}}}？
#    target: "{{{{ label }}}}"
#  - id: {id}_03
#    inverted: true
#    input: |
#      请写一句{{{{ label }}}}的评价。
#    target: "{{{{ text }}}}"
templates:
  - id: {id}_01
    input: |
      TODO: 用中文写下指令。
      {{{{ text }}}}
    target: "{{{{ text }}}}"
"""


def new_task(project: Project, task_id: str, category: str, fmt: str) -> list[str]:
    """Write the spec, template file and an empty sample for ``task_id``; return their paths."""
    from ..read.readers import reader_names

    schema = load_schema("task_spec")
    if not re.fullmatch(schema["properties"]["id"]["pattern"], task_id):
        raise BuildError(f"task id '{task_id}' must look like <type>_<name> in lower case, "
                         "e.g. senti_weibo")
    categories = schema["properties"]["category"]["enum"]
    if category not in categories:
        raise BuildError(f"unknown category '{category}'; use one of: {', '.join(categories)}")
    formats = sorted(set(FLAT_FORMATS) | set(reader_names()))
    if fmt not in formats:
        raise BuildError(f"unknown format '{fmt}'; use one of: {', '.join(formats)}")
    spec = project.specs_dir / f"{task_id}.yaml"
    templates = project.templates_dir / f"{task_id}.yaml"
    by_label = fmt == "lines_by_label"
    folder = project.samples_dir / task_id
    samples = ([folder / f"{part}.txt" for part in _LABEL_PARTS] if by_label
               else [folder / f"train.{_EXTENSION.get(fmt, 'json')}"])
    existing = [p for p in (spec, templates, folder) if p.exists()]
    if existing:
        raise BuildError(f"task {task_id} already exists ({', '.join(project.relative(p) for p in existing)})")
    values = {"id": task_id, "category": category, "format": fmt, "ext": samples[0].suffix[1:]}
    values["files"] = (_FILES_BY_LABEL if by_label else _FILES).format(**values)
    values["fields"] = (_FIELDS_BY_LABEL if by_label else _FIELDS).format(**values)
    templates.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.format(**values), "utf-8")
    templates.write_text(TEMPLATES.format(**values), "utf-8")
    folder.mkdir(parents=True)
    for sample in samples:
        sample.write_text("", "utf-8")
    return [project.relative(p) for p in (spec, templates, *samples)]
