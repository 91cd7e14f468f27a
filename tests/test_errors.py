"""The exact text of the main error messages (pinned, as sqlite-utils pins its errors)."""

import pytest
import yaml
from typer.testing import CliRunner

from flanzh.build.pipeline import build
from flanzh.cli import app, main
from flanzh.errors import SourceError, SpecError, TemplateError
from flanzh.read.sources import SourceMode, read_split
from flanzh.render.templates import compile_templates
from flanzh.spec.specs import load_task


def edit_yaml(path, change):
    document = yaml.safe_load(path.read_text("utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def test_every_schema_problem_is_reported(mini_project):
    def break_spec(spec):
        spec["category"] = "translation"
        del spec["source"]["license"]
        spec["fields"]["label"]["map"] = {}

    edit_yaml(mini_project.specs_dir / "sim_afqmc.yaml", break_spec)
    with pytest.raises(SpecError) as error:
        load_task(mini_project, "sim_afqmc")
    assert error.value.problems == [
        "task_specs/sim_afqmc.yaml: $.category: 'translation' is not one of ['machine_translation', "
        "'dialogue', 'text_matching', 'text_classification', 'sentiment_classification', "
        "'named_entity_recognition', 'text_summarization', 'reading_comprehension', "
        "'question_generation', 'question_answering', 'cloze_test', 'text_generation', "
        "'semantic_analysis', 'relation_extraction', 'grammatical_error_correction', "
        "'fact_checking', 'interpretable_evaluation', 'event_extraction']",
        "task_specs/sim_afqmc.yaml: $.fields.label.map: {} should be non-empty",
        "task_specs/sim_afqmc.yaml: $.source: 'license' is a required property",
    ]


def test_template_file_problems_are_reported_with_the_spec_ones(mini_project):
    edit_yaml(mini_project.specs_dir / "sim_afqmc.yaml", lambda s: s.pop("name_zh"))
    edit_yaml(mini_project.templates_dir / "sim_afqmc.yaml",
              lambda t: t["templates"][1].pop("target"))
    with pytest.raises(SpecError) as error:
        load_task(mini_project, "sim_afqmc")
    assert error.value.problems == [
        "task_specs/sim_afqmc.yaml: $: 'name_zh' is a required property",
        "templates/sim_afqmc.yaml: $.templates[1]: 'target' is a required property",
    ]


def test_unknown_variable_has_a_did_you_mean(mini_project):
    edit_yaml(mini_project.templates_dir / "sim_afqmc.yaml",
              lambda t: t["templates"][0].update(input="{{ sentense1 }} 与 {{ sentence2 }}"))
    with pytest.raises(TemplateError) as error:
        compile_templates(load_task(mini_project, "sim_afqmc"))
    assert str(error.value) == (
        "templates/sim_afqmc.yaml: template 'sim_afqmc_01': unknown variable 'sentense1'; "
        "did you mean 'sentence1'? (declared: sentence1, sentence2, label, options)\n"
        "templates/sim_afqmc.yaml: template 'sim_afqmc_01': choices_in_prompt is true but the "
        "input never shows {{ options }}; show them through a filter such as {{ options | abc }} "
        "so their order is shuffled per row")


def test_template_error_stops_the_build_before_any_row(mini_project, tmp_path):
    edit_yaml(mini_project.templates_dir / "sim_afqmc.yaml",
              lambda t: t["templates"][2].update(target="{{ label | nosuchfilter }}"))
    (mini_project.samples_dir / "sim_afqmc" / "train.json").write_text("not json", "utf-8")
    with pytest.raises(TemplateError) as error:
        build(mini_project, tmp_path / "out")
    assert str(error.value) == (
        "templates/sim_afqmc.yaml: template 'sim_afqmc_03': target: refused: filter "
        "'nosuchfilter' is not allowed; allowed: abc, abc_inline, circled, dunhao, first, huo, "
        "jiayi, join, last, length, letter_of, lines, list, lower, map, numbered, reject, "
        "rejectattr, replace, select, selectattr, split, trim, unique, upper")


def test_undecodable_file_names_byte_offset_and_encoding(mini_project):
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    path.write_bytes('{"sentence1": "花呗", "sentence2": "借呗", "label": "0"}\n'.encode("gb18030"))
    task = load_task(mini_project, "sim_afqmc")
    with pytest.raises(SourceError) as error:
        read_split(mini_project, task, "train", SourceMode())
    assert str(error.value) == (f"{path}: byte 15: cannot decode as utf-8 (invalid start byte); "
                                "try source.encoding: gb18030")


def test_declared_encoding_is_used(mini_project):
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    path.write_bytes('{"sentence1": "花呗", "sentence2": "借呗", "label": "0"}\n'.encode("gb18030"))
    edit_yaml(mini_project.specs_dir / "sim_afqmc.yaml",
              lambda s: s["source"].update(encoding="gb18030"))
    task = load_task(mini_project, "sim_afqmc")
    frame = read_split(mini_project, task, "train", SourceMode()).frame
    assert frame["sentence1"].to_list() == ["花呗"]


def test_missing_download_lists_files_and_where_to_get_them(mini_project, tmp_path):
    task = load_task(mini_project, "sim_afqmc")
    with pytest.raises(SourceError) as error:
        read_split(mini_project, task, "train", SourceMode("data_dir", tmp_path / "raw"))
    assert str(error.value) == (
        f"task sim_afqmc: missing source file(s) under {tmp_path / 'raw' / 'sim_afqmc'}/: "
        "train.json; download AFQMC from https://github.com/CLUEbenchmark/CLUE (afqmc_public.zip, "
        "from the CLUE dataset links) and put them there, or build from the bundled samples by "
        "leaving out --data-dir")


def test_unpinned_hub_revision_unresolvable_offline_says_how_to_lock_it(mini_project):
    task = load_task(mini_project, "sim_afqmc")
    with pytest.raises(SourceError) as error:
        read_split(mini_project, task, "train", SourceMode("hub"))
    assert str(error.value).startswith(
        "task_specs/sim_afqmc.yaml: $.source.hub.revision: 'main' is not a commit sha and "
        "sources.lock has no commit for it, and resolving it failed (cannot resolve clue/clue@main "
        "on the hub: ")
    assert str(error.value).endswith(
        "run `flanzh lock --tasks sim_afqmc` where the hub is reachable, or pin the revision to a "
        "commit")


def test_normalise_names_a_missing_source_column(mini_project):
    edit_yaml(mini_project.specs_dir / "sim_afqmc.yaml",
              lambda s: s["fields"].update(sentence1={"from": "text_a"}))
    from flanzh.read.normalise import normalise

    task = load_task(mini_project, "sim_afqmc")
    with pytest.raises(SourceError) as error:
        normalise(task, read_split(mini_project, task, "train", SourceMode()).frame, "train")
    assert str(error.value) == ("task_specs/sim_afqmc.yaml: $.fields.sentence1: source column "
                                "'text_a' does not exist; the reader gives: sentence1, sentence2, label")


def run_cli(args, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["flanzh", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr()


def test_cli_prints_error_lines_and_exits_1(mini_project, monkeypatch, capsys):
    edit_yaml(mini_project.specs_dir / "sim_afqmc.yaml", lambda s: s.pop("splits"))
    code, captured = run_cli(["--root", str(mini_project.root), "validate"], monkeypatch, capsys)
    assert code == 1
    assert captured.err == "Error: task_specs/sim_afqmc.yaml: $: 'splits' is a required property\n"
    assert "Traceback" not in captured.err


def test_cli_unknown_task(mini_project, monkeypatch, capsys):
    code, captured = run_cli(["--root", str(mini_project.root), "build", "--tasks", "nope",
                              "--out", str(mini_project.root / "out")], monkeypatch, capsys)
    assert code == 1
    assert captured.err == ("Error: task_specs/nope.yaml: no such task spec; known tasks: "
                            "sim_afqmc\n")


def test_cli_validate_and_list_succeed(project):
    runner = CliRunner()
    result = runner.invoke(app, ["--root", str(project.root), "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("tasks valid\n")
    listed = runner.invoke(app, ["--root", str(project.root), "list"])
    assert listed.exit_code == 0
    assert "sim_afqmc" in listed.output and "AFQMC" in listed.output


def test_cli_preview_shows_rendered_chinese(project):
    result = CliRunner().invoke(app, ["--root", str(project.root), "preview", "sim_afqmc", "-n", "2",
                                      "--template", "sim_afqmc_01"])
    assert result.exit_code == 0, result.output
    assert result.output.count("sim_afqmc_01") == 2
    assert "花呗分期后还能提前还款吗" in result.output


def test_a_build_from_downloads_lists_every_missing_file_at_once(mini_project, tmp_path):
    from test_corpus import clone_task, policy

    clone_task(mini_project, "sim_second", [{"sentence1": "甲", "sentence2": "乙", "label": "1"}])
    with pytest.raises(SourceError) as error:
        build(mini_project, tmp_path / "out", mode=SourceMode("data_dir", tmp_path / "raw"),
              mixture=policy(tmp_path))     # the repo's policy: decontamination on
    lines = str(error.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["task sim_afqmc", "task sim_second"]
    assert lines[0].startswith(f"task sim_afqmc: missing source file(s) under "
                               f"{tmp_path / 'raw' / 'sim_afqmc'}/: train.json, dev.json; download")
