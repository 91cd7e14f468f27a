"""Decontamination that removes leaked evaluation items and nothing else (issue 14): boilerplate
is not evidence, whole short texts and items match, what a row is compared on comes from its
spec, the audit trail, benchmark splits, and zero-width/combining characters (issue 19)."""

import json
import random
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flanzh.build.pipeline import build
from flanzh.build.report import stats_text
from flanzh.corpus import decontaminate as decon
from flanzh.corpus.decontaminate import (EvalIndex, audit_summary, compared_texts, decontaminate,
                                         read_extra_eval_file)
from flanzh.errors import SpecError
from flanzh.project import Project
from flanzh.read.textnorm import DELETED, normalise_texts, per_character_table
from flanzh.spec.mixture import load_mixture
from flanzh.spec.specs import load_task

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from planted import (INSTRUCTION, RELEASE_NOTE, SOURCE_PHRASE, flattened,  # noqa: E402
                     planted_cases, precision_recall)

POLICY = {"max_eval_items": 10, "max_source_rows": 10, "whole": True, "min_chars": 4}


def policy_index(eval_items, **overrides) -> EvalIndex:
    index = EvalIndex(13, **{**POLICY, **overrides})
    texts, at = flattened(eval_items)
    index.add("dev", texts, at, len(eval_items))
    return index


def removed(index, rows) -> list[bool]:
    texts, at = flattened(rows)
    return (index.owner_ids(texts, at, len(rows)) >= 0).tolist()


# -- zero-width and combining characters (issue 19) ----------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufe0f", "\u0301", "\u20e3", "\ufeff", "\u034f"]


@pytest.mark.parametrize("mark", INVISIBLE)
def test_a_zero_width_or_combining_character_between_characters_does_not_hide_a_leak(mark):
    leaked = "请问花呗分期付款以后能不能提前一次性全部还清剩余的欠款"
    assert normalise_texts([mark.join(leaked)]) == [leaked]
    index = EvalIndex(13)
    index.add("dev", [mark.join(leaked)])                 # the evaluation row carries them
    assert index.matches([leaked, "前面" + leaked[:14], "别的问题完全不一样的一句话而已啊"]) == [
        "dev", "dev", None]
    index = EvalIndex(13)
    index.add("dev", [leaked])                            # or the training row does
    assert index.matches([mark.join(leaked[:15])]) == ["dev"]


def test_joiners_and_variation_selectors_are_deleted_by_table_lookup():
    table = per_character_table()
    for code in (0x200B, 0x200C, 0x200D, 0xFE0F, 0xFE00, 0x20E3):
        assert table[code] == DELETED, hex(code)
    # a mark that composes with the letter before it stays part of the letter
    assert normalise_texts(["e\u0301", "中\u0301文"]) == ["é", "中文"]


# -- boilerplate, whole texts and items: planted cases ------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_cases_precision_and_recall_are_one(seed):
    eval_items, rows, leaked = planted_cases(seed)
    got = removed(policy_index(eval_items), rows)
    assert precision_recall(got, leaked) == (1.0, 1.0)
    # the plain 13-gram lookup on joined rows: boilerplate removes rows, short items are missed
    plain = EvalIndex(13)
    plain.add("dev", ["\n".join(item) for item in eval_items])
    before = [o is not None for o in plain.matches(["\n".join(row) for row in rows])]
    precision, recall = precision_recall(before, leaked)
    assert precision < 0.5 and recall < 0.8


def test_boilerplate_shared_by_many_evaluation_items_never_removes_a_row():
    rng = random.Random(3)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def text(size):
        return "".join(rng.choice(alphabet) for _ in range(size))

    eval_items = [[text(40), INSTRUCTION] for _ in range(11)]
    eval_items += [[text(10) + RELEASE_NOTE + text(10), text(8)] for _ in range(11)]
    rows = [[text(40), "（" + INSTRUCTION + "）"], [text(3) + RELEASE_NOTE + text(3), text(9)],
            [INSTRUCTION, text(9)], [RELEASE_NOTE[:10] + text(30), text(9)]]
    assert removed(policy_index(eval_items), rows) == [False] * 4
    # ten evaluation items are not many: the same phrase is then evidence
    assert removed(policy_index(eval_items[:10] + eval_items[11:21]), rows)[:2] == [True, True]
    # a stock phrase listed in a spec is never evidence, even in one item
    index = policy_index(eval_items[:1] + eval_items[11:12], ignore=[INSTRUCTION, RELEASE_NOTE])
    assert removed(index, rows) == [False] * 4


def test_a_phrase_common_in_the_rows_checked_removes_none_of_them():
    rng = random.Random(4)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def text(size):
        return "".join(rng.choice(alphabet) for _ in range(size))

    eval_items = [[text(20) + SOURCE_PHRASE + text(20)] for _ in range(2)]
    rows = [[text(rng.randint(0, 20)) + SOURCE_PHRASE + text(20)] for _ in range(11)]
    assert removed(policy_index(eval_items), rows) == [False] * 11
    assert removed(policy_index(eval_items), rows[:10]) == [True] * 10
    # a long text shared by many rows counts once: a leaked passage copied 60 times still leaks
    leaked = [[eval_items[0][0]]] * 60
    assert removed(policy_index(eval_items), leaked) == [True] * 60


def test_an_evaluation_text_shorter_than_n_is_matched_whole():
    eval_items = [["花呗怎么还款", "借呗能提前还吗"], ["余额宝收益为什么变少了", "转出要多久"]]
    rows = [["花呗，怎么还款？", "别的话题的一句很长很长的问题呢"],          # a whole field: leak
            ["我想知道花呗怎么还款的问题", "别的"],                          # inside a field: not
            ["ＨＥＬＬＯ", "别的"], ["还款", "别的"]]
    index = policy_index(eval_items + [["Hello"]])
    assert removed(index, rows) == [True, False, True, False]
    owners, why = index.find(*flattened(rows), len(rows))
    assert why[0] == ("text", "花呗怎么还款") and why[2] == ("text", "hello")
    # shorter than whole_min_chars: never matched whole
    assert removed(policy_index([["还款"]]), [["还款"]]) == [False]


def test_short_texts_match_whole_only_in_short_items_of_sets_that_allow_it():
    index = EvalIndex(13, **POLICY)
    index.add("c3", ["男：你好，请问图书馆几点开门？女：早上八点。", "女的是做什么的"], [0, 0])
    index.add("dialogue", *flattened([["你去过那里吗", "去过两次了"]]), whole_texts=False)
    index.add("afqmc", *flattened([["花呗怎么还款", "借呗能提前还吗"]]))
    rows = [["女的是做什么的"], ["去过两次了"], ["你去过那里吗", "去过两次了"], ["借呗能提前还吗"]]
    assert index.matches(*flattened(rows), len(rows)) == [None, None, "dialogue", "afqmc"]


def test_a_row_equal_to_an_evaluation_item_is_removed_even_when_its_texts_are_common():
    """Each question is common (in 11 items), the pair is one item: a row equal to it leaks."""
    eval_items = [["花呗怎么还款", f"第{i}个不同的问题句子"] for i in range(11)]
    eval_items += [[f"另一个第{i}个问题句子", "借呗能提前还吗"] for i in range(11)]
    eval_items += [["花呗怎么还款", "借呗能提前还吗"]]
    index = policy_index(eval_items)
    rows = [["花呗怎么还款！", "借呗，能提前还吗"], ["花呗怎么还款", "一个无关的问题"]]
    assert removed(index, rows) == [True, False]
    assert index.find(*flattened(rows), 2)[1][0] == ("item", "花呗怎么还款 / 借呗能提前还吗")


# -- the plain definition, on random text with many overlaps --------------------------------------

def plain_find(eval_items, rows, n, limit, row_limit, min_chars, shared=50):
    """The definition, straightforwardly: (owner, kind, match) per row, owner 0 or None."""
    eval_items = [normalise_texts(item) for item in eval_items]
    rows = [normalise_texts(row) for row in rows]
    where: dict[str, set] = {}
    for i, item in enumerate(eval_items):
        for t in item:
            key = ("text", t) if len(t) >= shared else ("item", i)
            for a in range(len(t) - n + 1):
                where.setdefault(t[a:a + n], set()).add(key)
    common = {g for g, keys in where.items() if len(keys) > limit}

    def half_common(t, a, grams):
        covered = [False] * len(t)
        for b in range(len(t) - n + 1):
            if t[b:b + n] in grams:
                covered[b:b + n] = [True] * n
        return sum(covered[a:a + n]) >= n - n // 2

    good = {t[a:a + n] for item in eval_items for t in item for a in range(len(t) - n + 1)
            if t[a:a + n] not in common and not half_common(t, a, common)}
    values = Counter()
    for i, item in enumerate(eval_items):
        for t in set(item):
            if max(map(len, item)) < n:
                values[t] += 1
    items = Counter("\x1f".join(item) for item in eval_items)
    keys = ["\x1f".join(row) for row in rows]
    found = [[(t, a) for t in row for a in range(len(t) - n + 1) if t[a:a + n] in good]
             for row in rows]
    holders: dict[str, set] = {}
    for r, hits in enumerate(found):
        for t, a in hits:
            holders.setdefault(t[a:a + n], set()).add(t if len(t) >= shared else r)
    row_common = {g for g, ks in holders.items() if len(ks) > row_limit}
    by_value: dict[str, set] = {}
    for key, row in zip(keys, rows):
        for t in row:
            by_value.setdefault(t, set()).add(key)
    out = []
    for key, row, hits in zip(keys, rows, found):
        value = next((t for t in row if len(t) >= min_chars and 0 < values[t] <= limit
                      and len(by_value[t]) <= row_limit), None)
        if value is not None:
            out.append(("text", value))
            continue
        if (items[key] and items[key] <= limit and sum(map(len, row)) >= min_chars
                and keys.count(key) <= row_limit):
            out.append(("item", key.replace("\x1f", " / ")))
            continue
        gram = next((t[a:a + n] for t, a in hits if t[a:a + n] not in row_common
                     and not half_common(t, a, row_common)), None)
        out.append(("ngram", gram) if gram else None)
    return out


def overlapping_case(seed: int):
    """Five letters: random 13-grams never meet by chance, planted spans, phrases in many items
    or rows, short texts and shared passages do; a few words of two letters overlap often.
    Returns (evaluation items, rows, their index)."""
    rng = random.Random(seed)
    phrases = ["花呗借还款花呗借还款花呗借还", "借借还还款款花花呗呗借借还还", "款还借呗花款还借呗花款还借呗"]

    def text(low, high):
        out = "".join(rng.choice("花呗借还款，") for _ in range(rng.randint(low, high)))
        if rng.random() < 0.3:
            at = rng.randint(0, len(out))
            out = out[:at] + rng.choice(phrases) + out[at:]
        return out

    eval_items = [[text(5, 40), text(0, 8)] for _ in range(60)]
    eval_items += [[eval_items[k][0], text(3, 8)] for k in range(6)]        # shared passages
    rows = [[text(0, 30), text(0, 8)] for _ in range(400)]
    for _ in range(150):                                                    # planted spans
        source = rng.choice(eval_items)[0]
        at = rng.randint(0, max(0, len(source) - 14))
        rows.append([text(0, 10) + source[at:at + rng.randint(10, 18)] + text(0, 10), text(0, 5)])
    rows += [list(item) for item in rng.sample(eval_items, 20)] * 2
    rows += [[rng.choice(eval_items)[1], text(0, 5)] for _ in range(20)]
    return eval_items, rows, policy_index(eval_items, max_eval_items=6, max_source_rows=8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_find_equals_the_plain_definition(seed):
    eval_items, rows, index = overlapping_case(seed)
    owners, why = index.find(*flattened(rows), len(rows))
    got = [why.get(i) for i in range(len(rows))]
    assert got == plain_find(eval_items, rows, 13, 6, 8, 4)
    kinds = Counter(g[0] for g in got if g)
    assert kinds["ngram"] > 20 and kinds["item"] + kinds["text"] > 5
    assert 0 < sum(g is None for g in got) < len(rows)


@pytest.mark.parametrize("seed", [0, 1])
def test_find_is_the_same_in_batches_of_a_few_rows_and_when_every_text_may_match_whole(
        seed, monkeypatch):
    """find builds normalised strings only for the rows with a text whose code points hash as an
    evaluation text's does (and for texts sharing an n-gram). Batches of a few rows (never one
    split between two) and a hash every text collides on give the same answer."""
    eval_items, rows, _ = overlapping_case(seed)
    # texts with characters the table does not normalise (polars does: their segments come
    # after the batch's others), as evaluation texts and in rows that match them or not
    slow = ["ﬁ花呗借还款é", "e\u0301花呗借还款한"]
    eval_items += [[slow[0], "款"], [slow[1]]]
    rows[:0] = [[slow[0], "其他"], [slow[1]], ["ﬁ花呗", slow[1] + "呗"]]
    # a short evaluation text in 12 rows, each with another text: shared by too many rows to be
    # evidence, which only the rows' other texts tell; and one in two rows, which matches
    eval_items += [["款款花呗借还", "呗呗"], ["还还借借花花", "款"]]
    rows += [["款款花呗借还", f"其他{i}"] for i in range(12)] + [["还还借借花花", "其他"]] * 2
    index = policy_index(eval_items, max_eval_items=6, max_source_rows=8)
    expected = plain_find(eval_items, rows, 13, 6, 8, 4)
    assert expected[-14:] == [None] * 12 + [("text", "还还借借花花")] * 2
    assert [kind for kind, _ in expected[:2]] == ["text", "text"] and expected[2] is None
    texts, at = flattened(rows)
    monkeypatch.setattr(decon, "BATCH_CHARS", 40)
    monkeypatch.setattr(decon, "THREADS", 2)
    batches = decon._batches(pl.Series(texts, dtype=pl.Utf8), np.asarray(at))
    assert len(batches) > 100
    assert all(at[begin] != at[begin - 1] for begin, _ in batches[1:])
    assert [why for why in map(index.find(texts, at, len(rows))[1].get, range(len(rows)))] \
        == expected
    monkeypatch.setattr(decon._Windows, "spans",
                        lambda self, begins, ends: np.zeros(len(begins), dtype=np.uint32))
    colliding = policy_index(eval_items, max_eval_items=6, max_source_rows=8)
    assert [why for why in map(colliding.find(texts, at, len(rows))[1].get, range(len(rows)))] \
        == expected


# -- what a row is compared on -------------------------------------------------------------------

def dialogue(turns):
    """KdConv-reader rows of one dialogue: one per turn after the first, history accumulating."""
    return [{"history": turns[:i], "response": turns[i]} for i in range(1, len(turns))]


def test_a_dialogue_loses_only_the_samples_whose_compared_fields_leak():
    task = load_task(Project(REPO), "dlg_kdconv")
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    turns = ["".join(rng.choice(alphabet) for _ in range(20)) for _ in range(10)]
    leaked = "你知道《霸王别姬》的导演是谁吗我记得是陈凯歌"
    train = pl.DataFrame(dialogue(turns[:2] + [leaked] + turns[2:]))
    other = ["".join(rng.choice(alphabet) for _ in range(20)) for _ in range(4)]
    evaluation = pl.DataFrame(dialogue(other[:2] + [leaked] + other[2:]))
    texts, at = compared_texts(task, evaluation)
    assert texts.to_list()[:4] == [other[0], other[1], other[1], leaked]
    index = EvalIndex(13, **POLICY)
    index.add("dlg_kdconv/validation", texts, at, evaluation.height)
    texts, at = compared_texts(task, train)
    kept, dropped = decontaminate(train, texts, index, at)
    # samples 1 (responds with the leaked turn) and 2 (answers it); not the 7 later ones
    assert dropped == {"contaminated:dlg_kdconv/validation": 2}
    assert kept.height == train.height - 2
    assert leaked not in kept["response"].to_list()
    assert [h[-1] for h in kept["history"].to_list()].count(leaked) == 0
    # the whole accumulated history, as before: every later sample goes
    whole = EvalIndex(13)
    whole.add("dev", ["\n".join(h + [r]) for h, r in evaluation.select("history", "response")
                      .iter_rows()])
    joined = ["\n".join(h + [r]) for h, r in train.select("history", "response").iter_rows()]
    assert sum(o is not None for o in whole.matches(joined)) == train.height - 1


def test_reading_comprehension_compares_passage_and_question_not_the_answer():
    task = load_task(Project(REPO), "mrc_cmrc2018")
    frame = pl.DataFrame({"context": ["一段文章"], "question": ["一个问题"], "answer": ["答案"]},
                         schema_overrides={})
    texts, at = compared_texts(task, frame.with_columns(
        *[pl.lit(None, dtype=pl.Utf8).alias(f) for f in task.fields if f not in frame.columns]))
    assert texts.to_list() == ["一段文章", "一个问题"] and at.tolist() == [0, 0]


def test_decontamination_fields_are_validated(tmp_path):
    for folder in ("task_specs", "templates"):
        (tmp_path / folder).mkdir()
        shutil.copy(REPO / folder / "dlg_kdconv.yaml", tmp_path / folder / "dlg_kdconv.yaml")
    spec = tmp_path / "task_specs" / "dlg_kdconv.yaml"
    text = spec.read_text("utf-8")
    cases = {
        '["history[-1:]", response]': None,
        '["history[-1:]", reply]': "$.decontamination.fields[1]: 'reply' is not a declared field",
        '["response[-1:]"]': ("$.decontamination.fields[0]: 'response[-1:]' takes the last items "
                              "of a list, but 'response' is str; write 'response'"),
        '["history[1:]"]': "$.decontamination.fields[0]: 'history[1:]' does not match",
    }
    for fields, error in cases.items():
        spec.write_text(text.replace('["history[-1:]", response]', fields), "utf-8")
        if error is None:
            load_task(Project(tmp_path), "dlg_kdconv")
            continue
        with pytest.raises(SpecError) as info:
            load_task(Project(tmp_path), "dlg_kdconv")
        assert any(error in p for p in info.value.problems), info.value.problems


def test_extra_evaluation_file_lines_are_items(tmp_path):
    path = tmp_path / "extra.jsonl"
    path.write_text('{"q": "问题一", "choices": ["甲", "乙"]}\n\n{"q": "问题二"}\n', "utf-8")
    assert read_extra_eval_file(path) == [["问题一", "甲", "乙"], ["问题二"]]


# -- the audit trail -----------------------------------------------------------------------------

def test_decontaminate_counts_rows_by_set_kind_and_match():
    eval_items = [["花呗怎么还款"], ["余额宝收益为什么变少了是因为利率下降了吗"]]
    index = policy_index(eval_items)
    frame = pl.DataFrame({"a": ["花呗怎么还款", "我想问余额宝收益为什么变少了是因为利率", "无关"],
                          "b": ["x", "y", "z"]})
    audit = Counter()
    kept, dropped = decontaminate(frame, frame["a"], index, audit=audit)
    assert kept["b"].to_list() == ["z"]
    assert dropped == {"contaminated:dev": 2}
    assert audit == {("dev", "text", "花呗怎么还款"): 1, ("dev", "ngram", "余额宝收益为什么变少了是因"): 1}
    summary = audit_summary({"sim_afqmc": audit, "sim_copy": Counter({("dev", "text", "花呗怎么还款"): 3})})
    assert summary == {"dev": {"rows": 5, "tasks": {"sim_afqmc": 2, "sim_copy": 3}, "top": [
        {"kind": "text", "match": "花呗怎么还款", "rows": 4},
        {"kind": "ngram", "match": "余额宝收益为什么变少了是因", "rows": 1}]}}


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_the_manifest_and_stats_say_which_matches_removed_rows(mini_project, tmp_path):
    dev = mini_project.samples_dir / "sim_afqmc" / "dev.json"
    write_rows(dev, [{"sentence1": "花呗怎么还款", "sentence2": f"第{i}个测试问题", "label": "1"}
                     for i in range(12)] + [{"sentence1": "余额宝转出到银行卡要多久", "sentence2":
                                              "是不是因为我最近逾期了", "label": "0"}])
    train = mini_project.samples_dir / "sim_afqmc" / "train.json"
    rows = [json.loads(line) for line in train.read_text("utf-8").splitlines()]
    rows[2]["sentence1"], rows[4]["sentence2"] = "花呗怎么还款？", "余额宝转出到银行卡要多久"
    write_rows(train, rows)
    mixture = tmp_path / "mixture.yaml"
    mixture.write_text("decontamination: {enabled: true}\n", "utf-8")
    manifest = build(mini_project, tmp_path / "out", mixture=load_mixture(mixture))
    decon = manifest["decontamination"]
    assert manifest["tasks"]["sim_afqmc"]["dropped"] == {"contaminated:sim_afqmc/validation": 1}
    assert decon["removed"] == {"sim_afqmc/validation": {
        "rows": 1, "tasks": {"sim_afqmc": 1},
        "top": [{"kind": "text", "match": "余额宝转出到银行卡要多久", "rows": 1}]}}
    assert decon["boilerplate"]["eval_items"] == 10 and decon["boilerplate"]["texts"] == 1
    assert {"match": "花呗怎么还款", "kind": "text", "eval_items": 12} in decon["boilerplate"][
        "examples"]
    stats = stats_text(manifest)
    assert "| sim_afqmc/validation | 13 | 1 | text `余额宝转出到银行卡要多久` (1) |" in stats
    report = (tmp_path / "out" / "report" / "report.md").read_text("utf-8")
    assert "余额宝转出到银行卡要多久" in report


# -- benchmark splits ----------------------------------------------------------------------------

def records(out: Path, manifest: dict, task_id: str) -> pl.DataFrame:
    shards = manifest["tasks"][task_id]["shards"]
    return pl.read_parquet([out / s for s in shards]) if shards else pl.DataFrame()


def test_benchmark_splits_stay_out_of_training_unless_the_policy_includes_them(tmp_path):
    from flanzh.build.card import render_card

    project = Project(REPO)
    tasks = ["nli_xnli_zh", "qa_xquad_zh", "sim_afqmc"]
    default = tmp_path / "default.yaml"
    default.write_text("decontamination: {enabled: true}\n", "utf-8")
    out = tmp_path / "out"
    manifest = build(project, out, task_ids=tasks, mixture=load_mixture(default))
    xnli = manifest["tasks"]["nli_xnli_zh"]
    assert xnli["rows_written"] == 0 and xnli["splits"] == []
    assert xnli["benchmark_splits"] == {"splits": ["test"], "included": False}
    assert manifest["tasks"]["qa_xquad_zh"]["rows_written"] == 0
    assert manifest["benchmark_splits"] == {"policy": "exclude", "tasks": {
        "nli_xnli_zh": {"splits": ["test"], "included": False},
        "qa_xquad_zh": {"splits": ["validation"], "included": False}}}
    # held-out benchmark splits are evaluation sets
    assert {"nli_xnli_zh/test", "nli_xnli_zh/validation", "qa_xquad_zh/validation",
            "sim_afqmc/validation"} == set(manifest["decontamination"]["eval_sets"])
    line = ("Benchmark splits kept out of training (benchmark_splits: exclude; they are evaluation "
            "sets for decontamination instead): nli_xnli_zh (test), qa_xquad_zh (validation).")
    assert line in stats_text(manifest) and line in render_card(manifest)

    include = tmp_path / "include.yaml"
    include.write_text("decontamination: {enabled: true}\nbenchmark_splits: include\n", "utf-8")
    manifest = build(project, out, task_ids=tasks, mixture=load_mixture(include))
    assert set(manifest["decontamination"]["eval_sets"]) == {"nli_xnli_zh/validation",
                                                            "sim_afqmc/validation"}
    assert manifest["tasks"]["nli_xnli_zh"]["splits"] == ["test"]
    assert manifest["tasks"]["qa_xquad_zh"]["splits"] == ["validation"]
    for task_id, split in (("nli_xnli_zh", "benchmark:test"),
                           ("qa_xquad_zh", "benchmark:validation"), ("sim_afqmc", "train")):
        written = records(out, manifest, task_id)
        assert written.height > 0 and set(written["source_split"]) == {split}, task_id
    assert "Benchmark splits trained on (benchmark_splits: include, as OpenBA did): nli_xnli_zh " \
           "(test), qa_xquad_zh (validation)" in render_card(manifest)


def test_benchmark_splits_policy_and_spec_keys_are_checked(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmark_splits: sometimes\n", "utf-8")
    with pytest.raises(SpecError) as info:
        load_mixture(bad)
    assert any("benchmark_splits" in p for p in info.value.problems), info.value.problems
    for folder in ("task_specs", "templates"):
        (tmp_path / folder).mkdir()
        shutil.copy(REPO / folder / "nli_xnli_zh.yaml", tmp_path / folder / "nli_xnli_zh.yaml")
    spec = tmp_path / "task_specs" / "nli_xnli_zh.yaml"
    spec.write_text(spec.read_text("utf-8").replace("benchmark: [test]", "benchmark: [dev]"),
                    "utf-8")
    with pytest.raises(SpecError) as info:
        load_task(Project(tmp_path), "nli_xnli_zh")
    assert ("task_specs/nli_xnli_zh.yaml: $.splits.benchmark[0]: split 'dev' has no entry in "
            "source.files (have: test, validation)") in info.value.problems


# -- any shape of text ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FEW = st.sampled_from(["花", "呗", "Ａ", "a", "，", " ", "\u200d", "\ufe0f", "\u0301", "가", "😀"])
TEXT = st.lists(FEW, max_size=70).map("".join)
ITEM = st.lists(TEXT, min_size=1, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ITEM, min_size=1, max_size=12), st.lists(ITEM, max_size=25), st.integers(2, 13),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 6))
def test_find_equals_the_plain_definition_on_any_text(eval_items, rows, n, limit, row_limit,
                                                      min_chars):
    rows = rows + [list(item) for item in eval_items[:3]]
    index = EvalIndex(n, max_eval_items=limit, max_source_rows=row_limit, whole=True,
                      min_chars=min_chars)
    index.add("dev", *flattened(eval_items), len(eval_items))
    owners, why = index.find(*flattened(rows), len(rows))
    assert [why.get(i) for i in range(len(rows))] == plain_find(eval_items, rows, n, limit,
                                                                 row_limit, min_chars)
    assert ((owners >= 0) == [i in why for i in range(len(rows))]).all()
