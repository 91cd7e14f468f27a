"""Hostile input is refused: source paths that leave the task's data folder, manifests that name
files outside the built folder, tokens echoed back by the hub, and templates that try to run
without bound or reach Python (issue 19, Security)."""

import os

import pytest
import yaml

from conftest import run_main
from flanzh.build.pipeline import build
from flanzh.contrib.lint import lint
from flanzh.errors import SourceError, SpecError
from flanzh.read.sources import SourceMode, read_split
from flanzh.spec.specs import load_task


def edit_spec(project, change):
    path = project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    change(spec)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")


def run_cli(args, monkeypatch):
    """The real entry point: (exit code, stdout + stderr)."""
    return run_main(args, monkeypatch)


# 1. source paths ---------------------------------------------------------------------------

@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text('{"sentence1": "口令", "sentence2": "hunter2", "label": "1"}\n', "utf-8")
    return path


@pytest.mark.parametrize("entry, where, why", [
    ("../../secret.txt", "$.source.files.train", "goes up a folder with '..'"),
    ("ABS", "$.source.files.train", "is absolute"),
    (["train.json", "../x/../../secret.txt"], "$.source.files.train[1]",
     "goes up a folder with '..'"),
    ({"data": "~/secret.txt"}, "$.source.files.train.data", "is absolute"),
    ("sub\\..\\..\\secret.txt", "$.source.files.train", "uses a backslash; write the path with '/'"),
    ("train.json\x00.txt", "$.source.files.train", "contains a control character"),
])
def test_source_paths_outside_the_data_folder_are_refused_at_validate(mini_project, secret,
                                                                      entry, where, why):
    entry = str(secret) if entry == "ABS" else entry
    edit_spec(mini_project, lambda s: s["source"]["files"].update(train=entry))
    shown = entry if isinstance(entry, str) else (
        entry[1] if isinstance(entry, list) else entry["data"])
    expected = (f"task_specs/sim_afqmc.yaml: {where}: '{shown}' {why}; source files must stay "
                "inside the task's data folder: give a path relative to samples/sim_afqmc/ "
                "(or --data-dir/sim_afqmc/)")
    with pytest.raises(SpecError) as error:
        load_task(mini_project, "sim_afqmc")
    assert error.value.problems == [expected]
    # lint says the same, with the line of the spec
    problems = [str(p) for p in lint(mini_project, ["sim_afqmc"])]
    assert len(problems) == 1 and problems[0].startswith("task_specs/sim_afqmc.yaml:")
    assert problems[0].endswith(f": {where}: '{shown}' {why}; source files must stay inside the "
                                "task's data folder: give a path relative to samples/sim_afqmc/ "
                                "(or --data-dir/sim_afqmc/)")
    assert problems[0].split(":")[1].isdigit()


def test_cli_build_never_writes_a_file_outside_the_data_folder(mini_project, secret, monkeypatch):
    edit_spec(mini_project, lambda s: s["source"]["files"].update(train="../../secret.txt"))
    out = mini_project.root / "out"
    code, text = run_cli(["--root", str(mini_project.root), "build", "--out", str(out)],
                         monkeypatch)
    assert code == 1
    assert "Error: task_specs/sim_afqmc.yaml: $.source.files.train: '../../secret.txt' goes up" \
        in text
    assert "hunter2" not in text and not out.exists()


def test_a_reader_option_folder_outside_the_data_folder_is_refused(mini_project):
    edit_spec(mini_project, lambda s: s["source"].update(reader_options={"evidence_dir": "../.."}))
    with pytest.raises(SpecError) as error:
        load_task(mini_project, "sim_afqmc")
    assert error.value.problems == [
        "task_specs/sim_afqmc.yaml: $.source.reader_options.evidence_dir: '../..' (relative to "
        "train.json) leaves the task's data folder; it must name a folder inside "
        "samples/sim_afqmc/ (or --data-dir/sim_afqmc/)"]


@pytest.mark.parametrize("mode", ["samples", "data_dir"])
def test_a_symlink_in_the_data_folder_pointing_outside_is_refused_when_read(
        mini_project, secret, tmp_path, mode):
    folder = mini_project.samples_dir / "sim_afqmc"
    if mode == "data_dir":
        data = tmp_path / "data"
        (data / "sim_afqmc").mkdir(parents=True)
        for name in ("train.json", "dev.json"):
            (data / "sim_afqmc" / name).write_bytes((folder / name).read_bytes())
        folder, source = data / "sim_afqmc", SourceMode("data_dir", data)
    else:
        source = SourceMode()
    (folder / "train.json").unlink()
    os.symlink(secret, folder / "train.json")
    task = load_task(mini_project, "sim_afqmc")
    with pytest.raises(SourceError) as error:
        read_split(mini_project, task, "train", source)
    assert str(error.value) == (
        f"task sim_afqmc: {folder / 'train.json'} resolves to {secret}, outside the task's data "
        f"folder {folder.resolve()}/; source files (and symlinks among them) must stay inside it; "
        "fix source.files in task_specs/sim_afqmc.yaml or the link")
    with pytest.raises(SourceError):
        build(mini_project, tmp_path / "out", mode=source)
    assert not (tmp_path / "out").exists()


def test_a_symlink_that_stays_inside_the_data_folder_is_read(mini_project, tmp_path):
    folder = mini_project.samples_dir / "sim_afqmc"
    (folder / "real").mkdir()
    (folder / "train.json").rename(folder / "real" / "train.json")
    os.symlink(folder / "real" / "train.json", folder / "train.json")
    task = load_task(mini_project, "sim_afqmc")
    assert read_split(mini_project, task, "train", SourceMode()).frame.height > 0


def test_an_xqa_document_path_from_the_data_may_not_leave_the_evidence_folder(tmp_path, secret):
    import shutil

    from conftest import REPO
    from flanzh.project import Project

    for folder in ("task_specs", "templates"):
        (tmp_path / folder).mkdir(exist_ok=True)
        shutil.copy(REPO / folder / "qa_xqa_zh.yaml", tmp_path / folder / "qa_xqa_zh.yaml")
    shutil.copytree(REPO / "samples" / "qa_xqa_zh", tmp_path / "samples" / "qa_xqa_zh")
    dev = tmp_path / "samples" / "qa_xqa_zh" / "qa" / "dev.json"
    lines = dev.read_text("utf-8").splitlines()
    lines[0] = lines[0].replace('["dev_0", "dev_0_0.txt"]', '["../../..", "secret.txt"]')
    dev.write_text("\n".join(lines) + "\n", "utf-8")
    project = Project(tmp_path)
    with pytest.raises(SourceError) as error:
        read_split(project, load_task(project, "qa_xqa_zh"), "dev", SourceMode())
    evidence = (tmp_path / "samples" / "qa_xqa_zh" / "evidence").resolve()
    assert str(error.value) == (f"{dev}: line 1: document ../../../secret.txt points outside the "
                                f"evidence folder {evidence}; refused. Expected [subdir, filename] "
                                "pairs naming files inside it")


# 4. templates -------------------------------------------------------------------------------

import dataclasses  # noqa: E402
import polars as pl  # noqa: E402
import time  # noqa: E402

import jinja2  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from jinja2.exceptions import SecurityError  # noqa: E402

from conftest import PROJECT  # noqa: E402
from flanzh.errors import TemplateError  # noqa: E402
from flanzh.read.normalise import normalise  # noqa: E402
from flanzh.render.sandbox import (MAX_DEPTH, MAX_RENDER_SECONDS, MAX_TEXT_CHARS, OVER_OUTPUT,
                                   OVER_TEXT, make_environment, render_bounded)
from flanzh.render.templates import _ROW_ERRORS, compile_templates, render_row  # noqa: E402
from flanzh.spec.specs import TemplateSpec  # noqa: E402

LABEL = "templates/sim_afqmc.yaml: template 't'"
TASK = load_task(PROJECT, "sim_afqmc")
ROWS = list(normalise(TASK, read_split(PROJECT, TASK, "train", SourceMode()).frame,
                      "train")[0].iter_rows(named=True))


def one_template(source: str, target: str = "{{ label }}"):
    """sim_afqmc with one template; compile_templates' result (raises TemplateError)."""
    template = TemplateSpec("t", source, target, choices_in_prompt="options" in source,
                            target_in_choices=True, inverted=False)
    task = dataclasses.replace(TASK, templates=[template])
    return task, compile_templates(task)[0]


def refused(source: str) -> list[str]:
    with pytest.raises(TemplateError) as error:
        one_template(source)
    return str(error.value).splitlines()


def set_template(project, index, **fields):
    path = project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    document["templates"][index].update(fields)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


@pytest.mark.parametrize("source, reason", [
    ("{% set s = sentence1 * 1000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
     "{{ sentence1 }}", "rendering took over 2 s, the limit per template and row"),
    ("{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{{ s }}{% endfor %}{% endfor %}"
     "{{ sentence1 }}",
     OVER_OUTPUT),
    ("{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% if a == b %}{% endif %}"
     "{% endfor %}{% endfor %}{{ sentence1 }}",
     "rendering took over 2 s, the limit per template and row"),
])
def test_nested_loops_stop_at_the_time_bound_with_the_template_named(mini_project, tmp_path,
                                                                     source, reason):
    set_template(mini_project, 1, input=source)
    start = time.monotonic()
    with pytest.raises(TemplateError) as error:
        build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    assert time.monotonic() - start < MAX_RENDER_SECONDS + 15
    message = str(error.value)
    assert message.startswith("templates/sim_afqmc.yaml: template 'sim_afqmc_02': refused while "
                              "rendering row ")
    assert message.endswith(f": {reason}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source, reason", [
    # chained ** (left to right in jinja2): 2**64 is fine, its 64th power is not
    ("{{ 2 ** 64 ** 64 ** 64 }}", "'**' would build a number of over 4096 bits"),
    ("{% set a = 3 ** 60 %}{% set b = a * a %}{% set c = b * b %}{% set d = c * c %}"
     "{% set e = d * d %}{% set f = e * e %}{% set g = f * f %}{{ g }}", "'*' would build a number of over 4096 bits"),
    # ~ doubling
    ("{% set a = sentence1 * 1000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}"
     "{% set e = d ~ d %}{% set f = e ~ e %}{% set g = f ~ f %}{% set h = g ~ g %}"
     "{% set i = h ~ h %}{% set j = i ~ i %}{% set k = j ~ j %}{{ k ~ k }}",
     f"'~' {OVER_TEXT}"),
    ("{% set a = sentence1 * 1000 %}{% set b = a + a %}{% set c = b + b %}{% set d = c + c %}"
     "{% set e = d + d %}{% set f = e + e %}{% set g = f + f %}{% set h = g + g %}"
     "{% set i = h + h %}{% set j = i + i %}{% set k = j + j %}{{ k + k }}",
     f"'+' {OVER_TEXT}"),
    # replace multiplying the text
    ("{{ (sentence1 * 1000) | replace(sentence1[0], sentence1 * 1000) }}",
     f"filter 'replace' {OVER_TEXT}"),
    ("{{ (['a'] * 100000) | join(sentence1 * 1000) }}",
     f"filter 'join' {OVER_TEXT}"),
    ("{{ [sentence1 * 1000] * 100000 }}",
     f"'*' {OVER_TEXT}"),
    # % padding
    ("{{ '%999999999s' % sentence1 }}", "'%' may not format text in templates; join text with '~'"),
    ("{% for i in [1] * 100000 %}{{ sentence1 * 1000 }}{% endfor %}",
     OVER_OUTPUT),
])
def test_time_and_memory_bombs_fail_the_build_naming_the_template(mini_project, tmp_path,
                                                                  source, reason):
    import resource

    set_template(mini_project, 1, input=source + "{{ sentence1 }}")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(TemplateError) as error:
        build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    assert time.monotonic() - start < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000   # KiB
    message = str(error.value)
    assert message.startswith("templates/sim_afqmc.yaml: template 'sim_afqmc_02': refused while "
                              "rendering row ")
    assert message.endswith(f": {reason}")
    assert not (tmp_path / "out").exists()


def test_the_size_bound_grows_with_the_row_so_long_data_is_not_a_template_error():
    assert OVER_TEXT == ("would build more text than allowed per template and row (1,000,000 "
                         "characters plus 4 times the row's own text)")
    assert OVER_OUTPUT == ("the output would be longer than allowed per template and row "
                           "(1,000,000 characters plus 4 times the row's own text)")
    task, compiled = one_template("{{ sentence1 ~ sentence1 }}")
    row = {**ROWS[0], "sentence1": "长" * 2_000_000}
    inputs, _ = render_row(task, row, 0, compiled)
    assert len(inputs) == 4_000_000
    task, compiled = one_template("{{ " + " ~ ".join(["sentence1"] * 10) + " }}")
    with pytest.raises(SecurityError, match="'~' would build more text"):
        render_row(task, {**ROWS[0], "sentence1": "长" * 300_000}, 0, compiled)


def test_deeply_nested_templates_are_refused_at_validate_in_one_line(mini_project, monkeypatch):
    set_template(mini_project, 1, input="{{ " + "(" * 3000 + "sentence1" + ")" * 3000 + " }}")
    set_template(mini_project, 2, input="{{ sentence1 }}" + "{% if sentence1 %}" * 40 + "x"
                 + "{% endif %}" * 40, choices_in_prompt=False)
    code, text = run_cli(["--root", str(mini_project.root), "validate"], monkeypatch)
    assert code == 1
    too_deep = (f"refused: nested more than {MAX_DEPTH} levels deep (brackets, filters, "
                "conditions, loops); write it flatter, e.g. with {% set %}")
    assert text == (f"Error: templates/sim_afqmc.yaml: template 'sim_afqmc_02': input: {too_deep}\n"
                    f"Error: templates/sim_afqmc.yaml: template 'sim_afqmc_03': input: {too_deep}\n")
    problems = [str(p) for p in lint(mini_project, ["sim_afqmc"])]
    assert any(p.endswith(f"template 'sim_afqmc_02': input: {too_deep}") for p in problems)


@pytest.mark.parametrize("source, problems", [
    ("{% set u = sentence1.upper %}{{ u() }}",
     ["input: refused: 'sentence1' is a str field; it has no attribute 'upper'",
      "input: refused: calls are not allowed in templates; use a filter instead"]),
    ("{{ sentence1['upper']() }}",
     ["input: refused: calls are not allowed in templates; use a filter instead",
      "input: refused: 'sentence1' is a str field; it has no item 'upper'"]),
    ("{{ [sentence1.nofield] }}",
     ["input: refused: 'sentence1' is a str field; it has no attribute 'nofield'"]),
    ("{{ options.pop }}{{ options | abc }}",
     ["input: refused: 'options' is a list[str] field; it has no attribute 'pop'"]),
    ("{{ options['pop'] }}{{ options | abc }}",
     ["input: refused: 'options' is a list[str] field; it has no item 'pop'"]),
    ("{{ sentence1 | random }}",
     ["input: refused: filter 'random' is not allowed; allowed: abc, abc_inline, circled, dunhao, "
      "first, huo, jiayi, join, last, length, letter_of, lines, list, lower, map, numbered, "
      "reject, rejectattr, replace, select, selectattr, split, trim, unique, upper"]),
    ("{{ sentence1 | center(99999999) }}", None),
    ("{{ sentence1 | format(1) }}", None),
    ("{{ [sentence1] | map('random') | join }}",
     ["input: refused: filter 'random' is not allowed; allowed: abc, abc_inline, circled, dunhao, "
      "first, huo, jiayi, join, last, length, letter_of, lines, list, lower, map, numbered, "
      "reject, rejectattr, replace, select, selectattr, split, trim, unique, upper"]),
    ("{{ [sentence1] | map(sentence2) | join }}",
     ["input: refused: the filter given to 'map' must be written out as a quoted name"]),
    ("{{ [sentence1] | select('sameas', 1) | join }}",
     ["input: refused: test 'sameas' is not allowed; allowed: divisibleby, eq, equalto, even, in, "
      "ne, none, number, odd, string"]),
    ("{% if sentence1 is callable %}x{% endif %}{{ sentence1 }}",
     ["input: refused: test 'callable' is not allowed; allowed: divisibleby, eq, equalto, even, "
      "in, ne, none, number, odd, string"]),
    ("{% for c in sentence1 recursive %}{{ loop(c) }}{% endfor %}",
     ["input: refused: recursive loops are not allowed in templates",
      "input: refused: calls are not allowed in templates; use a filter instead"]),
    ("{% set x %}{{ sentence1 }}{% endset %}{{ x }}",
     ["input: refused: {% set %}...{% endset %} is not allowed in templates"]),
    ("{% filter upper %}{{ sentence1 }}{% endfilter %}",
     ["input: refused: {% filter %} is not allowed in templates"]),
    ("{% with a = sentence1 %}{{ a }}{% endwith %}",
     ["input: refused: {% with %} is not allowed in templates"]),
    ("{% for c in sentence1 %}{{ loop.cycle('a', 'b') }}{% endfor %}",
     ["input: refused: method call '.cycle()'; use a filter instead"]),
])
def test_only_allowed_nodes_filters_and_tests_pass_validate(source, problems):
    lines = refused(source + "{{ sentence1 }}")
    if problems is None:        # a filter outside the list: one line, naming it
        name = source.split("| ")[1].split("(")[0]
        assert lines == [f"{LABEL}: input: refused: filter '{name}' is not allowed; allowed: abc, "
                         "abc_inline, circled, dunhao, first, huo, jiayi, join, last, length, "
                         "letter_of, lines, list, lower, map, numbered, reject, rejectattr, "
                         "replace, select, selectattr, split, trim, unique, upper"]
    else:
        assert lines == [f"{LABEL}: {p}" for p in problems]


def test_the_sandbox_enforces_the_same_rules_at_render_time():
    """What the static check refuses, the environment refuses too, for a template that reached
    it some other way."""
    env = make_environment()
    context = {"s": "文本", "items": [{"a": "甲"}], "n": 3}
    with pytest.raises(SecurityError, match="'upper' of str is a method"):
        render_bounded(env.from_string("{% set u = s.upper %}{{ u }}"), context)
    with pytest.raises(SecurityError, match="'keys' of dict is a method"):
        render_bounded(env.from_string("{{ items[0]['keys'] }}"), context)
    with pytest.raises(SecurityError, match="calling is not allowed"):
        render_bounded(env.from_string("{{ s.__len__() if false else (s | first)() }}"), context)
    with pytest.raises(jinja2.UndefinedError, match="has no attribute 'nofield'"):
        render_bounded(env.from_string("{{ [items[0].nofield] }}"), context)
    with pytest.raises(jinja2.TemplateAssertionError, match="No filter named 'random'"):
        env.from_string("{{ s | random }}")
    with pytest.raises(SecurityError, match="filter 'random' is not allowed"):
        render_bounded(env.from_string("{{ [s] | map(n ~ 'random'[1:] if false else 'random') "
                                       "| join }}"), context)
    with pytest.raises(SecurityError, match="test 'sameas' is not allowed"):
        render_bounded(env.from_string("{{ [s] | select('same' ~ 'as', 1) | join }}"), context)
    assert render_bounded(env.from_string("{{ items | map(attribute='a') | join('、') }}"),
                          context) == "甲"


def test_a_missing_attribute_drops_the_row_instead_of_writing_undefined(mini_project, tmp_path):
    set_template(mini_project, 1, input="{% for c in sentence1 %}{{ [loop.nofield] }}{% endfor %}"
                                        "{{ sentence1 }}")
    manifest = build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    import polars as pl

    frame = pl.read_parquet(tmp_path / "out" / "data" / "sim_afqmc")
    assert not frame.filter(pl.col("inputs").str.contains("Undefined")).height
    dropped = manifest["tasks"]["sim_afqmc"]["dropped"]
    assert dropped.get("render_error:sim_afqmc_02", 0) > 0
    task = manifest["tasks"]["sim_afqmc"]
    assert task["rows_read"] == task["rows_written"] + sum(task["dropped"].values())


def test_two_identical_builds_are_byte_identical(mini_project, tmp_path):
    set_template(mini_project, 1, input="{{ sentence1 }}{{ options | dunhao }}",
                 choices_in_prompt=True)
    build(mini_project, tmp_path / "a", task_ids=["sim_afqmc"])
    build(mini_project, tmp_path / "b", task_ids=["sim_afqmc"])
    shards = sorted((tmp_path / "a" / "data").rglob("*.parquet"))
    assert shards and all(
        s.read_bytes() == (tmp_path / "b" / s.relative_to(tmp_path / "a")).read_bytes()
        for s in shards)


# hypothesis: template shapes -----------------------------------------------------------------

_ATOMS = ["sentence1", "sentence2", "label", "options", "'文'", "3", "[sentence1, sentence2]",
          "(sentence1 * 40000)", "options[0]", "sentence1[0]", "sentence1.nofield",
          "options.pop", "sentence1.upper", "''.__class__", "sentence1['upper']"]
_UNARY = ["({}) | length", "({}) | join('、')", "({}) | first", "({}) | list", "({}) | upper",
          "({}) | random", "({}) | center(100000)", "({}) | trim", "({}) | map('upper') | list",
          "({}) | replace('文', sentence1 * 200)", "-({})", "not ({})", "({})()", "[{}]",
          "({}) * 30000", "({}) ** 70", "'%s' % ({})"]
_BINARY = ["({}) ~ ({})", "({}) + ({})", "({}) * ({})", "({}) if ({}) else ''", "({}) == ({})",
           "({}) in ({})", "({}) % ({})", "({}) ** ({})", "[({}), ({})]"]


def _expressions():
    return st.recursive(
        st.sampled_from(_ATOMS),
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: t[0].format(t[1])),
            st.tuples(st.sampled_from(_BINARY), inner, inner).map(
                lambda t: t[0].format(t[1], t[2]))),
        max_leaves=6)


@st.composite
def _templates(draw):
    body = "{{ " + draw(_expressions()) + " }}"
    wrap = draw(st.sampled_from(["{}", "{{% for c in sentence1 %}}{}{{% endfor %}}",
                                 "{{% for c in {e} %}}{{% for d in {e} %}}{}{{% endfor %}}"
                                 "{{% endfor %}}", "{{% if {e} %}}{}{{% endif %}}",
                                 "{{% set v = {e} %}}{}{{{{ v }}}}"]))
    return wrap.replace("{e}", draw(_expressions())).replace("{}", body, 1) \
        .replace("{{", "{{").replace("}}", "}}") + "{{ sentence1 }}"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_templates())
def test_any_template_shape_is_refused_cleanly_or_renders_within_bounds(source):
    source = source.replace("{{%", "{%").replace("%}}", "%}").replace("{{{{", "{{") \
        .replace("}}}}", "}}")
    try:
        task, compiled = one_template(source)
    except TemplateError as exc:                       # refused: one clear line per problem
        assert all(line.startswith(LABEL) for line in str(exc).splitlines())
        return
    for row in ROWS[:3]:
        start = time.monotonic()
        try:
            inputs, targets = render_row(task, row, 0, compiled)
        except SecurityError as exc:                   # over a bound: the build fails, named
            assert str(exc)
        except _ROW_ERRORS:                            # this row is dropped, counted
            pass
        else:
            assert len(inputs) <= MAX_TEXT_CHARS + 4 * 200 and "Undefined" not in inputs
            assert "<built-in method" not in inputs and "<bound method" not in inputs
        assert time.monotonic() - start < MAX_RENDER_SECONDS * 5 + 5   # the bound works (loose: CI load)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.sampled_from(["(", "[", "{% if sentence1 %}"]))
def test_any_nesting_depth_compiles_or_is_refused_in_one_line(levels, opener):
    closer = {"(": ")", "[": "]", "{% if sentence1 %}": "{% endif %}"}[opener]
    if opener.startswith("{%"):
        source = opener * levels + "{{ sentence1 }}" + closer * levels
    else:
        source = "{{ " + opener * levels + "sentence1" + closer * levels + " }}"
    try:
        one_template(source)
    except TemplateError as exc:
        assert str(exc) == (f"{LABEL}: input: refused: nested more than {MAX_DEPTH} levels deep "
                            "(brackets, filters, conditions, loops); write it flatter, e.g. with "
                            "{% set %}")
        assert levels > 8
    else:           # brackets that only group add no depth; lists and conditions do
        assert levels <= (MAX_DEPTH if opener != "(" else 400)


def test_lint_reports_a_template_over_the_time_bound_once(mini_project):
    """Lint stops rendering a template at its first limit error (it would report up to three
    failing rows otherwise); no wall-clock assertion: timings belong in the benchmark."""
    set_template(mini_project, 1, input="{% set s = sentence1 * 1000 %}{% for a in s %}"
                                        "{% for b in s %}{% endfor %}{% endfor %}{{ sentence1 }}")
    problems = [str(p) for p in lint(mini_project, ["sim_afqmc"])]
    over = [p for p in problems if "sim_afqmc_02" in p]
    assert len(over) == 1
    assert over[0].endswith(": RenderLimit: rendering took over 2 s, the limit per template and "
                            "row")


def test_the_vectorised_compiler_accepts_nothing_the_sandbox_refuses():
    from flanzh.render.vectorise import Unsupported, compile_expression

    env = make_environment()
    for source in ("{{ sentence1 | random }}", "{{ sentence1.upper() }}",
                   "{{ " + "[" * 40 + "sentence1" + "]" * 40 + " }}",
                   "{{ sentence1 | replace('花', sentence2 ~ sentence2) }}",
                   "{{ (sentence1 ~ sentence2) | replace('花', sentence2) }}"):
        with pytest.raises(Unsupported):
            compile_expression(TASK, env.parse(source))
    guards = []
    compile_expression(TASK, env.parse("{{ sentence1 | replace('花', '草') }}"), guards)
    assert guards == []
    # a field as the replacement compiles with a guard on the growth it can cause
    compile_expression(TASK, env.parse("{{ sentence1 | replace('花', sentence2) }}"), guards)
    assert [what for _, what in guards] == ["filter 'replace'"]


def _replace_plan(rows):
    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.read.readers import KEY

    frame = pl.DataFrame([{**ROWS[0], **row, KEY: f"r{i}"} for i, row in enumerate(rows)],
                         infer_schema_length=None)
    items = pl.DataFrame([(i, 0, "zs_noopt", 0) for i in range(len(rows))],
                         schema=ITEMS_SCHEMA, orient="row")
    return Plan(frame, frame.clear(), items, {}, 0)


def test_a_field_replacement_on_the_bulk_path_is_refused_before_the_text_is_built():
    """`text | replace(old, field)` renders in bulk, but a row whose matches times the field's
    length would go over the text bound is refused first, with the message of the jinja2 path,
    without building the text (a 3,000 x 3,000 character product here)."""
    import resource

    from flanzh.render.templates import render_plan

    task, compiled = one_template("{{ sentence1 | replace('花', sentence2) }}", "{{ sentence2 }}")
    assert compiled.vector is not None and compiled.guards
    ok = {"sentence1": "花开花落", "sentence2": "草"}
    bomb = {"sentence1": "花" * 3000, "sentence2": "x" * 3000}
    plan = _replace_plan([ok, bomb, ok])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for vectorised in (True, False):
        with pytest.raises(TemplateError) as error:
            render_plan(task, plan, 0, [compiled], 1, vectorised=vectorised)
        assert str(error.value) == (f"{LABEL}: refused while rendering row r1: "
                                    f"filter 'replace' {OVER_TEXT}")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # KiB
    # under the bound, both paths give the same text, None shown as jinja2 shows it
    plan = _replace_plan([ok, {"sentence1": "花" * 10, "sentence2": "长" * 1000},
                          {"sentence1": None, "sentence2": "草"}])
    fast, slow = (render_plan(task, plan, 0, [compiled], 1, vectorised=v) for v in (True, False))
    assert fast[0].to_dicts() == slow[0].to_dicts()
    assert fast[0]["inputs"].to_list() == ["草开草落", "长" * 10_000, "None"]


def test_arithmetic_errors_drop_the_row_with_a_counted_reason(mini_project, tmp_path):
    set_template(mini_project, 1, input="{{ sentence1 }}{{ 1 // (sentence1 | length "
                                        "- sentence1 | length) }}")
    set_template(mini_project, 2, input="{{ sentence1 }}{{ (sentence1 | length * 1.0e300) ** 2 }}",
                 choices_in_prompt=False)
    manifest = build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    task = manifest["tasks"]["sim_afqmc"]
    assert task["dropped"].get("render_error:sim_afqmc_02", 0) > 0
    assert task["dropped"].get("render_error:sim_afqmc_03", 0) > 0
    assert task["rows_read"] == task["rows_written"] + sum(task["dropped"].values())


def test_a_bulk_output_over_the_text_bound_fails_the_build_as_on_the_jinja2_path():
    """A vectorised template whose output goes over MAX_TEXT_CHARS plus GROWTH times the row's
    own text is refused with the jinja2 path's message, naming the row (the check reads byte
    lengths first and counts characters only for texts over the bound in bytes)."""
    from flanzh.render.templates import render_plan

    task, compiled = one_template("{{ sentence1 }}" * 20, "{{ sentence2 }}")
    assert compiled.vector is not None
    ok = {"sentence1": "花开花落", "sentence2": "草"}
    plan = _replace_plan([ok, {"sentence1": "长" * 100_000, "sentence2": "草"}, ok])
    for vectorised in (True, False):
        with pytest.raises(TemplateError) as error:
            render_plan(task, plan, 0, [compiled], 1, vectorised=vectorised)
        assert str(error.value) == f"{LABEL}: refused while rendering row r1: {OVER_OUTPUT}"
    # 100,000 three-byte characters are 300,000 bytes: twenty copies are over the bound in
    # bytes, and in characters too once counted
    plan = _replace_plan([ok, {"sentence1": "长" * 30_000, "sentence2": "草"}])
    fast, slow = (render_plan(task, plan, 0, [compiled], 1, vectorised=v) for v in (True, False))
    assert fast[0].to_dicts() == slow[0].to_dicts()
    assert len(fast[0]["inputs"][1]) == 600_000            # 1.8M bytes, under the bound
