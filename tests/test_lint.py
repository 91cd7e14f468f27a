"""flanzh lint, new-task and catalog: problems reported at once, located, with the fix."""

import pytest
import yaml
from typer.testing import CliRunner

from conftest import PROJECT
from flanzh.cli import app
from flanzh.contrib.catalog import CATALOG, render_catalog
from flanzh.contrib.lint import lint_task
from flanzh.contrib.scaffold import new_task


def edit_templates(project, change):
    path = project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    change(document["templates"])
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def test_lint_reports_every_problem_with_file_and_line(mini_project):
    def break_templates(templates):
        templates[3]["input"] = templates[0]["input"]                      # a near-copy
        templates[4]["input"] = "Please judge: {{ sentence1 }} / {{ sentence2 }} same or not?"
        templates[5]["target"] = "{{ sentence1[:0] }}"                      # empty target
        templates[6]["input"] = "{{ sentense1 }}"                           # unknown variable
        for t in templates:
            t.pop("choices_in_prompt", None)
        del templates[10:]

    edit_templates(mini_project, break_templates)
    problems = [str(p) for p in lint_task(mini_project, "sim_afqmc")]
    assert problems == [
        "templates/sim_afqmc.yaml:59: template 'sim_afqmc_07': unknown variable 'sentense1'; "
        "did you mean 'sentence1'? (declared: sentence1, sentence2, label, options)",
        "templates/sim_afqmc.yaml:33: template 'sim_afqmc_04': too similar to 'sim_afqmc_01' "
        "(0.94 > 0.8); vary the wording, where the instruction sits, or the output form",
        "templates/sim_afqmc.yaml:46: template 'sim_afqmc_05': input's fixed text is 0% Chinese; "
        "write the instruction in Chinese",
        "templates/sim_afqmc.yaml: no template shows the options (choices_in_prompt); add at least "
        "one that does",
    ] + [f"templates/sim_afqmc.yaml:{line}: template 'sim_afqmc_{n:02d}': the input shows "
         "{{ options }} but choices_in_prompt is false, so its records would be tagged as having "
         "no options; set choices_in_prompt: true"
         for line, n in ((4, 1), (21, 3), (34, 4), (74, 9))]


def test_lint_finds_render_failures_and_constant_outputs(mini_project):
    def break_templates(templates):
        templates[5]["target"] = "{{ sentence1[:0] }}"
        templates[7]["input"] = "请判断两句话的意思是否相同。"
        templates[7]["target"] = "好的"

    edit_templates(mini_project, break_templates)
    problems = [str(p) for p in lint_task(mini_project, "sim_afqmc")]
    assert problems[0] == ("templates/sim_afqmc.yaml:58: template 'sim_afqmc_06': fails on a "
                           "sample row 0: empty target")
    assert problems[-1] == ("templates/sim_afqmc.yaml:85: template 'sim_afqmc_08': renders the "
                            "same output for every sample row")


def test_new_task_fails_lint_with_messages_that_say_what_to_fill(mini_project):
    created = new_task(mini_project, "senti_weibo", "sentiment_classification", "jsonl")
    assert created == ["task_specs/senti_weibo.yaml", "templates/senti_weibo.yaml",
                       "samples/senti_weibo/train.json"]
    problems = [str(p) for p in lint_task(mini_project, "senti_weibo")]
    assert problems == [
        "task_specs/senti_weibo.yaml:4: $.name_zh: still a placeholder: TODO: 任务的中文名",
        "task_specs/senti_weibo.yaml:6: $.source.dataset: still a placeholder: TODO: the source "
        "dataset's name",
        "task_specs/senti_weibo.yaml:10: $.source.download: still a placeholder: TODO: where a "
        "user gets the raw files (URL; say if a login is needed)",
        "task_specs/senti_weibo.yaml:11: $.source.license: still a placeholder: TODO: the "
        "source's licence, or n/v",
        "task_specs/senti_weibo.yaml:12: $.source.citation: still a placeholder: TODO: a bibtex "
        "entry for the source",
        "templates/senti_weibo.yaml:19: template 'senti_weibo_01': still a placeholder (TODO): "
        "write the instruction",
        "templates/senti_weibo.yaml:17: 1 templates; a task needs 10 to 20 hand-written templates",
        "samples/senti_weibo: 0 valid sample rows; bundle 20-50 rows in the source's raw format",
    ]
    with pytest.raises(Exception, match="already exists"):
        new_task(mini_project, "senti_weibo", "sentiment_classification", "jsonl")


def test_cli_lint_exit_codes(mini_project):
    runner = CliRunner()
    ok = runner.invoke(app, ["--root", str(mini_project.root), "lint"])
    assert ok.exit_code == 0 and ok.output == "1 tasks pass lint\n"


def test_docs_task_catalog_is_current():
    path = PROJECT.root / CATALOG
    assert path.is_file() and path.read_text("utf-8") == render_catalog(PROJECT), \
        "docs/tasks.md is stale: run `flanzh catalog` and commit it"


# ---- sample rules: 20-50 valid rows, at least one row the build drops --------------------------

NO_DROP = ("samples/sim_afqmc: no sample row is dropped by the pipeline; add one that reproduces a "
           "quirk the real data has and the build drops (an exact duplicate, an empty text, a "
           "label outside the map, ...), or, if the source has none, say why in "
           "task_specs/sim_afqmc.yaml sample.no_drop_reason")


def drop_last_train_row(project):
    path = project.samples_dir / "sim_afqmc" / "train.json"
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), "utf-8")


def test_a_sample_without_a_dropped_row_fails_lint_and_exemplars_do_not_count(mini_project):
    import shutil

    from flanzh.build.pipeline import DEFAULT_SEED, build_task_alone
    from flanzh.contrib.lint import sample_drops
    from flanzh.read.sources import SourceMode
    from flanzh.spec.mixture import load_mixture
    from flanzh.spec.specs import load_task

    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == []
    task = load_task(mini_project, "sim_afqmc")
    assert sample_drops(mini_project, task) == {"contaminated:sim_afqmc/validation": 1}
    drop_last_train_row(mini_project)               # the row that holds a dev question whole
    shutil.copy(PROJECT.root / "mixture.yaml", mini_project.root / "mixture.yaml")
    built = build_task_alone(mini_project, task, DEFAULT_SEED, SourceMode(),
                             load_mixture(mini_project.root / "mixture.yaml"))
    assert built.dropped == {"held_for_exemplars": 4}          # the few-shot pool: no bad row
    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == [NO_DROP]


def test_a_bad_row_in_the_sample_satisfies_the_rule(mini_project):
    drop_last_train_row(mini_project)
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"sentence1": "花呗怎么还款", "sentence2": "", "label": "0"}\n')
    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == []


def test_no_drop_reason_is_accepted_only_while_nothing_is_dropped(mini_project):
    spec = mini_project.specs_dir / "sim_afqmc.yaml"
    text = spec.read_text("utf-8")
    spec.write_text(text + "sample:\n  no_drop_reason: the real files were read whole and no "
                    "row of them is one the build drops\n", "utf-8")
    line = len(text.splitlines()) + 2
    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == [
        f"task_specs/sim_afqmc.yaml:{line}: $.sample.no_drop_reason: the pipeline drops sample "
        "rows (contaminated:sim_afqmc/validation 1); remove it"]
    drop_last_train_row(mini_project)
    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == []
    spec.write_text(text + "sample:\n  no_drop_reason: none\n", "utf-8")
    (problem,) = [str(p) for p in lint_task(mini_project, "sim_afqmc")]
    assert problem.startswith(f"task_specs/sim_afqmc.yaml:{line}: $.sample.no_drop_reason: ")


def test_an_evaluation_only_sample_is_built_as_if_its_benchmark_were_included():
    from flanzh.contrib.lint import sample_drops
    from flanzh.spec.specs import load_task

    # interp_duexplain has no training split (a benchmark): its sample is its evaluation split
    assert sample_drops(PROJECT, load_task(PROJECT, "interp_duexplain")) == {
        "missing_gold": 1, "rationale_out_of_range": 1}


def test_a_sample_of_19_valid_rows_is_too_small(mini_project):
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:18] + lines[-1:]), "utf-8")
    assert [str(p) for p in lint_task(mini_project, "sim_afqmc")] == [
        "samples/sim_afqmc: 19 valid sample rows; bundle 20-50 rows in the source's raw format"]
