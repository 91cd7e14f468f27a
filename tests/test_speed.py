"""What keeps a build fast without changing its output: templates compiled once per process and
turned into jinja2 code only when a row needs it, and heavy libraries imported only where used.
(No timings are asserted here; bench/bench.py measures them.)"""

import os
import subprocess
import sys

from conftest import PROJECT
from flanzh.render import compile_templates
from flanzh.specs import load_task

HEAVY = ("datasets", "matplotlib", "ray", "huggingface_hub", "pandas")


def test_templates_are_compiled_once_per_process():
    task = load_task(PROJECT, "sim_afqmc")
    first = compile_templates(task)
    again = compile_templates(load_task(PROJECT, "sim_afqmc"))     # an equal task, loaded anew
    assert [id(c) for c in again] == [id(c) for c in first]
    again.pop()                                    # callers get their own list
    assert len(compile_templates(task)) == len(first)


def test_vectorised_templates_get_jinja2_code_only_when_used():
    compiled = compile_templates(load_task(PROJECT, "sim_afqmc"))
    bulk = [c for c in compiled if c.vector is not None]
    assert bulk
    assert all("input" not in vars(c) and "target" not in vars(c) for c in bulk)
    one = bulk[0]
    row = {"sentence1": "花呗怎么还款", "sentence2": "借呗如何还钱", "label": "相同",
           "options": ["相同", "不同"]}
    assert one.input.render(row).strip()
    assert "input" in vars(one) and one.input is one.input


def _modules_after(code: str) -> list[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('LOADED:', *(m for m "
                          f"in {HEAVY!r} if m in sys.modules))"],
                         capture_output=True, text=True, env=env, cwd=PROJECT.root, check=True)
    last = out.stdout.splitlines()[-1].split()
    assert last[0] == "LOADED:", out.stdout
    return last[1:]


def test_cli_import_and_help_do_not_import_heavy_libraries():
    assert _modules_after("import flanzh.cli") == []
    help_run = ("import sys\nfrom flanzh.cli import main\nsys.argv = ['flanzh', '--help']\n"
                "try:\n    main()\nexcept SystemExit:\n    pass")
    assert _modules_after(help_run) == []
    build_help = help_run.replace("'--help'", "'build', '--help'")
    assert _modules_after(build_help) == []


def test_the_build_modules_import_no_heavy_library():
    # the pipeline imports datasets only to read a source that needs it, and matplotlib only
    # when it writes the report's plots
    assert _modules_after("import flanzh.pipeline, flanzh.sources, flanzh.report") == []
