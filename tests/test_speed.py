"""What keeps a build fast without changing its output: templates compiled once per process and
turned into jinja2 code only when a row needs it, and heavy libraries imported only where used.
(No timings are asserted here; bench/bench.py measures them.)"""

import os
import subprocess
import sys

import polars as pl
import pytest

from conftest import PROJECT
from flanzh.read.readers import KEY
from flanzh.render.templates import compile_templates
from flanzh.render.vectorise import fits
from flanzh.spec.specs import load_task

HEAVY = ("datasets", "matplotlib", "ray", "huggingface_hub", "pandas")


def test_templates_are_compiled_once_per_process():
    task = load_task(PROJECT, "sim_afqmc")
    first = compile_templates(task)
    again = compile_templates(load_task(PROJECT, "sim_afqmc"))     # an equal task, loaded anew
    assert [id(c) for c in again] == [id(c) for c in first]
    again.pop()                                    # callers get their own list
    assert len(compile_templates(task)) == len(first)


def test_vectorised_templates_get_jinja2_code_only_when_used(monkeypatch):
    import flanzh.render.templates

    monkeypatch.setattr(flanzh.render.templates, "_COMPILED", {})     # not the ones earlier tests rendered
    compiled = compile_templates(load_task(PROJECT, "sim_afqmc"))
    bulk = [c for c in compiled if c.vector is not None]
    assert bulk
    assert all("input" not in vars(c) and "target" not in vars(c) for c in bulk)
    one = bulk[0]
    row = {"sentence1": "花呗怎么还款", "sentence2": "借呗如何还钱", "label": "相同",
           "options": ["相同", "不同"]}
    assert one.input.render(row).strip()
    assert "input" in vars(one) and one.input is one.input


def _modules_after(code: str, names: tuple[str, ...] = HEAVY) -> list[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('LOADED:', *(m for m "
                          f"in {names!r} if m in sys.modules))"],
                         capture_output=True, text=True, env=env, cwd=PROJECT.root, check=True)
    last = out.stdout.splitlines()[-1].split()
    assert last[0] == "LOADED:", out.stdout
    return last[1:]


def test_cli_import_and_help_do_not_import_heavy_libraries():
    assert _modules_after("import flanzh.cli") == []
    help_run = ("import sys\nfrom flanzh.cli import main\nsys.argv = ['flanzh', '--help']\n"
                "try:\n    main()\nexcept SystemExit:\n    pass")
    # main() looks up the hub token (huggingface_hub) so that nothing printed can show it
    assert [m for m in _modules_after(help_run) if m != "huggingface_hub"] == []
    build_help = help_run.replace("'--help'", "'build', '--help'")
    assert [m for m in _modules_after(build_help) if m != "huggingface_hub"] == []


def test_the_build_modules_import_no_heavy_library():
    # the pipeline imports datasets only to read a source that needs it; the report's plots are
    # SVG written by flanzh itself
    assert _modules_after("import flanzh.build.pipeline, flanzh.read.sources, flanzh.build.report") == []


def test_pool_workers_import_no_spec_validator_or_network_stack():
    """Every pool worker of a build imports the pipeline: specs are validated in the driver
    (jsonschema, 40 ms), and the plots' XML escaping came with urllib and ssl (25 ms)."""
    assert _modules_after("import flanzh.build.pipeline", ("jsonschema", "urllib.request")) == []


def test_rendering_options_imports_no_heavy_library():
    """Options are drawn through numpy and Arrow buffers: pyarrow's ``pa.array`` and
    ``to_numpy`` import pandas (about 0.3 s of every build) to check for its types."""
    run = ("import polars as pl\n"
           "from flanzh.project import Project\n"
           "from flanzh.spec.specs import load_task\n"
           "from flanzh.render.choices import options_column\n"
           "from flanzh.hashing import HASH\n"
           "from flanzh.read.readers import KEY\n"
           "project = Project(__import__('pathlib').Path('.'))\n"
           "chid = load_task(project, 'cloze_chid')\n"
           "frame = pl.DataFrame({KEY: ['a', 'b', 'c'], HASH: pl.Series([1, 2, 3], dtype=pl.UInt64),"
           " 'candidates': [['甲', '乙', '丙'], None, ['丁']], 'answer': ['乙', '甲', '戊']})\n"
           "options, gold = options_column(chid, frame)\n"
           "assert options.to_list()[1] is None and list(gold) [1:] == [-1, -1], (options, gold)\n"
           "tnews = load_task(project, 'cls_tnews')\n"
           "frame = pl.DataFrame({KEY: ['a'], HASH: pl.Series([1], dtype=pl.UInt64),"
           " tnews.answer_field: [tnews.choices[0]]})\n"
           "options, gold = options_column(tnews, frame)\n"
           "assert options.to_list()[0][gold[0]] == tnews.choices[0]\n")
    assert _modules_after(run) == []


_TRIPLE = {"subject": "晚风", "subject_type": "歌曲", "predicate": "作词", "object": "林夏",
           "object_type": "人物", "slots": ""}
_ENTITY = {"type": "人名", "text": "张三"}


@pytest.mark.parametrize("task_id, template_id, field, values", [
    # `a or "..."` and `("..." ~ a ~ "...") if a else "..."` over present, empty and missing
    ("qa_chinese_biomedical", "qa_chinese_biomedical_01", "subject", ["内科学", "", None]),
    ("mrc_cmrc2018", "mrc_cmrc2018_05", "title", ["长江", "", None]),
    # `label if sentence | length is even else options[0]`, on even and odd lengths
    ("cls_tnews", "cls_tnews_06", "sentence", ["四个汉字", "五个汉字呀"]),
    ("ner_msra", "ner_msra_07", "persons", [["张三", "李四"], [], None]),
    # negative indices and slice bounds (`history[-1]`, `history[:-1]`) on 3, 1 and 0 turns
    ("dlg_douban", "dlg_douban_10", "history", [["你好", "在吗", "吃了吗"], ["你好"], []]),
    ("dlg_douban", "dlg_douban_11", "history", [["你好", "在吗", "吃了吗"], ["你好"], []]),
    ("dlg_kdconv", "dlg_kdconv_06", "history", [["你好", "在吗", "吃了吗"], ["你好"], []]),
    # loops over lists of records read by attribute, `for ... else`, `t.slots or '—'`,
    # `entities[0].text`: empty lists, a missing value (shown as None) and a missing record
    # (None: the row fails on both paths)
    ("re_duie2", "re_duie2_06", "triples", [[_TRIPLE, {**_TRIPLE, "slots": "作品=红楼梦"}],
                                            [{**_TRIPLE, "object_type": None}], [],
                                            [None, _TRIPLE]]),
    ("re_duie2", "re_duie2_11", "triples", [[_TRIPLE, {**_TRIPLE, "slots": "届次=28"}], [],
                                            [{**_TRIPLE, "slots": None}]]),
    ("re_duie2", "re_duie2_10", "triples", [[_TRIPLE, _TRIPLE], [], [None]]),
    ("ner_msra", "ner_msra_05", "entities", [[_ENTITY, {"type": "地名", "text": None}], [],
                                             [None]]),
    ("ner_msra", "ner_msra_14", "entities", [[_ENTITY, {"type": "地名", "text": "北京"}], [],
                                             [_ENTITY, None]]),
    ("ner_msra", "ner_msra_10", "entities", [[_ENTITY], [], [None, _ENTITY],
                                             [{"type": None, "text": "北京"}]]),
    ("ner_cluener", "ner_cluener_06", "entities", [[_ENTITY, _ENTITY], []]),
    # slices and indices of text (`summary[:12]`, `c[0]`, `c[-1]`), a loop with an `if` filter:
    # short, empty and missing texts (an index out of range or a missing item fails the row)
    ("gen_advertisegen", "gen_advertisegen_08", "summary",
     ["短", "", "一二三四五六七八九十甲乙", "一二三四五六七八九十甲乙丙丁"]),
    ("gen_advertisegen", "gen_advertisegen_09", "attributes",
     [["类型：上衣", "颜色：红色"], ["类型：裙"], [], ["颜色：白色", None], ["类型", "领型：圆领"]]),
    ("gec_md_scs", "gec_md_scs_03", "corrections", [["甲→乙", "丙丁"], ["", "戊"], [], ["己"]]),
])
def test_newly_vectorised_constructs_match_jinja(task_id, template_id, field, values):
    """`or`, `~`, `is even` on a text length, negative constants: the polars form equals jinja2 on the values that
    take each branch (the samples need not hold all of them)."""
    from test_tasks import sample_rows

    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.build.pipeline import DEFAULT_SEED
    from flanzh.render.templates import render_plan

    task = load_task(PROJECT, task_id)
    compiled = compile_templates(task)
    assert [c.vector is not None for c in compiled if c.spec.id == template_id] == [True]
    rows = sample_rows(task)[:4]
    rows = [{**row, field: value, KEY: f"{row[KEY]}-{i}"}
            for i, value in enumerate(values) for row in rows]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    items = pl.DataFrame([(r, t, "zs_opt" if c.spec.choices_in_prompt else "zs_noopt", 0)
                          for t, c in enumerate(compiled) if c.vector for r in range(len(rows))],
                         schema=ITEMS_SCHEMA, orient="row")
    plan = Plan(frame, frame.clear(), items, {}, 0)
    assert all(fits(c.needs, frame.schema) for c in compiled if c.spec.id == template_id)
    fast = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=True)
    slow = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=False)
    assert fast[1] == slow[1]
    assert fast[0].to_dicts() == slow[0].to_dicts()
    assert fast[0].height > 0


def test_templates_reading_records_go_row_by_row_when_the_rows_do_not_hold_them_as_structs():
    """A template reading ``e.text`` renders in bulk only over a list of structs whose ``text``
    is a string; rows holding the records otherwise (an int attribute, no such attribute) take
    the jinja2 path and give the same records as rendering every template row by row."""
    from test_tasks import sample_rows

    from flanzh.build.pipeline import DEFAULT_SEED
    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.render.templates import render_plan

    task = load_task(PROJECT, "ner_msra")
    compiled = compile_templates(task)
    index = next(i for i, c in enumerate(compiled) if c.spec.id == "ner_msra_14")
    assert compiled[index].needs == (("entities", None), ("entities", "text"),
                                     ("entities", "type"))
    row = sample_rows(task)[0]
    for entities, bulk in (([{"type": "人名", "text": "张三"}], True),
                           ([{"type": "人名", "text": 3}], False),
                           ([{"type": "人名", "name": "张三"}], False)):
        frame = pl.DataFrame([{**row, "entities": entities}], infer_schema_length=None)
        assert fits(compiled[index].needs, frame.schema) is bulk
        items = pl.DataFrame([(0, index, "zs_noopt", 0)], schema=ITEMS_SCHEMA, orient="row")
        plan = Plan(frame, frame.clear(), items, {}, 0)
        fast = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=True)
        slow = render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=False)
        assert fast[0].to_dicts() == slow[0].to_dicts() and fast[1] == slow[1]


START, END = "<!-- per-row templates: start -->", "<!-- per-row templates: end -->"


def row_path_table() -> str:
    from flanzh.render.sandbox import make_environment
    from flanzh.spec.specs import load_tasks
    from flanzh.render.vectorise import ROW_PATH_REASONS, row_path_reason

    env = make_environment()
    lines = ["| task | template | refused construct | why it stays row by row |", "|---|---|---|---|"]
    total = 0
    for task in load_tasks(PROJECT):
        for template in task.templates:
            total += 1
            refused = row_path_reason(task, [env.parse(template.input), env.parse(template.target)])
            if refused is not None:
                assert refused in ROW_PATH_REASONS, (
                    f"{task.id}/{template.id} is refused for {refused!r}: vectorise it, or add a "
                    "reason to ROW_PATH_REASONS in flanzh/render/vectorise.py")
                lines.append(f"| {task.id} | {template.id} | {refused} | "
                             f"{ROW_PATH_REASONS[refused]} |")
    return f"{len(lines) - 2} of {total} templates render row by row:\n\n" + "\n".join(lines)


def test_every_per_row_template_has_a_written_reason_in_the_docs():
    docs = (PROJECT.root / "docs" / "performance.md").read_text("utf-8")
    assert START in docs and END in docs
    written = docs.split(START)[1].split(END)[0].strip()
    expected = row_path_table()
    assert written == expected, ("docs/performance.md's per-row table is out of date; put this "
                                 f"between its markers:\n{expected}")


def test_the_process_pool_is_the_default_when_more_than_one_core_is_free():
    from flanzh.executors import default_executor, free_cores

    assert [default_executor(n) for n in (0, 1, 2, 8)] == ["serial", "serial", "process", "process"]
    # one task: a worker process only adds its start and the copies between processes
    assert [default_executor(8, units) for units in (None, 1, 2)] == ["process", "serial",
                                                                      "process"]
    assert 0 <= free_cores() <= (os.cpu_count() or 1)


def test_a_pool_has_no_more_workers_than_tasks(monkeypatch):
    import flanzh.executors as executors

    monkeypatch.setattr(executors, "_cpus", lambda: 8)
    assert [executors.default_workers(n) for n in (None, 1, 3, 8, 44)] == [8, 1, 3, 8, 8]


@pytest.mark.parametrize("loadavg, busy", [
    ("1.07 1.02 1.33 1/130 24038", 0),      # idle, though the load average reads 1 (I/O waits)
    ("0.10 0.20 0.30 3/130 24038", 2),      # two others running now, though the average is low
])
def test_free_cores_counts_the_tasks_running_now_not_the_load_average(tmp_path, loadavg, busy):
    from flanzh.executors import _busy

    path = tmp_path / "loadavg"
    path.write_text(loadavg + "\n", "ascii")
    assert _busy(str(path)) == busy
    assert _busy(str(tmp_path / "missing")) == os.getloadavg()[0]


def test_a_task_running_for_one_reading_only_is_not_a_busy_core(tmp_path, monkeypatch):
    import flanzh.executors as executors

    path = tmp_path / "loadavg"
    readings = iter(["0.5 0.5 0.5 2/130 1", "0.5 0.5 0.5 1/130 1", "0.5 0.5 0.5 3/130 1",
                     "0.5 0.5 0.5 2/130 1", "0.5 0.5 0.5 2/130 1"])
    path.write_text(next(readings), "ascii")
    # between readings, the machine changes: another process exits, another starts
    monkeypatch.setattr(executors.time, "sleep", lambda seconds: path.write_text(next(readings),
                                                                                 "ascii"))
    assert executors._busy(str(path)) == 0
    path.write_text("0.5 0.5 0.5 2/130 1", "ascii")
    monkeypatch.setattr(executors.time, "sleep", lambda seconds: None)
    assert executors._busy(str(path)) == 1           # one other task, there at every reading


@pytest.mark.parametrize("task_ids, workers", [(["sim_afqmc"], 1),
                                                (["sim_afqmc", "nli_cmnli", "cls_tnews"], 2)])
def test_the_pipeline_pool_has_no_more_workers_than_tasks(monkeypatch, tmp_path, task_ids,
                                                          workers):
    import flanzh.build.pipeline as pipeline
    import flanzh.executors

    class Started(Exception):
        pass

    def start_pool(count, preload=()):
        raise Started(count)

    monkeypatch.setattr(flanzh.executors, "_cpus", lambda: 2)
    monkeypatch.setattr(pipeline, "start_pool", start_pool)
    with pytest.raises(Started) as started:
        pipeline.build(PROJECT, tmp_path / "out", task_ids=task_ids, executor="process")
    assert started.value.args == (workers,)


TWO = "sim_afqmc,nli_cmnli"


@pytest.mark.parametrize("args, free, expected", [
    (["--tasks", TWO, "--data-dir", "{data}"], 2, ("process", 2)),
    (["--tasks", TWO, "--data-dir", "{data}"], 4, ("process", 2)),     # no more workers than tasks
    (["--tasks", TWO, "--data-dir", "{data}", "--workers", "3"], 4, ("process", 3)),
    (["--tasks", TWO, "--data-dir", "{data}"], 1, ("serial", None)),
    (["--tasks", "sim_afqmc", "--data-dir", "{data}"], 4, ("serial", None)),   # one task
    (["--tasks", "sim_afqmc", "--data-dir", "{data}", "--executor", "process"], 4, ("process", 1)),
    (["--tasks", TWO, "--data-dir", "{data}", "--executor", "serial"], 2, ("serial", None)),
    (["--tasks", TWO], 2, ("serial", None)),   # the bundled samples: workers cost more than they save
    (["--tasks", "sim_afqmc", "--data-dir", "{data}", "--workers", "2"], 4, ("process", 2)),
    (["--tasks", TWO, "--workers", "2"], 4, ("process", 2)),
])
def test_cli_build_chooses_its_executor(monkeypatch, tmp_path, args, free, expected):
    used, started = _cli_build(monkeypatch, tmp_path, args, free)
    assert used == expected
    # the pool started early is the one the build's units run on
    assert started == ([expected[1]] if expected[0] == "process" else [])


@pytest.mark.parametrize("available, expected", [(["sim_afqmc", "nli_cmnli"], ("process", None)),
                                                 (["sim_afqmc"], ("serial", None))])
def test_cli_build_of_available_tasks_sizes_its_pool_once_they_are_known(monkeypatch, tmp_path,
                                                                          available, expected):
    # how many tasks have their files is known only once they are checked: no pool starts early
    # (the build sizes it), and one task left builds serial
    import flanzh.cli

    monkeypatch.setattr(flanzh.cli, "_available", lambda *args, **kwargs: available)
    used, started = _cli_build(monkeypatch, tmp_path, ["--tasks", "available", "--data-dir",
                                                       "{data}"], 4)
    assert (used, started) == (expected, [])


def _cli_build(monkeypatch, tmp_path, args: list[str], free: int) -> tuple[tuple, list]:
    """The (executor, workers) `flanzh build ARGS` hands the pipeline, with ``free`` of 4 CPUs
    free, and the worker counts of the pools it started itself."""
    from typer.testing import CliRunner

    import flanzh.executors
    import flanzh.build.pipeline
    from flanzh.cli import app

    used, started = [], []

    def fake_build(project, out, **kwargs):
        used.append((kwargs["executor"], kwargs["workers"]))
        raise SystemExit(0)

    monkeypatch.setattr(flanzh.executors, "free_cores", lambda: free)
    monkeypatch.setattr(flanzh.executors, "_cpus", lambda: 4)
    monkeypatch.setattr(flanzh.executors, "start_pool",
                        lambda workers, preload=(): started.append(workers))
    monkeypatch.setattr(flanzh.build.pipeline, "build", fake_build)
    result = CliRunner().invoke(app, ["build", "--out", str(tmp_path / "o"),
                                      *[a.format(data=tmp_path) for a in args]])
    assert len(used) == 1, result.output
    return used[0], started


def test_per_row_records_spread_over_processes_give_the_same_bytes(monkeypatch, tmp_path):
    import flanzh.executors
    import flanzh.render.templates as render
    from flanzh.build.pipeline import build

    tasks = ["ner_cluener", "re_duie2", "ee_tianchi_doclevel_attr", "dlg_chinese_persona_chat"]
    build(PROJECT, tmp_path / "serial", task_ids=tasks)
    monkeypatch.setattr(render, "_ROW_POOL", [])
    monkeypatch.setattr(render, "ROW_PROCESS_MIN", 1)
    monkeypatch.setattr(flanzh.executors, "free_cores", lambda: 2)
    try:
        build(PROJECT, tmp_path / "spread", task_ids=tasks)
        assert render._ROW_POOL and render._ROW_POOL[1] == 2       # the pool did the rendering
    finally:
        if render._ROW_POOL:
            render._ROW_POOL[0].shutdown()
    shards = sorted(p.relative_to(tmp_path / "serial")
                    for p in (tmp_path / "serial" / "data").rglob("*.parquet"))
    assert len(shards) >= len(tasks)
    for shard in shards:
        assert (tmp_path / "spread" / shard).read_bytes() == (tmp_path / "serial" / shard).read_bytes()
    manifest = (tmp_path / "serial" / "manifest.json").read_text("utf-8")
    assert (tmp_path / "spread" / "manifest.json").read_text("utf-8") == manifest


def test_a_loop_filter_that_could_fail_on_an_item_stays_row_by_row():
    """``for c in items if c[0] == ...``: jinja2 fails the row on an empty item, where a polars
    filter would only drop the item, so such a loop is not compiled; a slice (which cannot fail
    on a text) is."""
    from flanzh.render.sandbox import make_environment
    from flanzh.render.vectorise import Unsupported, compile_expression

    task = load_task(PROJECT, "gec_md_scs")
    env = make_environment()
    with pytest.raises(Unsupported):
        compile_expression(task, env.parse(
            "{% for c in corrections if c[0] == '甲' %}{{ c }}{% endfor %}"))
    compile_expression(task, env.parse(
        "{% for c in corrections if c[:1] == '甲' %}{{ c[-1] }}{% endfor %}"))


@pytest.mark.parametrize("source", [
    "  问：{{ sentence1 }}\n答：  \n",          # text at both ends: stripped once, when compiled
    "{{ sentence1 }}\n请判断。\n",              # a field first: its row's text stripped
    "请判断：{{ sentence2 }}",                  # a field last
    " \n ",                                     # whitespace only
    "  只有文字  ",
    "{% if sentence1 %}  有{% endif %}{{ sentence2 }}  ",
])
def test_outputs_are_stripped_as_on_the_jinja2_path(source):
    """The polars form strips only the ends that can hold whitespace at run time; the text at
    the template's ends is stripped when compiled."""
    import dataclasses

    from flanzh.build.pipeline import DEFAULT_SEED
    from flanzh.render.formats import ITEMS_SCHEMA, Plan
    from flanzh.render.templates import render_plan
    from flanzh.spec.specs import TemplateSpec

    task = load_task(PROJECT, "sim_afqmc")
    template = TemplateSpec("t", source, "{{ sentence2 }}", choices_in_prompt=False,
                            target_in_choices=False, inverted=False)
    task = dataclasses.replace(task, templates=[template])
    compiled = compile_templates(task)
    assert compiled[0].vector is not None
    values = [("  花呗  ", "\u3000借呗\n"), ("", " "), ("x", "y"), ("\n", "")]
    frame = pl.DataFrame([{KEY: f"k{i}", "__split": "train", "sentence1": a, "sentence2": b,
                           "label": "相同"} for i, (a, b) in enumerate(values)])
    items = pl.DataFrame([(i, 0, "zs_noopt", 0) for i in range(len(values))],
                         schema=ITEMS_SCHEMA, orient="row")
    plan = Plan(frame, frame.clear(), items, {}, 0)
    fast, slow = (render_plan(task, plan, DEFAULT_SEED, compiled, 3, vectorised=v)
                  for v in (True, False))
    assert fast[0].to_dicts() == slow[0].to_dicts() and fast[1] == slow[1]


def test_exemplars_are_rendered_once_per_plan_across_its_batches(monkeypatch):
    """Few-shot exemplar blocks are kept in the plan across its render batches (within
    BLOCKS_CACHE_BYTES): batches give the same records as without the cache, and a batch
    drawing only exemplars already shown renders none again."""
    from dataclasses import replace

    from test_tasks import sample_rows

    import flanzh.render.templates as templates
    from flanzh.build.pipeline import DEFAULT_SEED
    from flanzh.render.formats import ITEMS_SCHEMA, Plan

    task = load_task(PROJECT, "nli_ocnli")
    compiled = compile_templates(task)
    frame = pl.DataFrame(sample_rows(task), infer_schema_length=None)
    pool, queries = frame.gather_every(3), frame.filter(pl.int_range(pl.len()) % 3 != 0)
    items = pl.DataFrame(
        [(r, t, "fs" + ("_opt" if c.spec.choices_in_prompt else "_noopt"), 0)
         for t, c in enumerate(compiled) if c.vector for r in range(queries.height)],
        schema=ITEMS_SCHEMA, orient="row")
    rendered = []
    original = templates._render_bulk

    def counting(task, queries, compiled, items):
        rendered.append(items.height)
        return original(task, queries, compiled, items)

    monkeypatch.setattr(templates, "_render_bulk", counting)

    def batches(cache_bytes):
        monkeypatch.setattr(templates, "BLOCKS_CACHE_BYTES", cache_bytes)
        plan, out = Plan(queries, pool, items, {}, 0), []
        for start in (0, items.height // 2, 0):       # the last batch repeats the first
            batch = replace(plan, items=items.slice(start, items.height // 2))
            out.append(templates.render_plan(task, batch, DEFAULT_SEED, compiled, 3))
        return out

    rendered.clear()
    uncached, without = batches(0), list(rendered)
    rendered.clear()
    cached, with_cache = batches(1 << 30), list(rendered)
    assert [(f.to_dicts(), d) for f, d in cached] == [(f.to_dicts(), d) for f, d in uncached]
    assert cached[0][0]["exemplars"].max() > 0
    # without the cache every batch renders the exemplars it draws (the third as many as the
    # first); with it, the second only those the first did not show, the third none
    assert len(without) == 3 and without[2] == without[0]
    assert len(with_cache) == 2 and with_cache[0] == without[0] and with_cache[1] < without[1]


@pytest.mark.parametrize("style", ["abc", "abc_inline", "jiayi", "circled", "numbered"])
def test_marked_options_match_the_jinja_filter_at_every_length(style):
    """The options column with markers, built one position at a time, equals the template filter
    on every count of options the style can number, including none, and shows a missing option
    as it does; a row with more options (where the filter fails) or no options list gets null,
    and so does one over a given bound."""
    from flanzh.render import options as filters
    from flanzh.render.vectorise import _MARKED, OPTIONS, _marked_options

    limit = len(_MARKED[style][0])
    lists = [[f"选项{i}" if i != 1 else None for i in range(count)]      # (a missing option too)
             for count in range(limit + 2)] + [None]
    frame = pl.DataFrame({OPTIONS: lists}, schema={OPTIONS: pl.List(pl.Utf8)})
    got = frame.select(_marked_options(*_MARKED[style]).alias("text"))["text"].to_list()
    assert got == [getattr(filters, style)(o) for o in lists[:-2]] + [None, None]
    # per position, up to a bound past every row's count: the same texts
    whole = _marked_options(*_MARKED[style], bound=limit + 1)
    assert frame.select(whole.alias("text"))["text"].to_list() == got
    with pytest.raises(ValueError, match="too many"):
        getattr(filters, style)(lists[-2])
    bounded = frame.select(_marked_options(*_MARKED[style], bound=3).alias("text"))["text"]
    assert bounded.to_list() == got[:4] + [None] * (len(lists) - 4)


def test_options_bound_is_the_most_options_any_row_is_shown():
    """The vector path builds marked options only up to options_bound: every task's sample rows get
    no more options than that, and a task with fixed choices reaches it."""
    from test_tasks import sample_rows

    from flanzh.build.pipeline import DEFAULT_SEED
    from flanzh.render.choices import row_options
    from flanzh.render.vectorise import options_bound
    from flanzh.spec.specs import load_tasks

    checked = 0
    for task in load_tasks(PROJECT):
        if not task.has_choices:
            assert options_bound(task) is None
            continue
        counts = [len(row_options(task, row, DEFAULT_SEED)) for row in sample_rows(task)]
        bound = options_bound(task)
        assert bound is None or max(counts) <= bound, task.id
        if task.choices is not None:
            assert max(counts) == bound, task.id
            checked += 1
    assert checked > 10
