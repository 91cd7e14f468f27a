"""Property-based tests with adversarial Chinese text: full-width punctuation, emoji, zero-width
characters, template syntax inside values, very long lines."""

import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PROJECT
from flanzh.corpus.decontaminate import EvalIndex
from flanzh.read.normalise import normalise
from flanzh.read.readers import KEY, chid, squad
from flanzh.read.readers.tolerant import read_json_lines
from flanzh.read.textnorm import normalise_text, normalise_texts, normalised_codepoints
from flanzh.read.transforms import join_cjk_spaces, split_sentences, truncate
from flanzh.render.checks import check_records
from flanzh.render.templates import render_frame
from flanzh.spec.specs import load_task

CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
TRICKY = st.sampled_from(["，", "。", "！", "？", "；", "：", "“", "”", "（", "）", "……", "——",
                          "\u200b", "\u200d", "\ufeff", "😀", "👍🏻", "{{", "}}", "{%", "%}",
                          "{#", " ", "\t", "Ａ", "１", "a", "#idiom#"])
TEXT = st.lists(st.one_of(CHINESE, TRICKY), min_size=1, max_size=60).map("".join)
# short enough for AFQMC's length limits (targets <= 50 characters), so only content varies
SHORT = st.lists(st.one_of(CHINESE, TRICKY), min_size=1, max_size=20).map("".join)
# Chinese mixed with other scripts: width and case variants, characters NFKC composes (Hangul
# jamo, combining marks, half-width voiced katakana), capital sigma, and anything at all
MIXED = st.one_of(CHINESE, TRICKY, st.sampled_from(
    ["Ａ", "a", "A", "ｚ", "Z", "１", "1", "가", "ᄀ", "ᅡ", "ㄱ", "ㅏ", "\u0301", "e", "ｶ", "ﾞ", "ﾟ",
     "\u3099", "Σ", "σ", "ς", "İ", "ß", "ﬁ", "①", "㍿", "\u3000", "_", "-", "\n"]),
    st.characters(exclude_categories=["Cs"]))
MIXED_TEXT = st.lists(MIXED, max_size=40).map("".join)
# few distinct normalised characters, so that texts share n-grams often
FEW = st.sampled_from(["花", "呗", "Ａ", "a", "A", "，", " ", "Σ", "σ", "가", "ᄀ", "ᅡ", "😀", "\u0301",
                       "ｶ", "ﾞ", "１", "1", "\n"])
FEW_TEXT = st.lists(FEW, max_size=30).map("".join)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

AFQMC = load_task(PROJECT, "sim_afqmc")


@SETTINGS
@given(SHORT, SHORT)
def test_field_values_are_data_never_template_code(text1, text2):
    text1 = text1.replace("#idiom#", "") or "空"
    frame = pl.DataFrame({KEY: ["0"], "sentence1": [text1 + "字"], "sentence2": [text2 + "字"],
                          "label": ["1"]})
    normalised, dropped, _ = normalise(AFQMC, frame, "train")
    assert dropped == {} and normalised.height == 1
    rendered, dropped = render_frame(AFQMC, normalised, seed=3)
    assert dropped == {}
    checked, dropped = check_records(AFQMC, rendered)
    assert dropped == {} and checked.height == 1
    output = checked["inputs"][0] + checked["targets"][0]
    assert text1.strip() in output or text2.strip() in output    # the value, verbatim


@SETTINGS
@given(TEXT)
def test_join_cjk_spaces_only_removes_spaces(text):
    joined = join_cjk_spaces(text)
    assert joined.replace(" ", "").replace("\t", "") == text.replace(" ", "").replace("\t", "")
    assert join_cjk_spaces(joined) == joined


@SETTINGS
@given(st.lists(TEXT, min_size=1, max_size=8), st.integers(1, 200), st.sampled_from(["head", "tail"]))
def test_truncate_keeps_whole_units_within_the_limit(units, limit, keep):
    kept, cut = truncate(units, limit, keep)
    if kept is None:
        assert cut and min(len(u) for u in units) > 0
        return
    assert sum(len(u) for u in kept) <= limit or not cut
    if keep == "head":
        assert kept == units[:len(kept)]
    else:
        assert kept == units[len(units) - len(kept):]
    text = "".join(units)
    kept_text, _ = truncate(text, limit, keep)
    if kept_text is not None:
        sentences = split_sentences(text)
        assert any(kept_text == "".join(sentences[i:j]) for i in range(len(sentences) + 1)
                   for j in range(i, len(sentences) + 1))


@SETTINGS
@given(TEXT)
def test_normalise_text_is_idempotent(text):
    assert normalise_text(normalise_text(text)) == normalise_text(text)


@SETTINGS
@given(TEXT, TEXT, TEXT)
def test_squad_answers_are_located_exactly(before, answer, after):
    answer = answer.strip() or "答"
    context = before + answer + after
    document = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "q", "question": "问？", "answers": [{"text": answer, "answer_start": len(before) + 3}]}]}]}]}
    rows, dropped = squad._rows(document, "x.json")
    assert dropped == {}
    start = rows[0]["answer_start"]
    assert context[start:start + len(answer)] == answer


@SETTINGS
@given(st.lists(TEXT, min_size=2, max_size=5))
def test_chid_original_gives_one_row_per_blank(tmp_path_factory, pieces):
    pieces = [p.replace("#idiom#", "") for p in pieces]
    blanks = len(pieces) - 1
    record = {"content": "#idiom#".join(pieces), "groundTruth": [f"成语{i}" for i in range(blanks)],
              "candidates": [[f"成语{i}", "其他"] for i in range(blanks)]}
    path = tmp_path_factory.mktemp("chid") / "train.txt"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", "utf-8")
    frame = chid.read([path], fmt="chid", encoding="utf-8", options={"blank": "（）"}, label="x").frame
    assert frame.height == blanks
    for i, passage in enumerate(frame["passage"].to_list()):
        filled = passage.replace("（）", f"成语{i}", 1) if "（）" in passage else passage
        assert filled.count("成语") >= blanks


@SETTINGS
@given(st.lists(st.one_of(TEXT.map(lambda t: json.dumps({"a": t}, ensure_ascii=False).encode()),
                          st.binary(max_size=40)), min_size=1, max_size=20))
def test_tolerant_reader_counts_every_line(tmp_path_factory, lines):
    lines = [l.replace(b"\n", b" ") for l in lines]
    path = tmp_path_factory.mktemp("lines") / "x.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        result = read_json_lines([path], "utf-8", "x")
    except Exception as exc:                      # only a mostly-undecodable file may fail
        assert "cannot decode" in str(exc)
        return
    def content(i, line):      # a BOM is only a BOM at the very start of the file
        return (line[3:] if i == 0 and line.startswith(b"\xef\xbb\xbf") else line).strip()

    non_blank = sum(1 for i, l in enumerate(lines) if content(i, l))
    assert result.frame.height + sum(result.dropped.values()) == non_blank


@SETTINGS
@given(st.lists(st.one_of(MIXED_TEXT, st.none()), max_size=12))
def test_textnorm_codepoints_equal_normalise_texts(texts):
    """The table lookup (with polars for the rows it cannot do) is normalise_texts exactly."""
    points, starts, rows = normalised_codepoints(pl.Series(texts, dtype=pl.Utf8))
    got = [""] * len(texts)
    for k, row in enumerate(rows.tolist()):
        got[row] += "".join(map(chr, points[starts[k]:starts[k + 1]].tolist()))
    assert set(rows.tolist()) == set(range(len(texts)))
    assert got == normalise_texts(texts)


@SETTINGS
@given(st.lists(FEW_TEXT, min_size=1, max_size=8), st.lists(st.one_of(FEW_TEXT, MIXED_TEXT),
                                                            max_size=20), st.integers(1, 13))
def test_decontamination_equals_the_plain_set_lookup(eval_texts, corpus, n):
    corpus = corpus + [e[1:] + "花" for e in eval_texts]
    grams = {t[i:i + n] for t in normalise_texts(eval_texts) for i in range(len(t) - n + 1)}
    expected = [any(t[i:i + n] in grams for i in range(len(t) - n + 1))
                for t in normalise_texts(corpus)]
    index = EvalIndex(n)
    index.add("dev", eval_texts)
    assert [owner is not None for owner in index.matches(corpus)] == expected
