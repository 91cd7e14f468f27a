"""``flanzh lint``: every check CI makes on specs, templates and samples, reported all at once as
``file:line: template 'id': problem``.

Beyond the schema and the declared variables: 10-20 templates per task; no two templates of a
task too alike (character 3-gram Jaccard of their fixed text); fixed text mostly Chinese; a task
with choices has templates with and without the options; every template renders every sample row
with a non-empty target and not the same output for all of them; a sample of 20-50 valid rows
with at least one row the build drops (or the spec's ``sample.no_drop_reason``); no TODO left
from ``flanzh new-task``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from jinja2.exceptions import SecurityError

from .quality import (Finding, MAX_GUESSABLE_LABELS, canned_findings, same_answer_findings,
                      static_findings)
from ..errors import FlanzhError, SpecError, TemplateError
from ..project import Project
from ..spec.specs import Task, load_task
from ..spec.yamlpos import YamlLines

MIN_TEMPLATES, MAX_TEMPLATES = 10, 20
MIN_SAMPLE_ROWS, MAX_SAMPLE_ROWS = 20, 50
SIMILARITY_THRESHOLD = 0.8
MIN_CHINESE_SHARE = 0.5

_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_SCHEMA_LINE = re.compile(r"^(?P<file>[^:]+?)(?::\d+)?: (?P<path>\$[^:]*): (?P<message>.*)$", re.S)
_TEMPLATE_LINE = re.compile(r"^(?P<file>[^:]+?): template '(?P<id>[^']+)': (?P<message>.*)$", re.S)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    template: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" template '{self.template}':" if self.template else ""
        return f"{where}:{who} {self.message}"


def _path_parts(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
            for p in p if p]


def fixed_text(source: str) -> str:
    """A template's own words: its text with jinja tags removed."""
    return _TAGS.sub(" ", source)


def _grams(text: str, n: int = 3) -> set[str]:
    text = re.sub(r"\s+", "", text)
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


def similarity(a: str, b: str) -> float:
    ga, gb = _grams(fixed_text(a)), _grams(fixed_text(b))
    return len(ga & gb) / len(ga | gb) if ga | gb else 1.0


def chinese_share(text: str) -> float:
    """CJK characters among the words of ``text``, counting a Chinese character and a Latin word
    alike (so a label such as "English:" in a translation prompt does not outweigh 中文)."""
    cjk, latin = len(_CJK.findall(text)), len(_LATIN_WORD.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 1.0


class _Locator:
    def __init__(self, task: Task | None, project: Project, task_id: str):
        self.spec_file = f"task_specs/{task_id}.yaml"
        self.templates_file = f"templates/{task_id}.yaml"
        self.spec_lines = YamlLines(project.specs_dir / f"{task_id}.yaml")
        self.template_lines = YamlLines(project.templates_dir / f"{task_id}.yaml")
        self.template_index = {}
        if task is not None:
            self.template_index = {t.id: i for i, t in enumerate(task.templates)}

    def template(self, template_id: str, message: str, part: str | None = None) -> Problem:
        index = self.template_index.get(template_id)
        path = ["templates", index] + ([part] if part else []) if index is not None else ["templates"]
        return Problem(self.templates_file, self.template_lines.line(path), message, template_id)

    def finding(self, finding: Finding) -> Problem:
        if finding.template is not None:
            return self.template(finding.template, finding.message, finding.part)
        if finding.in_spec and finding.message.startswith("$."):
            path = finding.message.split(":", 1)[0]
            return Problem(self.spec_file, self.spec_lines.line(_path_parts(path)), finding.message)
        return Problem(self.templates_file, None, finding.message)

    def from_text(self, text: str) -> Problem:
        """A problem message from load_task/compile_templates, located."""
        match = _TEMPLATE_LINE.match(text)
        if match:
            message = match["message"]
            part = message.split(":", 1)[0] if message.startswith(("input", "target")) else None
            return self.template(match["id"], message, part.split(" ")[0] if part else None)
        match = _SCHEMA_LINE.match(text)
        if match:
            lines = self.spec_lines if match["file"].startswith("task_specs/") else self.template_lines
            return Problem(match["file"], lines.line(_path_parts(match["path"])),
                           f"{match['path']}: {match['message']}")
        file, _, message = text.partition(": ")
        return Problem(file, None, message)


def _todo_problems(value, path: list, locator: _Locator) -> list[Problem]:
    if isinstance(value, str) and value.strip().startswith("TODO"):
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        return [Problem(locator.spec_file, locator.spec_lines.line(path),
                        f"{where}: still a placeholder: {value.strip()}")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _todo_problems(v, path + [k], locator)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _todo_problems(v, path + [i], locator)]
    return []


def _template_problems(task: Task, locator: _Locator) -> list[Problem]:
    problems = []
    count = len(task.templates)
    if not MIN_TEMPLATES <= count <= MAX_TEMPLATES:
        problems.append(Problem(locator.templates_file, locator.template_lines.line(["templates"]),
                                f"{count} templates; a task needs {MIN_TEMPLATES} to "
                                f"{MAX_TEMPLATES} hand-written templates"))
    for a, b in combinations(task.templates, 2):
        score = similarity(a.input + "\n" + a.target, b.input + "\n" + b.target)
        if score > SIMILARITY_THRESHOLD:
            problems.append(locator.template(
                b.id, f"too similar to '{a.id}' ({score:.2f} > {SIMILARITY_THRESHOLD}); vary the "
                      "wording, where the instruction sits, or the output form"))
    for template in task.templates:
        share = chinese_share(fixed_text(template.input))
        if share < MIN_CHINESE_SHARE:
            problems.append(locator.template(
                template.id, f"input's fixed text is {100 * share:.0f}% Chinese; write the "
                             "instruction in Chinese", "input"))
    if task.has_choices:
        shown = [t.choices_in_prompt for t in task.templates]
        if not any(shown):
            problems.append(Problem(locator.templates_file, None, "no template shows the options "
                                    "(choices_in_prompt); add at least one that does"))
        elif all(shown) and not (task.choices and len(task.choices) > MAX_GUESSABLE_LABELS):
            problems.append(Problem(locator.templates_file, None, "every template shows the "
                                    "options; add at least one that does not"))
    return problems


def _sample_problems(project: Project, task: Task, locator: _Locator, compiled) -> list[Problem]:
    from ..read.normalise import normalise
    from ..read.readers import KEY
    from ..render.checks import RESIDUE
    from ..render.templates import render_row, row_options
    from ..read.sources import SourceMode, missing_files, read_split

    mode = SourceMode()
    problems, rows = [], []
    corpus_splits = task.train_splits or task.eval_splits
    for split in task.train_splits + task.eval_splits:
        if split not in task.train_splits and missing_files(project, task, [split], mode):
            continue
        try:
            frame, _, _ = normalise(task, read_split(project, task, split, mode).frame, split)
        except FlanzhError as exc:
            problems.append(Problem(f"samples/{task.id}", None, str(exc)))
            continue
        rows += [(split, r) for r in frame.iter_rows(named=True)]
    corpus = [r for split, r in rows if split in corpus_splits]
    if not problems and not MIN_SAMPLE_ROWS <= len(corpus) <= MAX_SAMPLE_ROWS:
        problems.append(Problem(f"samples/{task.id}", None,
                                f"{len(corpus)} valid sample rows; bundle {MIN_SAMPLE_ROWS}-50 "
                                "rows in the source's raw format"))
    # each (template, row) is rendered once; the quality rules below read these outputs
    renders: dict[tuple[str, int], tuple[str, str]] = {}
    for template in compiled:
        outputs, failures = set(), []
        for _, row in rows:
            try:
                inputs, targets = render_row(task, row, 0, template)
                renders[template.spec.id, id(row)] = (inputs, targets)
            except Exception as exc:  # any render failure is the template's problem to report
                failures.append(f"row {row[KEY]}: {type(exc).__name__}: {exc}")
                if isinstance(exc, SecurityError):
                    break           # over a bound: every row would be, each taking time
                continue
            if not targets.strip() or not inputs.strip():
                failures.append(f"row {row[KEY]}: empty {'target' if inputs.strip() else 'input'}")
            elif RESIDUE.search(inputs + targets):
                failures.append(f"row {row[KEY]}: template syntax left in the output")
            elif template.spec.target_in_choices and task.has_choices \
                    and targets not in row_options(task, row, 0):
                failures.append(f"row {row[KEY]}: target {targets!r} is not one of the options; "
                                "set target_in_choices: false if that is intended")
            outputs.add((inputs, targets))
        for failure in failures[:3]:
            problems.append(locator.template(template.spec.id, f"fails on a sample {failure}"))
        if len(rows) > 1 and len(outputs) == 1:
            problems.append(locator.template(template.spec.id,
                                             "renders the same output for every sample row"))
    def rendered(spec, row):
        return renders.get((spec.id, id(row)))     # None: it failed, reported above

    corpus_rows = [r for split, r in rows if split in corpus_splits]
    problems += [locator.finding(f) for f in canned_findings(task, corpus_rows, rendered)]
    problems += [locator.finding(f) for f in same_answer_findings(task, corpus_rows, rendered)]
    return problems


# Counted but not drops of bad rows: the few-shot pool, the mixture's quota, rows left out by design.
NOT_DROPS = ("held_for_exemplars", "over_quota")


def sample_drops(project: Project, task: Task) -> Counter:
    """What a build of this task alone drops from its bundled sample (read, normalise,
    decontamination against its own evaluation splits, render, record checks, dedup within the
    task), by reason, leaving out the counts that are no bad row (exemplar pool, quota, out of
    scope by design). The policy is the project's mixture.yaml, else the default one, with
    decontamination on and benchmark splits included, so that a leaked evaluation item counts
    whatever the policy and an evaluation-only source's sample is built too."""
    from dataclasses import replace

    from ..build.pipeline import DEFAULT_SEED, build_task_alone
    from ..read.readers import OUT_OF_SCOPE
    from ..read.sources import SourceMode
    from ..spec.mixture import load_mixture

    policy = project.root / "mixture.yaml"
    mixture = load_mixture(policy if policy.is_file() else None)
    policy = {**mixture.policy, "benchmark_splits": "include",
              "decontamination": {**mixture.decontamination, "enabled": True}}
    mixture = replace(mixture, policy=policy)
    dropped = build_task_alone(project, task, DEFAULT_SEED, SourceMode(), mixture).dropped
    return Counter({reason: n for reason, n in dropped.items()
                    if reason not in NOT_DROPS and not reason.startswith(OUT_OF_SCOPE)})


def _drop_problems(project: Project, task: Task, locator: _Locator) -> list[Problem]:
    """CONTRIBUTING's rule: a sample has at least one row the pipeline drops, unless the spec
    says why the real source has none (``sample.no_drop_reason``)."""
    try:
        dropped = sample_drops(project, task)
    except FlanzhError as exc:
        return [Problem(f"samples/{task.id}", None, str(exc))]
    excused = (task.spec.get("sample") or {}).get("no_drop_reason")
    if not dropped and not excused:
        return [Problem(f"samples/{task.id}", None,
                        "no sample row is dropped by the pipeline; add one that reproduces a quirk "
                        "the real data has and the build drops (an exact duplicate, an empty text, "
                        "a label outside the map, ...), or, if the source has none, say why in "
                        f"{locator.spec_file} sample.no_drop_reason")]
    if dropped and excused:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items()))
        return [Problem(locator.spec_file, locator.spec_lines.line(["sample", "no_drop_reason"]),
                        f"$.sample.no_drop_reason: the pipeline drops sample rows ({counts}); "
                        "remove it")]
    return []


def lint_task(project: Project, task_id: str) -> list[Problem]:
    """Every problem of one task, located."""
    from ..render.templates import compile_templates

    try:
        task = load_task(project, task_id)
    except SpecError as exc:
        locator = _Locator(None, project, task_id)
        return [locator.from_text(p) for p in exc.problems]
    locator = _Locator(task, project, task_id)
    problems = _todo_problems(task.spec, [], locator)
    problems += [locator.template(t.id, "still a placeholder (TODO): write the instruction",
                                  "input")
                 for t in task.templates if "TODO" in t.input or "TODO" in t.target]
    try:
        compiled = compile_templates(task)
    except TemplateError as exc:
        problems += [locator.from_text(line) for line in str(exc).splitlines()]
        compiled = None
    problems += _template_problems(task, locator)
    problems += [locator.finding(f) for f in static_findings(task)]
    if compiled is not None:
        sample = _sample_problems(project, task, locator, compiled)
        problems += sample
        if not sample:
            problems += _drop_problems(project, task, locator)
    return problems


def lint(project: Project, task_ids: list[str]) -> list[Problem]:
    return [p for task_id in task_ids for p in lint_task(project, task_id)]
