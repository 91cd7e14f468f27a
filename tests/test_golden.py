"""`flanzh golden`: golden files are written and checked by the one library definition the test
suite uses (flanzh.contrib.golden), and a stale one is named with its task and templates."""

import json
import shutil

import yaml

from conftest import PROJECT, run_main
from flanzh.contrib.golden import check_golden, golden_records, golden_text
from flanzh.spec.specs import load_task
from test_hostile_data import task_project


def test_the_bundled_golden_files_are_what_the_library_renders():
    task = load_task(PROJECT, "sim_afqmc")
    text = (PROJECT.root / "tests" / "golden" / "sim_afqmc.json").read_text("utf-8")
    assert text == golden_text(golden_records(PROJECT, task))


def test_check_names_a_missing_file_new_changed_and_gone_templates(tmp_path, monkeypatch):
    project = task_project(tmp_path / "p", "sim_afqmc")
    root = str(project.root)
    code, output = run_main(["--root", root, "golden", "sim_afqmc", "--check"], monkeypatch)
    assert (code, output) == (1, "Error: tests/golden/sim_afqmc.json: no golden file; run "
                                 "`flanzh golden sim_afqmc` and review it\n")
    code, output = run_main(["--root", root, "golden"], monkeypatch)
    assert (code, output) == (0, "wrote tests/golden/sim_afqmc.json\n")
    path = project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    first, second, *rest = document["templates"]
    second["input"] = "换个问法：" + second["input"]
    document["templates"] = [second, *rest, {**first, "id": "sim_afqmc_99"}]
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    (stale,) = check_golden(project, ["sim_afqmc"])
    changed = [t["id"] for t in document["templates"][:-1]]   # each now renders on another row
    assert stale.changed == tuple(changed) and stale.new == ("sim_afqmc_99",)
    assert stale.gone == (first["id"],)
    code, output = run_main(["--root", root, "golden", "--check"], monkeypatch)
    assert code == 1
    assert output == (f"Error: tests/golden/sim_afqmc.json: sim_afqmc: templates rendering "
                      f"differently: {', '.join(changed)}; templates not pinned yet: sim_afqmc_99; "
                      f"pinned templates no longer in the task: {first['id']}; if intended, run "
                      "`flanzh golden sim_afqmc` and review the diff\n")


def test_a_reordered_file_and_a_broken_one_are_named(tmp_path, monkeypatch):
    project = task_project(tmp_path / "p", "sim_afqmc")
    folder = project.root / "tests" / "golden"
    folder.mkdir(parents=True)
    shutil.copy(PROJECT.root / "tests" / "golden" / "sim_afqmc.json", folder)
    assert check_golden(project, ["sim_afqmc"]) == []
    path = folder / "sim_afqmc.json"
    records = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps(records[::-1], ensure_ascii=False), "utf-8")
    (stale,) = check_golden(project, ["sim_afqmc"])
    assert str(stale) == ("tests/golden/sim_afqmc.json: sim_afqmc: the file differs only in "
                          "template order or layout; if intended, run `flanzh golden sim_afqmc` "
                          "and review the diff")
    path.write_text("{", "utf-8")
    code, output = run_main(["--root", str(project.root), "golden", "--check"], monkeypatch)
    assert code == 1 and output.startswith("Error: tests/golden/sim_afqmc.json: not a golden file (")
    assert output.endswith("); run `flanzh golden sim_afqmc` to write it again\n")


def test_an_unknown_task_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    project = task_project(tmp_path / "p", "sim_afqmc")
    code, output = run_main(["--root", str(project.root), "golden", "sim_afqmc", "../x"],
                            monkeypatch)
    assert code == 1
    assert output == "Error: x.yaml: no such task spec; known tasks: sim_afqmc\n"
    assert not (project.root / "tests").exists()
