"""Load task specs and template files, validate them, and give them a typed shape.

Specs are found by scanning ``task_specs/*.yaml``; nothing is registered at import time.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..encoding import is_text_encoding, unknown_encoding
from ..errors import SpecError
from ..project import Project
from .schema import schema_problems

FLAT_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    source: str                 # column (dotted path into nested structs) in the reader's output
    type: str
    label_map: dict[str, str] | None = None
    optional: bool = False
    transform: tuple[str, ...] = ()
    truncate: dict | None = None               # {max_chars, keep}


@dataclass(frozen=True)
class TemplateSpec:
    id: str
    input: str
    target: str
    choices_in_prompt: bool
    target_in_choices: bool
    inverted: bool


@dataclass(frozen=True)
class Task:
    """A validated task: its spec and its templates."""

    id: str
    category: str
    name_zh: str
    spec: dict
    fields: dict[str, FieldSpec]
    templates: list[TemplateSpec]
    spec_path: Path
    templates_path: Path
    spec_label: str                           # paths as shown in messages
    templates_label: str
    spec_sha256: str
    templates_sha256: str
    choices: list[str] | None = None          # fixed answer space
    choices_field: str | None = None          # per-row answer space
    answer_field: str | None = None
    max_options: int | None = None
    # fields that print the row's options, laid out by the reader (for tasks without choices)
    option_fields: tuple[str, ...] = ()

    @property
    def source(self) -> dict:
        return self.spec["source"]

    @property
    def has_choices(self) -> bool:
        return self.choices is not None or self.choices_field is not None

    @property
    def train_splits(self) -> list[str]:
        return list(self.spec["splits"]["train"])

    @property
    def eval_splits(self) -> list[str]:
        return list(self.spec["splits"].get("eval", []))

    @property
    def benchmark_splits(self) -> list[str]:
        """Splits that are a published benchmark's evaluation set (see mixture.corpus_splits)."""
        return list(self.spec["splits"].get("benchmark", []))

    @property
    def text_fields(self) -> list[str]:
        """The fields whose text is the row's source text (dedup, decontamination)."""
        if "text_fields" in self.spec:
            return list(self.spec["text_fields"])
        return [f.name for f in self.fields.values()
                if f.label_map is None and f.type in ("str", "list[str]")]

    @property
    def limits(self) -> dict:
        return self.spec.get("limits", {})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# libyaml's loader when PyYAML was built with it (about 10x faster; same documents, same errors)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path, label: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise SpecError([f"{label}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([f"{label}: byte {exc.start}: not UTF-8; save the file as UTF-8"]) from None


def task_ids(project: Project) -> list[str]:
    """Every task id, from the spec files present, sorted."""
    return sorted(p.stem for p in project.specs_dir.glob("*.yaml"))


def _field_specs(raw_fields: dict) -> dict[str, FieldSpec]:
    fields = {}
    for name, value in raw_fields.items():
        if isinstance(value, str):
            fields[name] = FieldSpec(name=name, source=name, type=value)
        else:
            label_map = value.get("map")
            fields[name] = FieldSpec(
                name=name,
                source=value.get("from", name),
                type=value.get("type", "str"),
                label_map={str(k): v for k, v in label_map.items()} if label_map else None,
                optional=value.get("optional", False),
                transform=tuple(value.get("transform", ())),
                truncate=value.get("truncate"),
            )
    return fields


def unsafe_path(path: str) -> str | None:
    """Why ``path`` (a source file, relative to the task's data folder) could leave that folder,
    or None when it cannot: absolute paths, drive letters, ``~`` and ``..`` are refused."""
    if any(ord(c) < 32 for c in path):
        return "contains a control character"
    if "\\" in path:
        return "uses a backslash; write the path with '/'"
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "is absolute"
    if ".." in path.split("/"):
        return "goes up a folder with '..'"
    return None


def _file_entries(entry, where: str):
    """(JSON path, file name) of one split's source.files entry."""
    if isinstance(entry, str):
        yield where, entry
    elif isinstance(entry, list):
        yield from ((f"{where}[{i}]", name) for i, name in enumerate(entry) if isinstance(name, str))
    elif isinstance(entry, dict):
        yield from ((f"{where}.{part}", name) for part, name in entry.items()
                    if isinstance(name, str))


def _path_problems(source: dict, spec_label: str, task_id: str) -> list[str]:
    """Source paths must stay inside the task's data folder (samples/<id>/ or
    --data-dir/<id>/): a spec is contributed text and must not read other local files."""
    problems = []
    folder = f"samples/{task_id}/ (or --data-dir/{task_id}/)"
    files = source.get("files") if isinstance(source.get("files"), dict) else {}
    for split, entry in files.items():
        for where, name in _file_entries(entry, f"$.source.files.{split}"):
            why = unsafe_path(name)
            if why:
                problems.append(f"{spec_label}: {where}: '{name}' {why}; source files must stay "
                                f"inside the task's data folder: give a path relative to {folder}")
    options = source.get("reader_options")
    for key, value in (options.items() if isinstance(options, dict) else ()):
        if not (key.endswith("_dir") and isinstance(value, str)):
            continue
        for split, entry in files.items():
            for _, name in _file_entries(entry, split):
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), value))
                if value.startswith(("/", "~")) or "\\" in value or joined.split("/")[0] == "..":
                    problems.append(f"{spec_label}: $.source.reader_options.{key}: '{value}' "
                                    f"(relative to {name}) leaves the task's data folder; it "
                                    f"must name a folder inside {folder}")
                    break
            else:
                continue
            break
    return problems


def _semantic_problems(spec: dict, templates_doc: dict | None, spec_label: str, tpl_label: str,
                       expected_id: str) -> list[str]:
    """Cross-field rules a JSON Schema cannot express."""
    from ..read.readers import broken_readers, reader_names  # local: keeps importing specs cheap

    problems = []
    if spec.get("id") != expected_id:
        problems.append(f"{spec_label}: $.id: '{spec.get('id')}' does not match the file name; "
                        f"use id: {expected_id}")
    source = spec.get("source", {})
    fmt = source.get("format")
    known = sorted(set(FLAT_FORMATS) | set(reader_names()))
    if fmt is not None and fmt not in known:
        broken = "".join(f"; reader module flanzh/read/readers/{name}.py failed to import ({why})"
                         for name, why in broken_readers().items())
        problems.append(f"{spec_label}: $.source.format: unknown format '{fmt}'; "
                        f"known: {', '.join(known)}{broken}")
    problems += _path_problems(source, spec_label, expected_id)
    encoding = source.get("encoding")
    if isinstance(encoding, str) and not is_text_encoding(encoding):
        problems.append(f"{spec_label}: $.source.encoding: {unknown_encoding(encoding)}")
    files = source.get("files", {})
    for kind in ("train", "eval", "benchmark"):
        for i, split in enumerate(spec.get("splits", {}).get(kind, [])):
            if split not in files:
                problems.append(f"{spec_label}: $.splits.{kind}[{i}]: split '{split}' has no entry "
                                f"in source.files (have: {', '.join(files) or 'none'})")
    fields = spec.get("fields", {})
    choices = spec.get("choices")
    if isinstance(choices, dict) and choices.get("field") not in fields:
        problems.append(f"{spec_label}: $.choices.field: '{choices.get('field')}' is not a declared field")
    answer_field = spec.get("answer_field", "label" if choices is not None else None)
    if answer_field is not None and answer_field not in fields:
        problems.append(f"{spec_label}: $.answer_field: '{answer_field}' is not a declared field; "
                        "set answer_field to the field holding the gold answer")
    for i, name in enumerate(spec.get("text_fields", [])):
        if name not in fields:
            problems.append(f"{spec_label}: $.text_fields[{i}]: '{name}' is not a declared field")
    problems += _compared_field_problems(spec, fields, spec_label)
    for i, name in enumerate(spec.get("option_fields", [])):
        if name not in fields:
            problems.append(f"{spec_label}: $.option_fields[{i}]: '{name}' is not a declared field")
    if spec.get("max_options") is not None and choices is None:
        problems.append(f"{spec_label}: $.max_options: the task declares no choices")
    if isinstance(choices, list) and answer_field in fields:
        label_map = fields[answer_field].get("map") if isinstance(fields[answer_field], dict) else None
        if label_map:
            stray = sorted(set(label_map.values()) - set(choices))
            if stray:
                problems.append(f"{spec_label}: $.fields.{answer_field}.map: values {stray} are not "
                                "in choices")
    if templates_doc is not None:
        if templates_doc.get("task") != expected_id:
            problems.append(f"{tpl_label}: $.task: '{templates_doc.get('task')}' does not match the "
                            f"file name; use task: {expected_id}")
        seen = set()
        for i, template in enumerate(templates_doc.get("templates", [])):
            tid = template.get("id")
            if tid in seen:
                problems.append(f"{tpl_label}: $.templates[{i}].id: duplicate template id '{tid}'")
            seen.add(tid)
            if template.get("choices_in_prompt") and choices is None \
                    and not spec.get("option_fields"):
                problems.append(f"{tpl_label}: $.templates[{i}].choices_in_prompt: the task declares "
                                "no choices and no option_fields")
    return problems


def _compared_field_problems(spec: dict, fields: dict, spec_label: str) -> list[str]:
    """decontamination.fields: declared text fields; a [-k:] tail only on list fields."""
    problems = []
    for i, entry in enumerate((spec.get("decontamination") or {}).get("fields", [])):
        name, _, tail = entry.partition("[")
        field = fields.get(name)
        if field is None:
            problems.append(f"{spec_label}: $.decontamination.fields[{i}]: '{name}' is not a "
                            "declared field")
            continue
        kind = field if isinstance(field, str) else field.get("type", "str")
        if kind not in ("str", "list[str]"):
            problems.append(f"{spec_label}: $.decontamination.fields[{i}]: '{name}' is {kind}; "
                            "compare text fields (str or list[str])")
        elif tail and kind != "list[str]":
            problems.append(f"{spec_label}: $.decontamination.fields[{i}]: '{entry}' takes the "
                            f"last items of a list, but '{name}' is str; write '{name}'")
    return problems


def load_task(project: Project, task_id: str) -> Task:
    """Load and validate one task's spec and template file; raise SpecError listing every problem."""
    spec_path = project.specs_dir / f"{task_id}.yaml"
    tpl_path = project.templates_dir / f"{task_id}.yaml"
    spec_label, tpl_label = project.relative(spec_path), project.relative(tpl_path)
    if not spec_path.is_file():
        raise SpecError([f"{spec_label}: no such task spec; known tasks: "
                         f"{', '.join(task_ids(project)) or 'none'}"])
    problems: list[str] = []
    spec = _load_yaml(spec_path, spec_label)
    if not isinstance(spec, dict):
        raise SpecError([f"{spec_label}: $: expected a mapping at the top level"])
    problems += schema_problems(spec, "task_spec", spec_label)
    templates_doc = None
    if not tpl_path.is_file():
        problems.append(f"{tpl_label}: missing; every task needs a template file")
    else:
        templates_doc = _load_yaml(tpl_path, tpl_label)
        if not isinstance(templates_doc, dict):
            problems.append(f"{tpl_label}: $: expected a mapping with task and templates")
            templates_doc = None
        else:
            problems += schema_problems(templates_doc, "templates", tpl_label)
    if not problems:
        problems += _semantic_problems(spec, templates_doc, spec_label, tpl_label, task_id)
    if problems:
        raise SpecError(problems)

    choices = spec.get("choices")
    has_choices = choices is not None
    templates = [
        TemplateSpec(
            id=t["id"],
            input=t["input"],
            target=t["target"],
            choices_in_prompt=t.get("choices_in_prompt", False),
            target_in_choices=t.get("target_in_choices", has_choices and not t.get("inverted", False)),
            inverted=t.get("inverted", False),
        )
        for t in templates_doc["templates"]
    ]
    return Task(
        id=task_id,
        category=spec["category"],
        name_zh=spec["name_zh"],
        spec=spec,
        fields=_field_specs(spec["fields"]),
        templates=templates,
        spec_path=spec_path,
        templates_path=tpl_path,
        spec_label=spec_label,
        templates_label=tpl_label,
        spec_sha256=_sha256(spec_path),
        templates_sha256=_sha256(tpl_path),
        choices=list(choices) if isinstance(choices, list) else None,
        choices_field=choices["field"] if isinstance(choices, dict) else None,
        answer_field=spec.get("answer_field", "label" if has_choices else None),
        max_options=spec.get("max_options"),
        option_fields=tuple(spec.get("option_fields", ())),
    )


def load_tasks(project: Project, only: list[str] | None = None) -> list[Task]:
    """Load the named tasks (default: all), collecting problems across every file before raising."""
    ids = task_ids(project) if not only else only
    tasks, problems = [], []
    for task_id in ids:
        try:
            tasks.append(load_task(project, task_id))
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return tasks
