"""What a newcomer meets first: --version, the categories in new-task --help, and the generated
references (spec fields, template filters, drop reasons) kept in step with the code."""

import json

from typer.testing import CliRunner

from conftest import REPO
from flanzh import __version__
from flanzh.cli import app


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"flanzh {__version__}\n"


def test_new_task_help_lists_every_category():
    schema = json.loads((REPO / "flanzh" / "spec" / "schemas" / "task_spec.schema.json").read_text("utf-8"))
    result = CliRunner().invoke(app, ["new-task", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for category in schema["properties"]["category"]["enum"]:
        assert category in text, category


def test_generated_docs_are_current():
    from conftest import PROJECT
    from flanzh.contrib.catalog import generated_docs

    for name, text in generated_docs(PROJECT).items():
        path = PROJECT.root / name
        assert path.is_file() and path.read_text("utf-8") == text, \
            f"{name} is stale: run `flanzh catalog` and commit it"


def test_every_schema_key_says_what_it_does():
    from flanzh.contrib.reference import _load, _rows

    for name in ("task_spec.schema.json", "templates.schema.json", "mixture.schema.json"):
        schema, rows = _load(name), []
        _rows(schema, schema, "", set(schema.get("required", [])), rows)
        undocumented = [key for key, _, _, _, text in rows if not text]
        assert not undocumented, f"{name}: describe {', '.join(undocumented)}"


def test_spec_reference_lists_every_filter_and_test():
    from flanzh.contrib.reference import render_reference
    from flanzh.render.sandbox import ALLOWED_FILTERS, ALLOWED_TESTS

    text = render_reference("docs/spec.md")
    for name in ALLOWED_FILTERS | ALLOWED_TESTS:
        assert f"`{name}`" in text, name
    assert "`letter_of`" in text and "`abc_inline`" in text and "`split`" in text


def test_split_filter_takes_the_part_before_a_mark():
    from flanzh.render.sandbox import make_environment

    env = make_environment()
    template = env.from_string("{{ note | split('★') | first }}")
    assert template.render(note="～床前明月光★李白《静夜思》") == "～床前明月光"


def test_every_drop_reason_a_sample_build_counts_is_documented(built):
    from flanzh.spec.reasons import known

    _, manifest = built
    reasons = {r for t in manifest["tasks"].values() for r in t["dropped"]}
    assert reasons and not [r for r in sorted(reasons) if not known(r)]


def test_every_reason_a_reader_passes_literally_is_documented():
    import re

    from flanzh.spec.reasons import known

    pattern = re.compile(r"""\.(?:reject|skip)\(\s*f?["']([a-z_]+:?)""")
    found = {m.group(1) for path in (REPO / "flanzh").rglob("*.py")
             for m in pattern.finditer(path.read_text("utf-8"))}
    assert len(found) > 30
    missing = sorted(r for r in found if not known(r if not r.endswith(":") else r + "x"))
    assert not missing, f"add to flanzh/spec/reasons.py: {', '.join(missing)}"


def test_the_minimal_reader_in_contributing_works(tmp_path):
    """The reader example in CONTRIBUTING.md runs as written (its relative imports made absolute)
    and keeps the contract: a __key column, the raw columns, every skipped row counted."""
    import re
    import textwrap

    text = (REPO / "CONTRIBUTING.md").read_text("utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    code = textwrap.dedent(block).replace("from . import", "from flanzh.read.readers import") \
        .replace("from ..encoding import", "from flanzh.encoding import")
    namespace: dict = {}
    exec(compile(code, "CONTRIBUTING.md", "exec"), namespace)
    path = tmp_path / "idioms.txt"
    path.write_text("画蛇添足\t做多余的事反而坏事\n没有意思的一行\n守株待兔\t死守经验不知变通\n", "utf-8")
    result = namespace["read"]([path], fmt="idiom_lines", encoding="utf-8", options={}, label="t")
    assert result.frame.columns == ["__key", "idiom", "meaning"]
    assert result.frame["idiom"].to_list() == ["画蛇添足", "守株待兔"]
    assert dict(result.dropped) == {"wrong_column_count": 1}


def test_a_row_too_long_for_its_template_is_rendered_with_one_that_fits(mini_project, tmp_path):
    """Issue 17: a row whose drawn template made too long a target was dropped
    (targets_too_long) although other templates fit; now it is kept with the first that does."""
    import yaml

    from flanzh.build.pipeline import build

    path = mini_project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    for template in document["templates"]:     # one wordy template among the no-options ones
        if not template.get("choices_in_prompt"):
            template["target"] = "{{ label }}" + "（" + "很" * 60 + "）"
            template["target_in_choices"] = False
            break
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    spec_path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(spec_path.read_text("utf-8"))
    spec["limits"] = {**spec.get("limits", {}), "targets_max_chars": 40}
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    manifest = build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    entry = manifest["tasks"]["sim_afqmc"]
    assert entry["dropped"].get("targets_too_long", 0) == 0
    assert entry["rows_written"] == entry["rows_read"] - sum(entry["dropped"].values())
    assert entry["rows_written"] == 30
