"""Hostile input is refused: source paths that leave the task's data folder, manifests that name
files outside the built folder, tokens echoed back by the hub, and templates that try to run
without bound or reach Python (issue 19, Security)."""

import io
import os

import pytest
import yaml

from flanzh.errors import SourceError, SpecError
from flanzh.lint import lint
from flanzh.pipeline import build
from flanzh.sources import SourceMode, read_split
from flanzh.specs import load_task


def edit_spec(project, change):
    path = project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    change(spec)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")


def run_cli(args, monkeypatch):
    """The real entry point: (exit code, stdout + stderr)."""
    from flanzh.cli import main

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.argv", ["flanzh", *args])
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    try:
        main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, out.getvalue() + err.getvalue()


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
    assert str(error.value) == (f"{dev}: line 1: document ../../../secret.txt resolves outside "
                                f"{evidence}; documents must stay inside the evidence folder")
