"""Empty against missing: a required field whose value is empty (an empty CSV/TSV cell, a JSON
"", only whitespace, []) is dropped as ``empty_field:<field>``; one with no value (the key or the
cell absent, null) as ``missing_field:<field>``, the same in every flat format."""

import json
from collections import Counter

import polars as pl
import pytest

from flanzh.build.pipeline import build
from flanzh.read.normalise import normalise
from flanzh.read.readers import KEY, biomedical_qa, flat
from flanzh.spec.specs import FieldSpec, load_task
from test_hostile_data import afqmc_as, good, rejects_of

from conftest import PROJECT


@pytest.fixture(scope="module")
def afqmc():
    return load_task(PROJECT, "sim_afqmc")


def dropped_by(project, out):
    return build(project, out)["tasks"]["sim_afqmc"]["dropped"]


@pytest.mark.parametrize("fmt,sep", [("csv", ","), ("tsv", "\t")])
def test_an_empty_cell_is_empty_and_a_cell_the_row_leaves_out_is_missing(tmp_path, fmt, sep):
    lines = ["sentence1,sentence2,label".replace(",", sep)]
    lines += [sep.join(good(i, label=str(i % 2)).values()) for i in range(22)]
    lines += [sep.join(["花呗能分期吗", "借呗能分期吗", ""]),          # label cell empty
              sep.join(["", "借呗怎么还款", "1"]),                     # sentence1 cell empty
              sep.join(["花呗逾期了怎么办", "借呗逾期", "  "]),          # label cell blank
              sep.join(["花呗怎么关闭", "借呗怎么关闭"])]              # no label cell at all
    project = afqmc_as(tmp_path / "p", fmt, ("\n".join(lines) + "\n").encode("utf-8"))
    entry = build(project, tmp_path / "out")["tasks"]["sim_afqmc"]
    assert entry["rows_read"] == 26
    assert entry["dropped"] == {"empty_field:label": 2, "empty_field:sentence1": 1,
                                "missing_field:label": 1}
    assert entry["rows_written"] == 22
    labels = sorted((r["reason"], json.loads(r["excerpt"])["label"])
                    for r in rejects_of(tmp_path / "out") if r["reason"].endswith(":label"))
    assert labels == [("empty_field:label", ""), ("empty_field:label", "  "),
                      ("missing_field:label", None)]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_json_empty_string_is_empty_and_an_absent_key_or_null_is_missing(tmp_path, fmt):
    rows = [good(i, label=str(i % 2)) for i in range(22)]
    rows += [{"sentence1": "花呗能分期吗", "sentence2": "借呗能分期吗", "label": ""},
             {"sentence1": "花呗能分期吗", "sentence2": "借呗能分期吗", "label": " "},
             {"sentence1": "花呗怎么关闭", "sentence2": "借呗怎么关闭"},
             {"sentence1": "花呗怎么开通", "sentence2": "借呗怎么开通", "label": None},
             {"sentence1": "", "sentence2": "借呗怎么还款", "label": "1"}]
    if fmt == "jsonl":
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        data = json.dumps(rows, ensure_ascii=False)
    project = afqmc_as(tmp_path / "p", fmt, data.encode("utf-8"))
    assert dropped_by(project, tmp_path / "out") == {
        "empty_field:label": 2, "missing_field:label": 2, "empty_field:sentence1": 1}


def test_normalise_checks_an_empty_label_before_its_map(afqmc):
    frame = pl.DataFrame({KEY: ["0", "1", "2", "3"], "sentence1": ["甲"] * 4,
                          "sentence2": ["乙"] * 4, "label": ["", "\u3000", None, "7"]})
    out, dropped, _ = normalise(afqmc, frame, "train")
    assert out.height == 0
    assert dropped == Counter({"empty_field:label": 2, "missing_field:label": 1,
                               "invalid_label:label": 1})


def test_a_label_map_with_a_blank_key_keeps_the_blank_label(afqmc):
    from dataclasses import replace

    label = replace(afqmc.fields["label"], label_map={"": "不确定", "1": "相同", "0": "不同"})
    task = replace(afqmc, fields={**afqmc.fields, "label": label})
    frame = pl.DataFrame({KEY: ["0"], "sentence1": ["甲"], "sentence2": ["乙"], "label": [""]})
    out, dropped, _ = normalise(task, frame, "train")
    assert out["label"].to_list() == ["不确定"] and not dropped


def test_an_empty_csv_cell_read_as_a_number_is_empty_unless_the_field_is_optional(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,score,rank\n好,1,3\n坏,,4\n中,2,\n差, ,5\n", "utf-8")
    fields = {"text": FieldSpec("text", "text", "str"),
              "score": FieldSpec("score", "score", "int"),
              "rank": FieldSpec("rank", "rank", "int", optional=True)}
    result = flat.read([path], fmt="csv", encoding="utf-8", options={}, label="t", fields=fields)
    assert result.dropped == Counter({"empty_field:score": 2})
    assert [(r["line"], r["excerpt"]) for r in result.rejects] == [(3, "坏,,4"), (5, "差, ,5")]
    assert result.frame.drop(KEY).rows() == [("好", 1, 3), ("中", 2, None)]


def test_a_biomedical_question_with_an_empty_answer_is_empty_and_one_without_is_missing(tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    base = {"questionType": "最佳选择题", "questionText": "治疗高血压的首选药物是",
            "option": ["A.硝苯地平", "B.维拉帕米"], "year": "2022", "subject": "药理学"}
    rows = [{**base, "questionId": "q1", "answer": []},
            {**base, "questionId": "q2", "answer": ""},
            {**base, "questionId": "q3"},
            {**base, "questionId": "q4", "answer": ["B"]}]
    path = folder / "train.json"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    frame = biomedical_qa.read([path], fmt="biomedical_qa", encoding="utf-8", options={},
                               label="t").frame
    assert frame["answer"].to_list() == ["", "", None, "维拉帕米"]
    task = load_task(PROJECT, "qa_chinese_biomedical")
    _, dropped, _ = normalise(task, frame, "train")
    assert dropped == Counter({"empty_field:answer": 2, "missing_field:answer": 1})
