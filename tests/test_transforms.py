"""Field transforms, the length policy, and option subsets for large label sets."""

from collections import Counter

import polars as pl
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flanzh.read.normalise import normalise
from flanzh.read.readers import KEY
from flanzh.read.transforms import join_cjk_spaces, t2s, truncate
from flanzh.render.templates import row_options
from flanzh.spec.specs import load_task


def test_join_cjk_spaces_keeps_spaces_around_latin_words():
    assert join_cjk_spaces("烟台 十一 哪 好玩 ， 有 iPhone 13 吗 ? 有 2 个") == \
        "烟台十一哪好玩，有 iPhone 13吗?有2个"
    assert join_cjk_spaces("I love you , 朋友") == "I love you ,朋友"


def test_t2s():
    assert t2s("這個資料庫很好用") == "这个资料库很好用"


def test_truncate_whole_sentences_from_the_head():
    assert truncate("第一句。第二句很长很长。第三句！", 10, "head") == ("第一句。", True)
    assert truncate("短句。", 10, "head") == ("短句。", False)
    assert truncate("这一句就已经超过了上限。", 5, "head") == (None, True)


def test_truncate_keeps_the_latest_turns():
    assert truncate(["你好", "最近怎么样", "还行吧"], 8, "tail") == (["最近怎么样", "还行吧"], True)


def test_spec_length_policy_counts_cut_rows_and_drops_uncuttable(mini_project):
    path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    spec["fields"]["sentence1"] = {"from": "sentence1", "transform": ["join_cjk_spaces"],
                                   "truncate": {"max_chars": 8}}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    task = load_task(mini_project, "sim_afqmc")
    rows = pl.DataFrame({KEY: ["0", "1", "2"],
                         "sentence1": ["花呗 怎么 还。", "花呗怎么还。借呗怎么借？", "一句很长很长很长的话。"],
                         "sentence2": ["b", "b", "b"], "label": ["1", "1", "0"]})
    out, dropped, truncated = normalise(task, rows, "train")
    assert out["sentence1"].to_list() == ["花呗怎么还。", "花呗怎么还。"]
    assert truncated == Counter({"sentence1": 1})
    assert dropped == Counter({"too_long_to_truncate:sentence1": 1})


def test_max_options_shows_a_seeded_subset_with_the_gold(mini_project):
    path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    labels = [f"类别{i}" for i in range(30)]
    spec["choices"] = labels
    spec["fields"]["label"]["map"] = {str(i): label for i, label in enumerate(labels)}
    spec["max_options"] = 5
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    task = load_task(mini_project, "sim_afqmc")
    shown = [row_options(task, {KEY: str(k), "label": "类别3"}, seed=1) for k in range(50)]
    assert all(len(s) == 5 and "类别3" in s for s in shown)
    assert len({tuple(sorted(s)) for s in shown}) > 10          # distractors vary per row
    assert len({s.index("类别3") for s in shown}) == 5           # and so does the gold position


def test_half_width_full_stop_ends_a_chinese_sentence():
    from flanzh.read.transforms import split_sentences

    assert split_sentences("本文提出一种方法.实验表明效果良好。见 Fig. 1 所示") == \
        ["本文提出一种方法.", "实验表明效果良好。", "见 Fig. 1 所示"]


_CELL = st.one_of(st.none(), st.text(alphabet="，, 。.a吗 \t", max_size=6))


@given(rows=st.lists(st.one_of(st.none(), st.lists(_CELL, max_size=4)), max_size=8),
       start=st.integers(0, 2))
def test_steps_over_a_list_column_match_applying_them_to_each_list(rows, start):
    # the strings leave the list column by offset and go back the same way: a sliced column
    # (offsets not starting at 0), empty and null lists and null items included
    from collections import Counter

    import polars as pl

    from flanzh.read.normalise import _apply_steps, _each
    from flanzh.read.transforms import TRANSFORMS

    column = pl.Series("turns", [None] * start + rows, dtype=pl.List(pl.Utf8)).slice(start)
    steps = [("fullwidth_punct", TRANSFORMS["fullwidth_punct"]), ("strip", TRANSFORMS["strip"])]
    counts: Counter = Counter()
    out = _apply_steps(column, steps, "turns", counts)
    values, expected = rows, Counter()
    for name, step in steps:
        done = [_each(step, v) for v in values]
        if name == "fullwidth_punct":
            expected[f"cleaned:{name}:turns"] += sum(a != b for a, b in zip(values, done))
        values = done
    assert out.dtype == pl.List(pl.Utf8) and out.to_list() == values
    assert +counts == +expected


@pytest.mark.parametrize("text, expected", [
    ("已经修了(3/20)千米．两天一共修了多少千米？", "已经修了(3/20)千米。两天一共修了多少千米？"),
    ("每天加工45个，8天完成．", "每天加工45个，8天完成。"),
    ("第6．求这个数", "第6。求这个数"),                   # a digit on one side only: a full stop
    ("长３．５米，宽2．4米", "长３．５米，宽2．4米"),       # between two digits: a decimal point
    ("一般是Ａ．Ｂ．Ｃ三套", "一般是Ａ．Ｂ．Ｃ三套"),         # between letters: a list, kept
    ("长5m．它的宽", "长5m。它的宽"),
    ("两数的比是2：3．两人共有", "两数的比是2：3。两人共有"),
    ("投稿：\n1．论文摘要\n2．会议PPT", "投稿：\n1．论文摘要\n2．会议PPT"),   # item numbers
    ("原因有四：1．成本压力。2．饮食安全．", "原因有四：1．成本压力。2．饮食安全。"),
    ("1．先算括号里的．", "1．先算括号里的。"),
    ("没有句号", "没有句号"),
])
def test_fullwidth_stop_is_a_full_stop_unless_it_is_a_decimal_point(text, expected):
    from flanzh.read.transforms import fullwidth_stop

    assert fullwidth_stop(text) == expected
