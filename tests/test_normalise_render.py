"""Normalisation (field mapping, verbalizers, counted drops), option display and shuffling."""

from collections import Counter

import polars as pl
import pytest

from conftest import PROJECT
from flanzh.errors import SourceError
from flanzh.read.normalise import normalise
from flanzh.read.readers import KEY
from flanzh.render import options
from flanzh.render.templates import compile_templates, render_frame
from flanzh.spec.specs import load_task


@pytest.fixture(scope="module")
def afqmc():
    return load_task(PROJECT, "sim_afqmc")


def frame(rows):
    return pl.DataFrame([{KEY: str(i), **r} for i, r in enumerate(rows)])


def test_labels_are_verbalised_and_bad_rows_counted_by_first_reason(afqmc):
    rows = [
        {"sentence1": "甲", "sentence2": "乙", "label": "1"},
        {"sentence1": "甲", "sentence2": "乙", "label": "-"},
        {"sentence1": None, "sentence2": "乙", "label": "1"},
        {"sentence1": "  ", "sentence2": "乙", "label": "0"},
        {"sentence1": "甲", "sentence2": "乙", "label": None},
    ]
    out, dropped, _ = normalise(afqmc, frame(rows), "train")
    assert out.to_dicts() == [{KEY: "0", "__split": "train", "sentence1": "甲", "sentence2": "乙",
                               "label": "相同"}]
    assert dropped == Counter({"invalid_label:label": 1, "missing_field:sentence1": 1,
                               "empty_field:sentence1": 1, "missing_field:label": 1})


def test_integer_labels_from_a_hub_copy_are_mapped(afqmc):
    rows = pl.DataFrame({KEY: ["0"], "sentence1": ["甲"], "sentence2": ["乙"], "label": [0]})
    out, _, _ = normalise(afqmc, rows, "train")
    assert out["label"].to_list() == ["不同"]


def test_declared_type_mismatch_is_a_spec_error(afqmc):
    rows = pl.DataFrame({KEY: ["0"], "sentence1": [["甲"]], "sentence2": ["乙"], "label": ["0"]})
    with pytest.raises(SourceError) as error:
        normalise(afqmc, rows, "train")
    assert str(error.value) == ("task_specs/sim_afqmc.yaml: $.fields.sentence1: declared str but the "
                                "source column 'sentence1' is List(String); fix the type or the "
                                "'from' path")


def test_option_styles():
    opts = ["相同", "不同", "无关"]
    assert options.abc(opts) == "A. 相同\nB. 不同\nC. 无关"
    assert options.jiayi(opts) == "甲、相同\n乙、不同\n丙、无关"
    assert options.circled(opts) == "①相同 ②不同 ③无关"
    assert options.numbered(opts) == "1. 相同\n2. 不同\n3. 无关"
    assert options.dunhao(opts) == "相同、不同、无关"
    assert options.huo(opts) == "相同、不同或无关"
    assert options.lines(opts) == "相同\n不同\n无关"
    assert options.letter_of(opts, "无关") == "C"
    assert options.letter_of(opts, "不同", "jiayi") == "乙"
    assert options.letter_of(opts, "相同", "circled") == "①"


def test_options_are_shuffled_per_row_so_the_gold_moves(afqmc):
    rows = frame([{"sentence1": f"问题{i}", "sentence2": "另一个", "label": "1"} for i in range(40)])
    normalised, _, _ = normalise(afqmc, rows, "train")
    rendered, dropped = render_frame(afqmc, normalised, seed=7)
    assert dropped == Counter()
    positions = Counter(opts.index("相同") for opts in rendered["__options"].to_list())
    assert set(positions) == {0, 1} and min(positions.values()) >= 10
    # and the displayed letter answer follows the shuffle
    template = next(c for c in compile_templates(afqmc) if c.spec.id == "sim_afqmc_09")
    letters = {template.target.render(sentence1="a", sentence2="b", label="相同", options=o)
               for o in (["相同", "不同"], ["不同", "相同"])}
    assert letters == {"A", "B"}


def test_template_choice_is_seeded_and_spreads(afqmc):
    rows = frame([{"sentence1": f"问题{i}", "sentence2": "另一个", "label": "0"} for i in range(200)])
    normalised, _, _ = normalise(afqmc, rows, "train")
    first, _ = render_frame(afqmc, normalised, seed=1)
    again, _ = render_frame(afqmc, normalised, seed=1)
    other, _ = render_frame(afqmc, normalised, seed=2)
    assert first["template_id"].to_list() == again["template_id"].to_list()
    assert first["template_id"].to_list() != other["template_id"].to_list()
    assert first["template_id"].n_unique() == len(afqmc.templates)


def test_braces_inside_field_values_are_not_template_residue(afqmc):
    from flanzh.render.checks import check_records

    rows = frame([{"sentence1": "{{ 花呗 }}怎么还", "sentence2": "花呗如何还款", "label": "1"}])
    normalised, _, _ = normalise(afqmc, rows, "train")
    rendered, _ = render_frame(afqmc, normalised, seed=1)
    checked, dropped = check_records(afqmc, rendered)
    assert checked.height == 1 and dropped == Counter()
    assert "{{ 花呗 }}" in checked["inputs"][0] + checked["targets"][0]


def test_record_checks_count_each_failure(afqmc):
    from flanzh.render.checks import check_records

    base = {KEY: "k", "__split": "train", "template_id": "t", "format": "zs_opt",
            "__options": ["相同", "不同"], "__check_choice": True, "__braces_in_fields": False}
    rows = pl.DataFrame([
        {**base, "inputs": "好的输入", "targets": "相同"},
        {**base, "inputs": " ", "targets": "相同"},
        {**base, "inputs": "好的输入", "targets": "也许"},
        {**base, "inputs": "留下了 {{ x }}", "targets": "相同"},
        {**base, "inputs": "长" * 1001, "targets": "相同"},
    ])
    checked, dropped = check_records(afqmc, rows)
    assert checked.height == 1
    assert dropped == Counter({"empty_inputs": 1, "target_not_in_choices": 1,
                               "template_residue": 1, "inputs_too_long": 1})


def test_the_blank_check_is_strip_chars_on_every_code_point():
    """empty_inputs/empty_targets use a regex (it stops at the first non-blank character)
    instead of stripping the text; both must call the same characters blank."""
    from flanzh.render.checks import _BLANK

    text = pl.Series([chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
                     + ["", " \u3000\n", " 好 ", None])
    assert (text.str.contains(_BLANK) == (text.str.strip_chars() == "")).fill_null(True).all()
    assert text.str.contains(_BLANK).sum() == 25 + 2      # 25 blank code points


def test_record_checks_count_each_row_once_under_its_first_reason(afqmc):
    """check_records picks reasons in numpy; it drops and counts as drop_by_reason does, a row
    failing several checks under the first, a null check as passing."""
    from flanzh.read.normalise import drop_by_reason
    from flanzh.render.checks import check_records, record_checks

    base = {KEY: "k", "__split": "train", "template_id": "t", "format": "zs_opt",
            "__options": ["相同", "不同"], "__check_choice": True, "__braces_in_fields": False,
            "__answer": "相同"}
    rows = pl.DataFrame([
        {**base, "inputs": "好的输入", "targets": "相同"},
        {**base, "inputs": " ", "targets": "也许"},                      # empty and not a choice
        {**base, "inputs": "{{ x }}" + "长" * 1001, "targets": "相同"},   # residue and too long
        {**base, "inputs": "长" * 1001, "targets": ""},                  # empty target first
        {**base, "inputs": "好的输入", "targets": "不同", "__check_choice": None},
        {**base, "inputs": "好的输入", "targets": "也许"},
    ])
    keep = [c for c in rows.columns if not c.startswith("__") or c in (KEY, "__split", "__answer")]
    expected = drop_by_reason(rows, record_checks(afqmc), keep=keep)
    checked, dropped = check_records(afqmc, rows)
    assert checked.to_dicts() == expected[0].to_dicts() and dropped == expected[1]
    assert dropped == Counter({"empty_inputs": 1, "template_residue": 1, "empty_targets": 1,
                               "target_not_in_choices": 1})
    clean = rows.head(1)
    assert check_records(afqmc, clean)[0].to_dicts() == clean.select(keep).to_dicts()
