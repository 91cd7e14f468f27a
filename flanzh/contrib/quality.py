"""Lint rules for what a fine-tuner would reject in a task's records, each in its general form so
a contributor cannot bring the fault back:

- ``answer_in_wording``: the input switches on the gold answer (an ``{% if %}`` or inline ``if``
  over a field the target is made from), so the question's wording gives the answer away.
- ``labels_unguessable``: a template asks for one of more than MAX_GUESSABLE_LABELS labels
  without showing them; a model cannot know strings such as 薅羊毛 or 交通运输、邮政、物流.
- ``canned_target``: several sample rows get the same target sentence, longer than a short
  verbaliser: a fixed explanation keyed on the answer that the data does not hold.
- ``options_flag``: the format tag must follow the rendering, both ways: an input that shows
  the options (``options`` through a display filter, or a spec's ``option_fields``, which print
  a row's own options laid out by the reader) has ``choices_in_prompt: true``, and one that sets
  it prints them (its records are tagged ``*_opt`` from that flag).
- ``cut_target``: a target is made from a field the length policy may cut (the record would
  teach a truncated text), or a summarisation task cuts the text its summary describes instead
  of dropping the row (``truncate.on_cut: drop``).
- ``same_answer``: more than three templates of a task give the same target on every sample row
  in the same format: near-paraphrases of one question (scoped: see ``same_answer_findings``).

Static rules read the template's jinja2 tree; the canned-target and same-answer rules render the
sample rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from jinja2 import meta, nodes

from ..render.sandbox import make_environment
from ..spec.specs import Task

MAX_GUESSABLE_LABELS = 20
VERBALISER_MAX_CHARS = 14
DISPLAY_FILTERS = ("abc", "abc_inline", "jiayi", "circled", "numbered", "dunhao", "huo", "lines",
                   "join")
SUMMARY_CATEGORIES = ("text_summarization",)


@dataclass(frozen=True)
class Finding:
    template: str | None      # template id, or None for the task/spec
    part: str | None          # "input" / "target" / None
    message: str
    in_spec: bool = False     # located in the spec rather than the templates file


def _names(node: nodes.Node) -> set[str]:
    """Variables an expression reads (find_all skips the node itself)."""
    found = [node, *node.find_all(nodes.Name)]
    return {n.name for n in found if isinstance(n, nodes.Name) and n.ctx == "load"}


def _branch_names(ast: nodes.Template) -> set[str]:
    """Fields an input's control flow switches on: the tests of ``{% if %}`` and inline ifs."""
    names: set[str] = set()
    for node in ast.find_all((nodes.If, nodes.CondExpr)):
        names |= _names(node.test)
    return names


def _printed(ast: nodes.Template) -> set[str]:
    """Variables whose values a template prints (not those it only tests)."""
    names: set[str] = set()
    for output in ast.find_all(nodes.Output):
        for child in output.nodes:
            if not isinstance(child, nodes.TemplateData):
                names |= _names(child)
    return names


def gold_fields(task: Task, target_ast: nodes.Template) -> set[str]:
    """The fields a template's answer is made from: the task's answer field and every field its
    target prints (names only tested by the target, and the options list, which carries
    distractors too, aside)."""
    gold = _printed(target_ast)
    if task.answer_field:
        gold.add(task.answer_field)
    return (gold - {"options"}) & set(task.fields)


def _printed_whole(ast: nodes.Template) -> set[str]:
    """Fields an input prints as they are (``{{ title }}``, ``{{ title | trim }}``)."""
    names = set()
    for output in ast.find_all(nodes.Output):
        for child in output.nodes:
            while isinstance(child, nodes.Filter):
                child = child.node
            if isinstance(child, nodes.Name):
                names.add(child.name)
    return names


def _kept_item_only(ast: nodes.Template, name: str, truncate: dict) -> bool:
    """Whether a template reads list field ``name`` only at the end the length policy keeps
    (``history[-1]`` under keep: tail): cuts remove whole items, so that item is never cut."""
    kept = -1 if truncate.get("keep", "head") == "tail" else 0
    subscripted = {id(node.node) for node in ast.find_all(nodes.Getitem)
                   if isinstance(node.node, nodes.Name) and node.node.name == name
                   and isinstance(node.arg, (nodes.Const, nodes.Neg))
                   and _const_index(node.arg) == kept}
    uses = [n for n in ast.find_all(nodes.Name) if n.name == name]
    return bool(uses) and all(id(n) in subscripted for n in uses)


def _const_index(node: nodes.Node):
    if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const):
        return -node.node.value
    return node.value if isinstance(node, nodes.Const) else None


def _shows_options(ast: nodes.Template) -> bool:
    """Whether the whole options list is printed (through a filter such as abc, or as is);
    one candidate taken from it (``options[0]``) is not the list."""
    for output in ast.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.Name) and child.name == "options":
                return True
    for node in ast.find_all(nodes.Filter):
        if node.name in DISPLAY_FILTERS and isinstance(node.node, nodes.Name) \
                and node.node.name == "options":
            return True
    return False


def static_findings(task: Task) -> list[Finding]:
    env = make_environment()
    findings: list[Finding] = []
    many_labels = task.choices is not None and len(task.choices) > MAX_GUESSABLE_LABELS
    cut_fields = {f.name for f in task.fields.values()
                  if f.truncate and f.truncate.get("on_cut", "shorten") != "drop"}
    for template in task.templates:
        try:
            input_ast, target_ast = env.parse(template.input), env.parse(template.target)
        except Exception:      # syntax errors are reported by compile_templates
            continue
        used_input = meta.find_undeclared_variables(input_ast)
        used_target = meta.find_undeclared_variables(target_ast)
        # a field the input prints whole is no secret: testing whether it is there is fine
        gold = gold_fields(task, target_ast) - _printed_whole(input_ast)
        switched = sorted(_branch_names(input_ast) & gold)
        # An inverted template takes the label as its input (write a positive review), which is
        # fine as long as its answer does not switch too: a branch with a fixed verdict is a
        # yes/no question whose answer is always the same.
        if template.inverted and not (_branch_names(target_ast) & gold):
            switched = []
        if switched:
            findings.append(Finding(template.id, "input", (
                f"the input's wording switches on {', '.join(switched)}, which the answer is made "
                "from, so the question gives the answer away; ask the same question of every row")))
        if many_labels and not template.choices_in_prompt and not template.inverted \
                and task.answer_field in _printed(target_ast):
            findings.append(Finding(template.id, "input", (
                f"asks for one of {len(task.choices)} labels without showing them; a model cannot "
                "guess label strings from so large a set: show the options ({{ options | ... }} "
                "with choices_in_prompt: true) or ask something else")))
        shown = _shows_options(input_ast) or bool(_printed(input_ast) & set(task.option_fields))
        if shown and not template.choices_in_prompt:
            what = "{{ options }}" if _shows_options(input_ast) else "the options (" + ", ".join(
                sorted(_printed(input_ast) & set(task.option_fields))) + ")"
            findings.append(Finding(template.id, "input", (
                f"the input shows {what} but choices_in_prompt is false, so its records "
                "would be tagged as having no options; set choices_in_prompt: true")))
        elif template.choices_in_prompt and not shown:
            findings.append(Finding(template.id, "input", (
                "choices_in_prompt is true but the input never prints the whole option list "
                "(one candidate such as options[0] is not the list), so its records would be "
                "tagged as having options; print them or set choices_in_prompt: false")))
        cut = sorted(name for name in used_target & cut_fields - used_input
                     if not _kept_item_only(target_ast, name, task.fields[name].truncate))
        if cut:
            findings.append(Finding(template.id, "target", (
                f"the target renders {', '.join(cut)}, which the length policy may cut: the record "
                "would teach a truncated text; make the target from a field that is kept whole, "
                "or set truncate.on_cut: drop on the field")))
    if task.category in SUMMARY_CATEGORIES:
        for name in sorted(cut_fields):
            findings.append(Finding(None, None, (
                f"$.fields.{name}.truncate: a summary describes the whole text, so cutting "
                f"{name} leaves targets that say what the input lost; set on_cut: drop"),
                in_spec=True))
    return findings


_CLAUSE = re.compile(r"[，。：；！？,:;]")


def _is_canned(target: str, inputs: set[str]) -> bool:
    """A verdict followed by a stock explanation: longer than a short verbaliser, a second clause
    of some length, one line (structured answers such as 人名：无 lines are data), and not text
    the input itself holds (a passage the answer completes)."""
    if len(target) <= VERBALISER_MAX_CHARS or "\n" in target or target[:1] in "{[":
        return False
    first = _CLAUSE.search(target)
    if first is None or len(target) - first.end() < 6:
        return False
    return not any(target[:8] in text for text in inputs)


def canned_findings(task: Task, rows: list[dict], rendered) -> list[Finding]:
    """Targets that repeat, word for word, across sample rows with different inputs and are longer
    than a short verbaliser: a fixed sentence keyed on the answer (``不合适，这句话和前面聊的内容
    对不上……``), not something the row's data says. ``rendered(template, row)`` gives
    ``(inputs, targets)`` or None."""
    findings = []
    for template in task.templates:
        if template.inverted:
            continue
        inputs_by_target: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            out = rendered(template, row)
            if out is not None:
                inputs_by_target[out[1]].add(out[0])
        for target, inputs in sorted(inputs_by_target.items()):
            if len(inputs) >= 2 and _is_canned(target, inputs) \
                    and target not in (task.choices or []):
                findings.append(Finding(template.id, "target", (
                    f"{len(inputs)} sample rows get the same target {target!r}: a fixed sentence "
                    "keyed on the answer trains empty justifications; answer with the verdict "
                    "alone, or take the explanation from the data")))
                break
    return findings


MAX_SAME_ANSWER = 3
# Tasks whose answer has one inherent form: the translation, the summary, the span, the reply,
# the question, the idiom, the corrected sentence. Their templates rightly share one target and
# differ in how they ask; the rule below would only push them to invent answer forms.
INHERENT_FORM_CATEGORIES = ("machine_translation", "text_summarization", "reading_comprehension",
                            "question_answering", "question_generation", "dialogue", "cloze_test",
                            "grammatical_error_correction")


def same_answer_findings(task: Task, rows: list[dict], rendered) -> list[Finding]:
    """``same_answer``: more than MAX_SAME_ANSWER templates of a task ask for the same thing in
    the same form, seen as giving the same target on every sample row under the same format
    (with or without options). Eleven templates that all want the advertising copy, or four that
    all want a bare equation, are one task reworded; the data offers more to ask (the category
    from the copy, the attributes as a list, the answer with its calculation, ...).

    Scope: tasks without a fixed label set whose category is not in INHERENT_FORM_CATEGORIES.
    A translation, summary, span or reply has one form by nature and would fail the rule for
    what it is. Label tasks are left out too: most of them have four or more templates that ask
    for the bare label with the options shown, differing in wording and option layout, which
    this rule cannot tell from rewording one question; near-paraphrased wording there is left to
    the similarity check and review. ``rendered(template, row)`` gives
    ``(inputs, targets)`` or None."""
    if task.choices is not None or task.category in INHERENT_FORM_CATEGORIES or len(rows) < 2:
        return []
    groups: dict[tuple, list[str]] = defaultdict(list)
    for template in task.templates:
        outputs = [rendered(template, row) for row in rows]
        targets = tuple(out[1] if out is not None else None for out in outputs)
        if None not in targets:
            groups[(targets, template.choices_in_prompt)].append(template.id)
    findings = []
    for ids in groups.values():
        if len(ids) > MAX_SAME_ANSWER:
            findings.append(Finding(ids[-1], "target", (
                f"{len(ids)} templates ({', '.join(ids)}) give the same target on every sample "
                f"row: they ask for the same answer in the same form (at most "
                f"{MAX_SAME_ANSWER}); ask for something else the data holds, or in another form")))
    return findings
