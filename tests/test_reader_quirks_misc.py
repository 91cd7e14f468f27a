"""Real-file quirks of the misc group's sources, pinned with rows written here (never real data).

Each quirk is one case of ``test_quirk``, whose id names the task and the quirk, so a failure
says which reader lost which real-file behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import KEY, biomedical_qa, bitext, cinlid, csl_papers, ecspell, reader_for

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CASES = []


def quirk(task: str, name: str):
    def register(fn):
        CASES.append(pytest.param(fn, id=f"{task}:{name}"))
        return fn
    return register


def lines(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


# ---------------------------------------------------------------- qa_chinese_biomedical

def exam(qid, option, answer, text="题干", **extra):
    return {"questionType": "A1型题", "questionId": qid, "questionText": text, "option": option,
            "answer": answer, "year": "2021", "subject": "内科学", "backgroundText": "", **extra}


def read_bio(*paths):
    return biomedical_qa.read(list(paths), fmt="chinese_biomedical_qa", encoding="utf-8",
                              options={}, label="x")


@quirk("qa_chinese_biomedical", "letters_inside_options_aligned_and_stripped")
def _(tmp_path):
    path = lines(tmp_path / "doctor_dev.json", [
        exam("1", ["A.血浆", "B.保存全血", "C.浓缩血小板", "D.冷沉淀", "E.洗涤红细胞"], ["E"]),
        exam("2", ["A、甲药", "B．乙药", "C: 丙药"], ["A", "C"]),
    ])
    result = read_bio(path)
    rows = {r[KEY]: r for r in result.frame.to_dicts()}
    assert rows["1"]["answer"] == "洗涤红细胞" and rows["1"]["answer_letters"] == "E"
    assert rows["1"]["answer_full"] == "E. 洗涤红细胞"
    assert rows["1"]["options_text"] == ("A. 血浆\nB. 保存全血\nC. 浓缩血小板\nD. 冷沉淀\n"
                                         "E. 洗涤红细胞")
    assert rows["1"]["option_list"][0] == "血浆"
    assert rows["2"]["answer"] == "甲药；丙药" and rows["2"]["options_inline"] == (
        "A. 甲药　B. 乙药　C. 丙药")
    assert result.dropped == {}


@quirk("qa_chinese_biomedical", "option_text_starting_with_a_capital_is_not_a_letter")
def _(tmp_path):
    path = lines(tmp_path / "d.json", [exam("1", ["ACEI类", "ARB类", "β受体阻断剂"], ["B"])])
    row = read_bio(path).frame.to_dicts()[0]
    assert row["option_list"] == ["ACEI类", "ARB类", "β受体阻断剂"] and row["answer"] == "ARB类"


@quirk("qa_chinese_biomedical", "shifted_list_answer_lost_is_dropped_not_answered_by_position")
def _(tmp_path):
    path = lines(tmp_path / "doctor_dev.json", [
        exam("7", ["体检无阳性体征，暗示后好转。最常见于(）", "A.癫痫发作", "B.脑梗死",
                   "C.重症肌无力", "D.周围神经病"], ["E"], text="患者，女，28岁。突发双下肢无力，"),
    ])
    result = read_bio(path)
    assert result.frame.height == 0
    assert result.dropped == {"answer_option_lost_in_shift": 1}
    assert result.rejects[0]["excerpt"] == "7: answer ['E'], options ABCD"


@quirk("qa_chinese_biomedical", "shifted_list_stem_tail_goes_back_into_the_question")
def _(tmp_path):
    path = lines(tmp_path / "doctor_dev.json", [
        exam("8", ["体检无阳性体征。最常见于(）", "A.癫痫发作", "B.分离(转换)障碍", "C.脑梗死",
                   "D.重症肌无力"], ["B"], text="患者，女，28岁。突发双下肢无力，"),
        exam("9", ["患者，男，30岁。最常见于(）", "A.甲", "B.乙"], ["A"], text="患者，男，30岁。"),
    ])
    rows = {r[KEY]: r for r in read_bio(path).frame.to_dicts()}
    assert rows["8"]["question"] == "患者，女，28岁。突发双下肢无力，体检无阳性体征。最常见于(）"
    assert rows["8"]["answer"] == "分离(转换)障碍" and rows["8"]["answer_letters"] == "B"
    assert rows["8"]["option_list"] == ["癫痫发作", "分离(转换)障碍", "脑梗死", "重症肌无力"]
    assert rows["9"]["question"] == "患者，男，30岁。最常见于(）"      # the tail holds the stem


@quirk("qa_chinese_biomedical", "misaligned_letters_are_dropped_counted")
def _(tmp_path):
    path = lines(tmp_path / "d.json", [
        exam("1", ["A.甲", "B.乙", "B.丙", "D.丁"], ["C"]),
        exam("2", ["A.甲", "乙", "C.丙"], ["A"]),
        exam("3", ["A.甲", "B.乙"], ["A"]),
    ])
    result = read_bio(path)
    assert result.frame[KEY].to_list() == ["3"]
    assert result.dropped == {"option_letters_misaligned": 2}


@quirk("qa_chinese_biomedical", "letter_repeated_inside_an_option_object")
def _(tmp_path):
    path = lines(tmp_path / "d.json", [exam("1", {"A": "A.甲药", "B": "B、乙药", "C": "C型"}, "C")])
    row = read_bio(path).frame.to_dicts()[0]
    assert row["option_list"] == ["甲药", "乙药", "C型"] and row["answer"] == "C型"


@quirk("qa_chinese_biomedical", "doctor_and_pharmacist_files_number_their_own_questions")
def _(tmp_path):
    doctor = lines(tmp_path / "doctor_dataset" / "doctor_train.json",
                   [exam("1", ["A.甲", "B.乙"], ["A"])])
    pharmacist = lines(tmp_path / "pharmacist_dataset" / "pharmacist_train.json",
                       [exam("1", ["A.丙", "B.丁"], ["B"])])
    rows = read_bio(doctor, pharmacist).frame.to_dicts()
    assert [(r[KEY], r["answer"]) for r in rows] == [("doctor_train:1", "甲"),
                                                     ("pharmacist_train:1", "丁")]
    lines(doctor, [exam("1", ["A.甲", "B.乙"], ["A"])] * 2)
    with pytest.raises(SourceError) as error:
        read_bio(doctor, pharmacist)
    assert str(error.value).startswith(
        f"{doctor}: line 2: questionId doctor_train:1 repeats the one at line 1; expected records")


@quirk("qa_chinese_biomedical", "bundled_sample_has_the_real_layout_and_quirks")
def _(tmp_path):
    base = SAMPLES / "qa_chinese_biomedical"
    train = read_bio(base / "doctor_dataset" / "doctor_train.json",
                     base / "pharmacist_dataset" / "pharmacist_train.json")
    assert train.dropped == {"answer_option_lost_in_shift": 2, "answer_not_in_options": 1}
    raw = [json.loads(line) for f in sorted(base.glob("*/*.json")) for line in open(f, "rb")]
    assert all(isinstance(r["option"], list) and isinstance(r["answer"], list) for r in raw)
    assert all(o[:2] in ("A.", "B.", "C.", "D.", "E.") for r in raw for o in r["option"][1:])
    assert not any(t.startswith(("A.", "B.", "C.", "D.", "E.")) for t in train.frame["answer"]
                   .drop_nulls())


# ---------------------------------------------------------------- nli_cinlid

def read_cinlid(path, encoding="utf-8"):
    return cinlid.read([path], fmt="cinlid", encoding=encoding, options={}, label="x")


def pairs(result):
    return [(r[KEY], r["phrase1"], r["phrase2"], r["label"]) for r in result.frame.to_dicts()]


@quirk("nli_cinlid", "objects_back_to_back_utf8")
def _(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes('{"phrase1": "博古通今", "phrase2": "学富五车", "label": "entailment"}'
                     '{"phrase1": "井井有条", "phrase2": "杂乱无章", "label": "contradiction"}'
                     .encode("utf-8"))
    expected = [("0", "博古通今", "学富五车", "entailment"),
                ("1", "井井有条", "杂乱无章", "contradiction")]
    assert pairs(read_cinlid(path)) == expected
    assert pairs(read_cinlid(path, encoding="gbk")) == expected     # detected, whatever declared


@quirk("nli_cinlid", "objects_separated_by_newlines_or_spaces")
def _(tmp_path):
    path = tmp_path / "train.json"
    path.write_text('{"phrase1": "甲", "phrase2": "乙", "label": "neutral"}\n \n'
                    '{"phrase1": "丙", "phrase2": "丁", "label": "neutral"}\n', "utf-8")
    assert [p[0] for p in pairs(read_cinlid(path))] == ["0", "1"]


@quirk("nli_cinlid", "gbk_data_document_still_read")
def _(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(json.dumps({"data": [{"phrase1": "一箭双雕", "phrase2": "一举两得",
                                           "label": "entailment"}]}, ensure_ascii=False)
                     .encode("gbk"))
    assert pairs(read_cinlid(path)) == [("0", "一箭双雕", "一举两得", "entailment")]


@quirk("nli_cinlid", "truncated_stream_names_the_object")
def _(tmp_path):
    path = tmp_path / "train.json"
    path.write_text('{"phrase1": "甲", "phrase2": "乙", "label": "neutral"}{"phrase1": "丙", "ph',
                    "utf-8")
    with pytest.raises(SourceError) as error:
        read_cinlid(path)
    assert str(error.value).startswith(
        f"{path}: object 1 (char 52): not valid JSON (Unterminated string starting at: char 69); "
        'expected items {"phrase1": str')


@quirk("nli_cinlid", "bundled_sample_is_the_public_layout")
def _(tmp_path):
    raw = (SAMPLES / "nli_cinlid" / "train.json").read_text("utf-8")
    assert "}{" in raw and not raw.lstrip().startswith('{"data"')
    result = read_cinlid(SAMPLES / "nli_cinlid" / "train.json")
    assert result.frame.height == raw.count('"phrase1"')


# ---------------------------------------------------------------- gec_md_scs (ECSpell)

def read_ecspell(*paths):
    return ecspell.read(list(paths), fmt="ecspell", encoding="utf-8", options={}, label="x")


@quirk("gec_md_scs", "first_column_disagrees_with_the_sentences")
def _(tmp_path):
    path = tmp_path / "odw.train"
    path.write_text("0\t政府引到，形成合力。\t政府引导，形成合力。\n"      # real: count 0, one change
                    "1\t应激反应主要靠激素。\t应激反应主要靠激素。\n"      # real: count 1, no change
                    "5\t光谷远去支援\t光谷院区支援\n", "utf-8")           # real: 5 for 2 changes
    rows = read_ecspell(path).frame.to_dicts()
    assert [(r["has_error"], r["n_errors"], r["corrections"]) for r in rows] == [
        (True, 1, ["到→导"]), (False, 0, []), (True, 2, ["远→院", "去→区"])]


@quirk("gec_md_scs", "last_line_without_newline_and_length_mismatch")
def _(tmp_path):
    path = tmp_path / "odw.test"
    path.write_text("2\t呈现去世的区域\t呈现恶化趋势的区域\n0\t完成任务\t完成任务", "utf-8")
    result = read_ecspell(path)
    assert result.frame[KEY].to_list() == ["odw:2"] and result.frame["domain"][0] == "公文"
    assert result.dropped == {"length_mismatch": 1}


# ---------------------------------------------------------------- summ_csl_title (benchmark/ts)

@quirk("summ_csl_title", "leading_space_bare_quotes_and_book_marks_in_benchmark_lines")
def _(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text('to title\t 在<某某学报>创刊之际,回顾"办刊"历程.展望未来.\t写在<某某学报>创刊之际\n'
                    'to title\t"外部性"是一个重要问题.本文加以讨论.\t"外部性"问题再探\n', "utf-8")
    rows = csl_papers.read([path], fmt="csl_tsv", encoding="utf-8", options={},
                           label="x").frame.to_dicts()
    assert [(r["abstract"], r["title"]) for r in rows] == [
        ('在<某某学报>创刊之际,回顾"办刊"历程。展望未来。', "写在<某某学报>创刊之际"),
        ('"外部性"是一个重要问题。本文加以讨论。', '"外部性"问题再探')]


# ---------------------------------------------------------------- cls_chnsenticorp_htl (csv)

@quirk("cls_chnsenticorp_htl", "minimal_quoting_doubled_quotes_and_an_empty_review")
def _(tmp_path):
    path = tmp_path / "ChnSentiCorp_htl_all.csv"
    path.write_text('label,review\n1,"""家""的感觉,很温馨."\n1,服务很好。早餐一般。\n0,\n', "utf-8")
    rows = reader_for("csv").read([path], fmt="csv", encoding="utf-8", options={},
                                  label="x").frame.to_dicts()
    assert [(str(r["label"]), r["review"]) for r in rows] == [
        ("1", '"家"的感觉,很温馨.'), ("1", "服务很好。早餐一般。"), ("0", "")]       # empty_field:review


# ---------------------------------------------------------------- mt_translation2019zh (bitext)

T2019 = {"json_keys": {"en": "english", "zh": "chinese"}}


def read_t2019(path, options=T2019):
    return bitext.read([path], fmt="bitext", encoding="utf-8", options=options, label="x")


@quirk("mt_translation2019zh", "swapped_sides_are_counted_not_translated_backwards")
def _(tmp_path):
    path = lines(tmp_path / "translation2019zh_valid.json", [
        {"english": "Kind words cost nothing.", "chinese": "好话不花钱。"},
        {"english": "他们偷偷换上了一名替补。", "chinese": "They slipped in a substitute."},
        {"english": "IBM", "chinese": "IBM"},
    ])
    result = read_t2019(path)
    assert [(r[KEY], r["en"], r["zh"]) for r in result.frame.to_dicts()] == [
        ("1", "Kind words cost nothing.", "好话不花钱。"), ("3", "IBM", "IBM")]
    assert result.dropped == {"swapped_sides": 1}


@quirk("mt_translation2019zh", "stray_punctuation_after_the_object")
def _(tmp_path):
    path = tmp_path / "translation2019zh_valid.json"
    path.write_text('{"english": "Terms are agreed.", "chinese": "期限协商确定。"}.  \n'
                    '{"english": "Hi.", "chinese": "你好。"}', "utf-8")
    assert read_t2019(path).frame["zh"].to_list() == ["期限协商确定。", "你好。"]
    path.write_text('{"english": "Hi.", "chinese": "你好。"}{"english": "Yes.", "chinese": "是。"}\n',
                    "utf-8")
    with pytest.raises(SourceError) as error:
        read_t2019(path)
    assert str(error.value) == (
        f"{path}: line 1: text after the JSON object: '{{\"english\": \"Yes.\", \"chinese\":'; "
        'expected JSON lines {"english": str, "chinese": str}')


@quirk("mt_wikititles_en_zh", "swapped_sides_in_tab_separated_lines")
def _(tmp_path):
    path = tmp_path / "wikititles-v1.zh-en.tsv"
    path.write_text("长城\tGreat Wall of China\nPeking University\t北京大学\n", "utf-8")
    result = bitext.read([path], fmt="bitext", encoding="utf-8",
                         options={"columns": ["zh", "en"]}, label="x")
    assert result.frame["zh"].to_list() == ["长城"] and result.dropped == {"swapped_sides": 1}


@quirk("mt_multitarget_ted", "line_aligned_swapped_pair_counted_laughter_kept")
def _(tmp_path):
    en, zh = tmp_path / "ted_dev_en-zh.raw.en", tmp_path / "ted_dev_en-zh.raw.zh"
    en.write_text("(Laughter)\n谢谢大家。\nThank you.\n", "utf-8")
    zh.write_text("（笑声）\nThank you all.\n谢谢。\n", "utf-8")
    result = bitext.read({"en": en, "zh": zh}, fmt="bitext", encoding="utf-8", options={},
                         label="x")
    assert result.frame["zh"].to_list() == ["（笑声）", "谢谢。"]
    assert result.dropped == {"swapped_sides": 1}


# ---------------------------------------------------------------- senti_chnsenticorp

@quirk("senti_chnsenticorp", "repackaged_text_label_copy_is_refused_naming_the_header")
def _(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("這間酒店環境不錯~~\tpositive\n商品不足\tnegative\n", "utf-8")
    with pytest.raises(SourceError) as error:
        reader_for("luge_senti_tsv").read([path], fmt="luge_senti_tsv", encoding="utf-8",
                                          options={}, label="x")
    assert str(error.value).startswith(
        f"{path}: line 1: header is '這間酒店環境不錯~~\\tpositive', without text_a as its last "
        "column; expected a tab-separated file whose first line is a header such as")


@pytest.mark.parametrize("case", CASES)
def test_quirk(case, tmp_path):
    case(tmp_path)
