"""Hostile values in flat sources (JSON lines, a JSON array, CSV, TSV): one odd value never changes
how the other rows read, a bad row is counted by reason with its file and line, and nothing raises
anything but a flanzh error."""

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flanzh.build.pipeline import build
from flanzh.errors import FlanzhError, SourceError, SpecError
from flanzh.project import Project
from flanzh.read.normalise import normalise
from flanzh.read.readers import flat
from flanzh.read.sources import SourceMode, read_split
from flanzh.spec.specs import load_task

REPO = Path(__file__).resolve().parent.parent
HEADER = ["sentence1", "sentence2", "label"]


def task_project(root: Path, task_id: str) -> Project:
    for folder in ("task_specs", "templates"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / folder / f"{task_id}.yaml", root / folder / f"{task_id}.yaml")
    shutil.copytree(REPO / "samples" / task_id, root / "samples" / task_id)
    return Project(root)


def encode(fmt: str, rows: list[dict]) -> bytes:
    """``rows`` written as a file of ``fmt`` (None is an empty cell in CSV/TSV)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1).encode("utf-8")
    out = io.StringIO()
    # "\r\n" ends a record, so the writer quotes a cell holding a lone "\r" (a record break for
    # any CSV reader when bare)
    writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in HEADER])
    return out.getvalue().encode("utf-8")


def afqmc_as(root: Path, fmt: str, train: bytes, dev: bytes = b"") -> Project:
    """sim_afqmc, its train split in ``fmt``."""
    project = task_project(root, "sim_afqmc")
    spec = project.specs_dir / "sim_afqmc.yaml"
    name = {"jsonl": "train.json", "json": "train.json", "csv": "train.csv", "tsv": "train.tsv"}[fmt]
    text = spec.read_text("utf-8").replace("format: jsonl", f"format: {fmt}").replace(
        "files: {train: train.json, validation: dev.json}",
        f"files: {{train: {name}, validation: dev.{fmt}}}")
    spec.write_text(text, "utf-8")
    folder = project.samples_dir / "sim_afqmc"
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(train)
    (folder / f"dev.{fmt}").write_bytes(dev)
    return project


def good(i: int, label="1") -> dict:
    return {"sentence1": f"花呗第{i}个问题怎么办", "sentence2": f"借呗第{i}个问题", "label": label}


def rejects_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text("utf-8").splitlines()]


# 1. One odd value wipes a label column -----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_one_float_label_among_integer_labels_drops_only_that_row(tmp_path, fmt):
    rows = [good(i, label=i % 2) for i in range(30)]
    rows.insert(7, good(99, label=0.5))
    project = afqmc_as(tmp_path / "p", fmt, encode(fmt, rows))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["rows_read"] == 31
    assert entry["dropped"] == {"invalid_label:label": 1}
    assert entry["rows_written"] == 30
    (reject,) = rejects_of(tmp_path / "out")
    assert reject["reason"] == "invalid_label:label" and '"label": "0.5"' in reject["excerpt"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_one_empty_label_cell_drops_only_that_row(tmp_path, fmt):
    rows = [good(i, label=i % 2) for i in range(25)]
    rows.insert(3, good(99, label=None))
    project = afqmc_as(tmp_path / "p", fmt, encode(fmt, rows))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["rows_read"] == 26
    assert entry["dropped"] == {"empty_field:label": 1}     # the column is there, its cell empty
    assert entry["rows_written"] == 25


def test_the_bundled_csv_task_keeps_its_rows_when_one_label_cell_is_empty(tmp_path):
    project = task_project(tmp_path / "p", "cls_chnsenticorp_htl")
    path = project.samples_dir / "cls_chnsenticorp_htl" / "ChnSentiCorp_htl_all.csv"
    before = build(project, tmp_path / "before")["tasks"]["cls_chnsenticorp_htl"]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(',"前台小姐姐很耐心,帮我换了一间安静的房间."\n')
    after = build(project, tmp_path / "after")["tasks"]["cls_chnsenticorp_htl"]
    assert after["rows_read"] == before["rows_read"] + 1
    assert after["rows_written"] == before["rows_written"]
    expected = dict(before["dropped"])
    expected["empty_field:label"] = expected.get("empty_field:label", 0) + 1
    assert after["dropped"] == expected


def test_labels_and_numbers_are_read_as_written(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "b": 0.50, "c": 1e3, "d": true, "e": "007"}\n'
                    '{"a": 2, "b": 2, "c": 7, "d": false, "e": 8}\n', "utf-8")
    from flanzh.spec.specs import FieldSpec

    fields = {name: FieldSpec(name, name, "str", label_map={"1": "是"}) for name in "abcde"}
    frame = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                      fields=fields).frame
    assert frame.drop("__key").rows() == [("1", "0.50", "1e3", "true", "007"),
                                          ("2", "2", "7", "false", "8")]


# 2. One wrong-type row is a counted row, not a spec error ----------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_one_wrong_type_row_is_counted_with_file_and_line(tmp_path, fmt):
    rows = [good(i) for i in range(30)]
    rows[4] = {**rows[4], "sentence1": 5}
    rows[9] = {**rows[9], "sentence2": ["列表"]}
    rows[12] = {**rows[12], "label": {"值": 1}}
    project = afqmc_as(tmp_path / "p", fmt, encode(fmt, rows))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["dropped"] == {"wrong_type:sentence1": 1, "wrong_type:sentence2": 1,
                                "wrong_type:label": 1}
    assert entry["rows_written"] == 27
    by_reason = {r["reason"]: r for r in rejects_of(tmp_path / "out")}
    # JSON lines: row i is on line i + 1; the indented array puts row i's object on line 5 i + 2,
    # and two lines later after row 9's list (indented over three lines)
    assert [by_reason[f"wrong_type:{f}"]["line"] for f in ("sentence1", "sentence2", "label")] \
        == ([5, 10, 13] if fmt == "jsonl" else [22, 47, 64])
    assert by_reason["wrong_type:sentence1"]["file"] == "samples/sim_afqmc/train.json"
    assert '"sentence1": 5' in by_reason["wrong_type:sentence1"]["excerpt"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_csv_row_with_extra_cells_is_counted_with_its_line(tmp_path, fmt):
    sep = "\t" if fmt == "tsv" else ","
    lines = [sep.join(HEADER)]
    lines.append(sep.join(['"花呗\n换行的问题"', "借呗", "1"]))          # lines 2-3: one record
    lines += [sep.join([f"花呗第{i}个问题", f"借呗第{i}个", str(i % 2)]) for i in range(20)]
    lines.insert(6, sep.join(["多", "出", "1", "一格"]))                 # line 8
    project = afqmc_as(tmp_path / "p", fmt, ("\n".join(lines) + "\n").encode("utf-8"))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["rows_read"] == 22
    assert entry["dropped"] == {"bad_row": 1}
    (reject,) = rejects_of(tmp_path / "out")
    assert (reject["file"], reject["line"]) == (f"samples/sim_afqmc/train.{fmt}", 8)
    assert reject["excerpt"] == sep.join(["多", "出", "1", "一格"])


def test_a_csv_int_field_with_text_is_wrong_type(tmp_path):
    from flanzh.spec.specs import FieldSpec

    path = tmp_path / "t.csv"
    path.write_text("n,text\n1,甲\nabc,乙\n3,丙\n", "utf-8")
    fields = {"n": FieldSpec("n", "n", "int"), "text": FieldSpec("text", "text", "str")}
    result = flat.read([path], fmt="csv", encoding="utf-8", options={}, label="t", fields=fields)
    assert result.frame["n"].to_list() == [1, 3]
    assert result.dropped == {"wrong_type:n": 1}
    assert result.rejects == [{"reason": "wrong_type:n", "file": str(path), "line": 3,
                               "excerpt": "abc,乙"}]


def test_a_column_wrong_in_every_row_is_still_a_spec_error(tmp_path):
    rows = [{**good(i), "sentence1": [f"第{i}句"]} for i in range(5)]
    project = afqmc_as(tmp_path / "p", "jsonl", encode("jsonl", rows))
    with pytest.raises(SourceError) as error:
        build(project, tmp_path / "out")
    assert str(error.value) == ("task_specs/sim_afqmc.yaml: $.fields.sentence1: declared str but the "
                                "source column 'sentence1' is List(String); fix the type or the "
                                "'from' path")


def test_a_column_of_numbers_declared_str_is_read_as_text(tmp_path):
    rows = [{"sentence1": 100 + i, "sentence2": f"借呗第{i}个问题", "label": i % 2}
            for i in range(20)]
    project = afqmc_as(tmp_path / "p", "jsonl", encode("jsonl", rows))
    task = load_task(project, "sim_afqmc")
    read = read_split(project, task, "train", SourceMode())
    assert read.dropped == {}
    assert read.frame["sentence1"].to_list()[:2] == ["100", "101"]


# 3. Lone surrogates ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_lone_surrogate_is_a_counted_row(tmp_path, fmt):
    rows = [good(i) for i in range(30)]
    text = encode(fmt, rows).decode("utf-8")
    # row 6's first sentence gets a lone high surrogate escape (a low one on row 8)
    text = text.replace("花呗第6个问题怎么办", "花呗\\ud800第6个").replace("借呗第8个问题", "借\\udc00呗")
    project = afqmc_as(tmp_path / "p", fmt, text.encode("utf-8"))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["dropped"] == {"lone_surrogate:sentence1": 1, "lone_surrogate:sentence2": 1}
    assert entry["rows_written"] == 28
    lines = [r["line"] for r in rejects_of(tmp_path / "out")]
    assert lines == ([7, 9] if fmt == "jsonl" else [5 * 6 + 2, 5 * 8 + 2])   # where the row starts


def test_a_surrogate_pair_escape_is_good_text(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": "笑\\ud83d\\ude00", "b": "\\\\ud800 is not an escape"}\n', "utf-8")
    result = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t")
    assert result.dropped == {}
    assert result.frame["a"].to_list() == ["笑😀"]
    assert result.frame["b"].to_list() == ["\\ud800 is not an escape"]


# 4. A source with no rows ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,content", [("csv", "sentence1,sentence2,label\n"),
                                         ("tsv", "sentence1\tsentence2\tlabel\r\n"),
                                         ("json", "[]\n"), ("jsonl", "\n\n")])
def test_a_source_with_no_rows_builds_an_empty_task(tmp_path, fmt, content):
    project = afqmc_as(tmp_path / "p", fmt, content.encode("utf-8"), dev=content.encode("utf-8"))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert (entry["rows_read"], entry["rows_written"], entry["dropped"]) == (0, 0, {})


# 5. Unknown encodings are refused by validate ----------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-9", "base64"])
def test_an_unknown_encoding_is_a_spec_error(tmp_path, encoding):
    project = task_project(tmp_path / "p", "sim_afqmc")
    spec = project.specs_dir / "sim_afqmc.yaml"
    spec.write_text(spec.read_text("utf-8").replace("encoding: utf-8", f"encoding: {encoding}"),
                    "utf-8")
    with pytest.raises(SpecError) as error:
        load_task(project, "sim_afqmc")
    assert error.value.problems == [
        f"task_specs/sim_afqmc.yaml: $.source.encoding: '{encoding}' is not a text encoding "
        "Python knows; use one such as utf-8, gb18030, gbk, big5 or utf-16"]


def test_validate_and_lint_refuse_an_unknown_encoding(tmp_path, monkeypatch, capsys):
    from flanzh.cli import main

    project = task_project(tmp_path / "p", "sim_afqmc")
    spec = project.specs_dir / "sim_afqmc.yaml"
    spec.write_text(spec.read_text("utf-8").replace("encoding: utf-8", "encoding: klingon"), "utf-8")
    line = spec.read_text("utf-8").splitlines().index("  encoding: klingon") + 1
    for command, where in (("validate", ""), ("lint", f":{line}")):
        monkeypatch.setattr("sys.argv", ["flanzh", "--root", str(project.root), command])
        with pytest.raises(SystemExit) as exit_info:
            main()
        assert exit_info.value.code == 1
        assert capsys.readouterr().err == (
            f"Error: task_specs/sim_afqmc.yaml{where}: $.source.encoding: 'klingon' is not a text encoding "
            "Python knows; use one such as utf-8, gb18030, gbk, big5 or utf-16\n")


# 6. What was read is what is in the file now -----------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_edit_with_the_same_size_and_mtime_is_read(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(encode(fmt, [good(1, "0")]))
    stamp = path.stat()
    first = flat.read([path], fmt=fmt, encoding="utf-8", options={}, label="t").frame
    path.write_bytes(encode(fmt, [good(2, "1")]))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_size == stamp.st_size
    second = flat.read([path], fmt=fmt, encoding="utf-8", options={}, label="t").frame
    assert first["sentence1"].to_list() == ["花呗第1个问题怎么办"]
    assert second["sentence1"].to_list() == ["花呗第2个问题怎么办"]


# Property: any mix of value shapes keeps rows in = rows kept + rows dropped ----------------------

_TEXT = st.text(alphabet=st.sampled_from("花呗借 ab1\"',\t\\\n\r"), max_size=6)
_SCALAR = st.one_of(st.none(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                    st.booleans(), st.just(""), _TEXT, st.sampled_from(["0", "1", "\ud800", "\udc00x"]))
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_TEXT, inner, max_size=3)),
                      max_leaves=6)
_ROW = st.fixed_dictionaries({}, optional={c: _VALUE for c in HEADER})


def _surrogate_safe(fmt, rows):
    """CSV cells are text: nested values as their JSON text; a lone surrogate cannot be encoded
    in a UTF-8 CSV file, so it is written as its escape."""
    if fmt not in ("csv", "tsv"):
        return rows
    out = []
    for row in rows:
        cells = {}
        for key, value in row.items():
            if value is not None and not isinstance(value, str):
                value = json.dumps(value)
            cells[key] = value.encode("utf-8", "backslashreplace").decode("utf-8") \
                if value is not None else None
        out.append(cells)
    return out


@pytest.fixture(scope="module")
def afqmc_task(tmp_path_factory):
    root = tmp_path_factory.mktemp("hyp")
    return load_task(task_project(root, "sim_afqmc"), "sim_afqmc")


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv"])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(_ROW, max_size=8))
def test_any_value_shape_keeps_the_row_invariant(tmp_path_factory, afqmc_task, fmt, rows):
    rows = _surrogate_safe(fmt, rows)
    path = tmp_path_factory.mktemp("src") / f"train.{fmt}"
    if fmt == "jsonl":          # dumps escapes lone surrogates, as a real file would hold them
        data = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
    elif fmt == "json":
        data = json.dumps(rows).encode("utf-8")
    else:
        data = encode(fmt, rows)
    path.write_bytes(data)
    try:
        read = flat.read([path], fmt=fmt, encoding="utf-8", options={}, label="t",
                         fields=afqmc_task.fields)
        frame, dropped, _ = normalise(afqmc_task, read.frame, "train")
    except FlanzhError as exc:
        # only a column wrong in every row (or missing from every row) may fail the task
        assert re.search(r"\$\.fields\.\w+: (declared|source column)", str(exc)), str(exc)
        return
    assert len(rows) == frame.height + sum(dropped.values()) + sum(read.dropped.values())
    assert frame.height == read.frame.height - sum(dropped.values())
    # polars' one-pass read, when taken, is exactly the row-by-row read
    by_row = flat.read_rows([path], fmt=fmt, encoding="utf-8", options={}, label="t",
                            fields=afqmc_task.fields)
    assert (read.dropped, read.rejects) == (by_row.dropped, by_row.rejects)
    used = [c for c in read.frame.columns if c in ("__key", *HEADER)]
    assert read.frame.select(used).equals(by_row.frame.select(used))
    for value in frame["sentence1"].to_list() + frame["sentence2"].to_list():
        value.encode("utf-8")                                # every kept text is real text


def _field(name: str, type_: str, source: str | None = None, optional: bool = False):
    from flanzh.spec.specs import FieldSpec
    return {name: FieldSpec(name, source or name, type_, optional=optional)}


class _Raw(str):
    """A JSON number written exactly as this text (json.dumps never writes -0 or 2E0)."""


_CLEANISH = st.one_of(_TEXT, st.sampled_from(["", "123", "[1]", "true", "0.50"]),
                      st.integers(0, 3), st.sampled_from([0.5, 1.0, True, None]),
                      st.sampled_from([_Raw("-0"), _Raw("2E0"), _Raw("1e+2"), _Raw("-0.0"),
                                       _Raw("10")]))
_WORDS = st.one_of(st.none(), st.lists(st.one_of(_TEXT, st.sampled_from(["1", "true"]),
                                                 st.integers(0, 2), st.just(True),
                                                 st.just(_Raw("1.0"))), max_size=3))
# how a writer lays a line out: (between items, between a key and its value), ASCII escapes
_LAYOUT = st.tuples(st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : "), (",\t", "\t:\t")]),
                    st.booleans())


def _dumps(value, layout) -> str:
    (item, key), ascii_only = layout
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, list):
        return "[" + item.join(_dumps(v, layout) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + item.join(json.dumps(k, ensure_ascii=ascii_only) + key + _dumps(v, layout)
                               for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


_CLEAN_ROWS = st.lists(st.fixed_dictionaries(
    {"sentence1": _TEXT, "sentence2": _TEXT, "label": st.sampled_from(["0", "1", "2"])},
    optional={"words": st.lists(_TEXT, max_size=3)}), min_size=1, max_size=6)
# at most two odd values a file (in a field's column, or in one no field reads), so that many
# files are clean and polars' one-pass read is taken: the check compares something
_DIRT = st.lists(st.tuples(st.integers(0, 5), st.sampled_from([*HEADER, "words", "score"]),
                           st.one_of(_CLEANISH, _WORDS)), max_size=2)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=_CLEAN_ROWS, dirt=_DIRT, late=st.booleans(), layout=_LAYOUT)
def test_the_one_pass_read_is_the_row_by_row_read(tmp_path_factory, afqmc_task, rows, dirt,
                                                  late, layout):
    """Mostly clean JSON lines, where polars' one-pass read is often taken: it must give exactly
    the rows, values and drops of the row-by-row read (a key first seen after polars' default
    inference window included), however the lines are laid out and the numbers written."""
    for at, column, value in dirt:
        rows[at % len(rows)][column] = value
    if late:
        rows = [{k: v for k, v in good(i).items() if k != "label"} for i in range(150)] + rows
    path = tmp_path_factory.mktemp("clean") / "train.jsonl"
    path.write_text("".join(_dumps(r, layout) + "\n" for r in rows), "utf-8")
    fields = {**afqmc_task.fields, **_field("words", "list[str]", optional=True)}
    args = dict(fmt="jsonl", encoding="utf-8", options={}, label="t", fields=fields)
    fast, slow = flat.read([path], **args), flat.read_rows([path], **args)
    assert (fast.dropped, fast.rejects) == (slow.dropped, slow.rejects)
    # the one-pass read reads only the fields' columns; those must be equal, value for value
    columns = sorted(c for c in slow.frame.columns if c in ("__key", *fields))
    assert sorted(c for c in fast.frame.columns if c in ("__key", *fields)) == columns
    assert fast.frame.select(columns).equals(slow.frame.select(columns)), (fast.frame, slow.frame)


def test_clean_json_lines_take_the_one_pass_read(tmp_path, afqmc_task, monkeypatch):
    path = tmp_path / "train.jsonl"
    path.write_bytes(encode("jsonl", [good(i, label=i % 2) for i in range(5)]))
    monkeypatch.setattr(flat, "read_rows", None)           # fails if the row reader is used
    frame = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                      fields=afqmc_task.fields).frame
    assert frame["label"].to_list() == ["0", "1", "0", "1", "0"]


def test_the_one_pass_read_reads_only_the_fields_columns_without_inferring(tmp_path, afqmc_task,
                                                                            monkeypatch):
    # inferring types is a whole extra pass over the file; the fields already give every type
    path = tmp_path / "train.jsonl"
    path.write_bytes(encode("jsonl", [{**good(i, label=i % 2), "extra": i} for i in range(5)]))
    calls = []
    real = flat.pl.read_ndjson
    monkeypatch.setattr(flat.pl, "read_ndjson", lambda data, **kw: calls.append(kw) or
                        real(data, **kw))
    frame = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                      fields=afqmc_task.fields).frame
    assert [sorted(kw) for kw in calls] == [["schema"]]
    assert "extra" not in frame.columns and frame["label"].to_list() == ["0", "1", "0", "1", "0"]


def test_an_integral_float_label_is_read_as_written_not_as_polars_prints_it(tmp_path, afqmc_task):
    # polars would read 1.0 into a text column as "1"; the row reader keeps "1.0" (no such label)
    path = tmp_path / "train.jsonl"
    path.write_bytes(encode("jsonl", [good(0, label=1), good(1, label=1.0)]))
    read = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                     fields=afqmc_task.fields)
    assert read.frame["label"].to_list() == ["1", "1.0"]


_PAIR = '{"sentence1":"花呗","sentence2":"借呗",'.encode("utf-8")


@pytest.mark.parametrize("lines, labels", [
    # a label column of strings with one integral float: polars reads it as text, 1.0 as "1"
    ([b'"label":""}', b'"label":1.0}'], ["", "1.0"]),
    # whitespace between a key and its colon, where the fields' schema would read 1.0 as "1"
    ([b'"label" : 1.0}'], ["1.0"]),
    ([b'"label"\t:\t2E0}'], ["2E0"]),
    # minus zero, which polars writes as "0"
    ([b'"label":-0}', b'"label":"1"}'], ["-0", "1"]),
    ([b'"label":-0}'], ["-0"]),
], ids=["mixed", "space-before-colon", "tab-exponent", "minus-zero-mixed", "minus-zero"])
def test_a_number_polars_would_print_otherwise_keeps_its_text(tmp_path, afqmc_task, lines,
                                                              labels):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"".join(_PAIR + line + b"\n" for line in lines))
    args = dict(fmt="jsonl", encoding="utf-8", options={}, label="t", fields=afqmc_task.fields)
    fast, slow = flat.read([path], **args), flat.read_rows([path], **args)
    assert fast.frame["label"].to_list() == slow.frame["label"].to_list() == labels


def test_a_key_written_twice_keeps_its_first_value_on_both_reads(tmp_path, afqmc_task):
    # polars takes the first value; Python's json alone would take the last
    path = tmp_path / "train.jsonl"
    path.write_bytes(_PAIR + b'"label":"1","label":"0"}\n' + _PAIR + b'"label":"0"}\n')
    args = dict(fmt="jsonl", encoding="utf-8", options={}, label="t", fields=afqmc_task.fields)
    fast, slow = flat.read([path], **args), flat.read_rows([path], **args)
    assert fast.frame["label"].to_list() == slow.frame["label"].to_list() == ["1", "0"]


def test_a_list_of_texts_holding_a_number_or_a_boolean_counts_the_row_as_wrong(tmp_path):
    # polars would read ["a", 1] into a list of texts as ["a", "1"]
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"words": ["a", "b"]}\n{"words": ["a", 1]}\n{"words": ["a", true]}\n')
    args = dict(fmt="jsonl", encoding="utf-8", options={}, label="t",
                fields=_field("words", "list[str]"))
    fast, slow = flat.read([path], **args), flat.read_rows([path], **args)
    assert fast.frame["words"].to_list() == slow.frame["words"].to_list() == [["a", "b"]]
    assert fast.dropped == slow.dropped == {"wrong_type:words": 2}


@pytest.mark.parametrize("fields", [_field("spans", "list"), _field("first", "str", "span.start")],
                         ids=["list-of-records", "path-into-an-object"])
def test_records_of_mixed_shapes_are_refused_not_made_alike(tmp_path, fields):
    path = tmp_path / "train.jsonl"
    if "spans" in fields:
        # polars would read the first row's start as "1" (and on its own, the second's as null)
        path.write_bytes(b'{"spans": [{"start": 1}]}\n{"spans": [{"start": "7"}]}\n')
        where, value = 1, '[{"start": 1}]'
    else:
        # polars would read the second row's start as "1"
        path.write_bytes(b'{"span": {"start": "a"}}\n{"span": {"start": 1.0}}\n')
        where, value = 2, '{"start": 1.0}'
    column = next(iter(fields.values()))
    expected = (f"{path}:{where}: column '{column.source.split('.')[0]}' ({column.name}, "
                f"{column.type}): the value {value} does not have the shape of the other rows' "
                "values; make them alike, or declare the field with the shape they have")
    for read in (flat.read, flat.read_rows):
        with pytest.raises(SourceError) as error:
            read([path], fmt="jsonl", encoding="utf-8", options={}, label="t", fields=fields)
        assert str(error.value) == expected


@pytest.mark.parametrize("data, fields, values", [
    # records whose keys vary from row to row: every key is a field of the column
    (b'{"v": {"a": "x"}}\n{"v": {"a": "y", "extra": 1}}\n', _field("va", "str", "v.a"),
     ["x", "y"]),
    (b'{"v": {}}\n{"v": {"a": "x"}}\n', _field("va", "str", "v.a", optional=True), [None, "x"]),
    (b'{"v": [{"text": "b"}]}\n{"v": [{"text": "a", "start": 1}]}\n', _field("v", "list"),
     [[{"text": "b", "start": None}], [{"text": "a", "start": 1}]]),
    # NaN, as Python's json.dumps writes it, is a value like any float
    (b'{"v": [1.5, NaN]}\n', _field("v", "list"), None),
], ids=["extra-key", "empty-record", "list-of-records", "nan"])
def test_records_that_differ_only_in_their_keys_are_read(tmp_path, data, fields, values):
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    read = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                     fields=fields)
    name, spec = next(iter(fields.items()))
    column = read.frame[spec.source.split(".")[0]]
    got = column.struct.field("a").to_list() if "." in spec.source else column.to_list()
    if values is None:
        assert len(got) == 1 and got[0][0] == 1.5 and got[0][1] != got[0][1]
    else:
        assert got == values


def test_a_colon_and_a_fraction_inside_a_text_keep_the_one_pass_read(tmp_path, afqmc_task,
                                                                     monkeypatch):
    # a numbered step inside a text, and a score no field reads, are not label values
    path = tmp_path / "train.jsonl"
    path.write_text('{"sentence1":"步骤: 1. 打开花呗","sentence2":"借呗","label":"1","score":0.87}\n'
                    '{"sentence1":"花呗","sentence2":"借呗","label":"0", "score" : 1.0}\n', "utf-8")
    monkeypatch.setattr(flat, "read_rows", None)           # fails if the row reader is used
    frame = flat.read([path], fmt="jsonl", encoding="utf-8", options={}, label="t",
                      fields=afqmc_task.fields).frame
    assert frame["label"].to_list() == ["1", "0"]


def test_parquet_is_read_by_polars_and_a_broken_one_names_the_file(tmp_path, afqmc_task):
    import polars as pl

    path = tmp_path / "train.parquet"
    pl.DataFrame({"sentence1": ["甲", "乙"], "sentence2": ["丙", "丁"], "label": [1, None]}) \
        .write_parquet(path)
    frame = flat.read([path], fmt="parquet", encoding="utf-8", options={}, label="t").frame
    out, dropped, _ = normalise(afqmc_task, frame, "train")
    assert out["label"].to_list() == ["相同"] and dropped == {"missing_field:label": 1}
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(SourceError) as error:
        flat.read([path], fmt="parquet", encoding="utf-8", options={}, label="t")
    assert str(error.value).startswith(f"{path}: cannot read as parquet: ")


def test_a_broken_json_array_names_its_line(tmp_path):
    path = tmp_path / "train.json"
    path.write_text('[\n {"a": "好"},\n {"a": "坏",\n]\n', "utf-8")
    with pytest.raises(SourceError) as error:
        flat.read([path], fmt="json", encoding="utf-8", options={}, label="t")
    assert str(error.value) == (f"{path}: line 4: not valid JSON (Expecting property name "
                                "enclosed in double quotes); expected a JSON array of objects, or "
                                "one JSON object per line")


def test_a_csv_header_naming_a_column_twice_is_an_error(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("\ntext,label,text\n甲,1,乙\n", "utf-8")
    with pytest.raises(SourceError) as error:
        flat.read([path], fmt="csv", encoding="utf-8", options={}, label="t")
    assert str(error.value) == (f"{path}: line 2: the header names column 'text' twice; give "
                                "every column its own name")


@pytest.mark.parametrize("encoding", ["rot13", "no-such-codec"])
def test_a_reader_refuses_a_codec_that_does_not_decode_bytes(tmp_path, encoding):
    from flanzh.encoding import read_text

    path = tmp_path / "train.jsonl"
    path.write_text('{"a": "好"}\n', "utf-8")
    message = (f"t: $.source.encoding: '{encoding}' is not a text encoding Python knows; use one "
               "such as utf-8, gb18030, gbk, big5 or utf-16")
    for fmt in ("jsonl", "csv"):
        with pytest.raises(SourceError) as error:
            flat.read([path], fmt=fmt, encoding=encoding, options={}, label="t")
        assert str(error.value) == message
    with pytest.raises(SourceError) as error:          # what the nested readers use
        read_text(path, encoding, "t")
    assert str(error.value) == message


def test_a_line_of_control_characters_is_a_counted_row_not_a_blank_line(tmp_path):
    """str.strip() takes \\x1c for whitespace, so such a line vanished uncounted (found by the
    line-count property test); only ASCII blanks make a line blank now."""
    from flanzh.read.readers.tolerant import read_json_lines

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": "1"}\n\x1c\n  \n{"a": "2"}\n')
    result = read_json_lines([path], "utf-8", "x")
    assert result.frame.height == 2 and dict(result.dropped) == {"bad_json": 1}
