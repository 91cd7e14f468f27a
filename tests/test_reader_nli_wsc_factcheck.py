"""Readers for group C's tasks (XNLI zh, CLUEWSC2020, CHEF, CINLID): awkward cases and the exact
error messages for shapes they do not accept."""

import json

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import KEY, chef, cinlid, cluewsc, xnli

# ---------------------------------------------------------------- XNLI (xnli.dev/test.tsv)

XNLI_HEADER = ("language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\tgenre\t"
               "label1\tlabel2\tlabel3\tlabel4\tlabel5\tsentence1_tokenized\tsentence2_tokenized\t"
               "match")


def xnli_line(lang, gold, s1, s2, pair, genre="travel"):
    return "\t".join([lang, gold, "", "", "", "", s1, s2, "7", pair, genre, *[gold] * 5,
                      s1, s2, "True"])


def read_xnli(path, **options):
    return xnli.read([path], fmt="xnli", encoding="utf-8", options=options, label="x")


def test_xnli_keeps_one_language_and_counts_the_others(tmp_path):
    path = tmp_path / "xnli.test.tsv"
    path.write_text("\n".join([
        XNLI_HEADER,
        xnli_line("en", "neutral", 'He said "fine".', "He left.", "1"),
        xnli_line("zh", "entailment", '他说"好吧"，然后走了。', "他走了。", "1"),
        xnli_line("zh", "contradiction", "天在下雨。", "天很晴朗。", "2", genre="fiction"),
    ]) + "\n", "utf-8")
    result = read_xnli(path)
    # quotes are text, not CSV quoting: the zh row keeps them and no lines are merged
    assert result.frame.to_dicts() == [
        {KEY: "1", "premise": '他说"好吧"，然后走了。', "hypothesis": "他走了。",
         "label": "entailment", "genre": "travel"},
        {KEY: "2", "premise": "天在下雨。", "hypothesis": "天很晴朗。", "label": "contradiction",
         "genre": "fiction"},
    ]
    assert result.dropped == {"out_of_scope:other_language": 1}
    assert result.rejects == []                       # skipped by design, not rejected
    assert read_xnli(path, language="en").frame[KEY].to_list() == ["1"]


def test_xnli_line_with_wrong_field_count(tmp_path):
    path = tmp_path / "xnli.dev.tsv"
    path.write_text(XNLI_HEADER + "\nzh\tneutral\t句子一\t句子二\n", "utf-8")
    with pytest.raises(SourceError) as error:
        read_xnli(path)
    assert str(error.value) == (
        f"{path}: line 2: 4 tab-separated fields, the header has 19; expected a tab-separated "
        "XNLI file with a header line naming at least language, gold_label, sentence1, sentence2, "
        "pairID and the same number of fields on every line")


def test_xnli_header_without_required_columns(tmp_path):
    path = tmp_path / "xnli.dev.tsv"
    path.write_text("sentence1\tsentence2\tlabel\n句子一\t句子二\tentailment\n", "utf-8")
    with pytest.raises(SourceError) as error:
        read_xnli(path)
    assert str(error.value).startswith(
        f"{path}: line 1: header lacks language, gold_label, pairID (has: sentence1, sentence2, "
        "label); expected a tab-separated XNLI file")


def test_xnli_duplicate_pair_id_within_a_language(tmp_path):
    path = tmp_path / "xnli.dev.tsv"
    path.write_text("\n".join([XNLI_HEADER, xnli_line("zh", "neutral", "甲。", "乙。", "5"),
                               xnli_line("zh", "neutral", "丙。", "丁。", "5")]) + "\n", "utf-8")
    with pytest.raises(SourceError) as error:
        read_xnli(path)
    assert str(error.value).startswith(f"{path}: line 3: pairID 5 for language zh already on "
                                       "line 2; expected")


def test_xnli_hub_copy_decodes_class_labels():
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=["entailment", "neutral", "contradiction"])})
    dataset = Dataset.from_list([{"premise": "天在下雨。", "hypothesis": "天很晴朗。", "label": 2}],
                                features=features)
    rows = xnli.from_hub(dataset, options={}, label="x").frame.to_dicts()
    assert rows == [{KEY: "0", "premise": "天在下雨。", "hypothesis": "天很晴朗。",
                     "label": "contradiction", "genre": None}]


# ---------------------------------------------------------------- CLUEWSC2020

def wsc_record(text, noun, noun_at, pronoun, pronoun_at, idx=0, label="true"):
    record = {"target": {"span2_index": pronoun_at, "span1_index": noun_at, "span1_text": noun,
                         "span2_text": pronoun}, "idx": idx, "label": label, "text": text}
    if label is None:
        del record["label"], record["idx"]
        record["id"] = idx
    return record


def write_lines(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def read_wsc(path, **options):
    return cluewsc.read([path], fmt="cluewsc", encoding="utf-8", options=options, label="x")


def test_wsc_marks_the_pronoun_at_its_offset_and_relocates_shifted_spans(tmp_path):
    text = "李叔叔教会了小峰下象棋，后来小峰常常赢他，他却总是笑呵呵的。"
    path = write_lines(tmp_path / "train.json", [
        wsc_record(text, "李叔叔", 1, "他", 21, idx=3),        # noun offset is one off: relocated
        wsc_record(text, "小峰", 6, "他", 19, idx=3, label="false"),
    ])
    rows = read_wsc(path).frame.to_dicts()
    assert rows[0] == {KEY: "3", "text": text, "noun": "李叔叔", "noun_index": 0, "pronoun": "他",
                       "pronoun_index": 21, "label": "true",
                       "marked": "李叔叔教会了小峰下象棋，后来小峰常常赢他，【他】却总是笑呵呵的。"}
    # the second 他 is the one marked in row 0, the first in row 1; a repeated idx gets @line
    assert rows[1][KEY] == "3@2"
    assert rows[1]["marked"] == "李叔叔教会了小峰下象棋，后来小峰常常赢【他】，他却总是笑呵呵的。"
    assert read_wsc(path, mark="〔〕").frame["marked"][1].count("〔他〕") == 1


def test_wsc_span_not_in_text_is_dropped_and_test_rows_keep_a_null_label(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        wsc_record("老周的儿子考上了大学，他高兴得一夜没睡。", "老王", 0, "他", 11),
        wsc_record("老周的儿子考上了大学，他高兴得一夜没睡。", "老周", 0, "他", 11, idx=1),
    ])
    result = read_wsc(path)
    assert result.dropped == {"span_not_in_text": 1}
    assert result.rejects[0]["line"] == 1
    assert result.frame[KEY].to_list() == ["1"]
    # the test file: "id" instead of "idx", and no label
    path = write_lines(tmp_path / "test.json", [
        wsc_record("鸽子淋湿了，雨停后它才飞走。", "鸽子", 0, "它", 9, idx=9, label=None)])
    rows = read_wsc(path).frame.to_dicts()
    assert rows[0][KEY] == "9" and rows[0]["label"] is None


def test_wsc_missing_target_fails_with_the_shape(tmp_path):
    path = write_lines(tmp_path / "train.json", [{"idx": 0, "label": "true", "text": "他来了。"}])
    with pytest.raises(SourceError) as error:
        read_wsc(path)
    assert str(error.value) == (
        f'{path}: line 1: "target" is missing or not an object; expected CLUEWSC2020 lines shaped '
        '{"text": str, "target": {"span1_text": str, "span1_index": int, "span2_text": str, '
        '"span2_index": int}, "idx": int, "label": "true"|"false"}')


def test_wsc_span_index_must_be_an_integer(tmp_path):
    record = wsc_record("他来了。", "他", 0, "他", 0)
    record["target"]["span1_index"] = "0"
    path = write_lines(tmp_path / "train.json", [record])
    with pytest.raises(SourceError) as error:
        read_wsc(path)
    assert str(error.value).startswith(
        f"{path}: line 1: target.span1_text must be a non-empty string and target.span1_index an "
        "integer (got '他', '0'); expected CLUEWSC2020 lines")


def test_wsc_hub_copy_turns_class_labels_back_into_strings():
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"idx": Value("int32"), "text": Value("string"),
                         "label": ClassLabel(names=["true", "false"]),
                         "target": {"span1_text": Value("string"), "span2_text": Value("string"),
                                    "span1_index": Value("int32"), "span2_index": Value("int32")}})
    dataset = Dataset.from_list([{"idx": 7, "text": "猫追着狗跑，它很害怕。", "label": 1,
                                  "target": {"span1_text": "猫", "span2_text": "它",
                                             "span1_index": 0, "span2_index": 6}}],
                                features=features)
    rows = cluewsc.from_hub(dataset, options={}, label="x").frame.to_dicts()
    assert (rows[0][KEY], rows[0]["label"], rows[0]["marked"]) == ("7", "false",
                                                                   "猫追着狗跑，【它】很害怕。")


# ---------------------------------------------------------------- CHEF

def chef_claim(claim, label, gold, claim_id="1", domain="生活"):
    slots = (gold + [""] * 5)[:5]
    return {"claimId": claim_id, "claim": claim, "label": label, "domain": domain,
            "evidence": {str(i): {"text": "检索到的文档。"} for i in range(5)},
            "gold evidence": {str(i): {"text": slots[i]} for i in range(5)}}


def write_json(path, document, encoding="utf-8"):
    path.write_bytes(json.dumps(document, ensure_ascii=False, indent=1).encode(encoding))
    return path


def read_chef(path):
    return chef.read([path], fmt="chef", encoding="utf-8", options={}, label="x")


def test_chef_keeps_non_empty_gold_sentences_in_slot_order(tmp_path):
    path = write_json(tmp_path / "train.json", [
        chef_claim("喝咖啡會讓小孩長不高。", 1, ["", " 第一句证据。 ", "", "第二句证据。"]),
        chef_claim("网传某地将整体搬迁。", 2, [], claim_id="2"),
        chef_claim("水在标准大气压下100℃沸腾。", 0, ["纯水的沸点为100℃。"], claim_id="1"),
    ])
    result = read_chef(path)
    assert result.frame.to_dicts() == [
        {KEY: "1", "claim": "喝咖啡會讓小孩長不高。", "evidence": ["第一句证据。", "第二句证据。"],
         "label": "1", "domain": "生活"},
        {KEY: "1@2", "claim": "水在标准大气压下100℃沸腾。", "evidence": ["纯水的沸点为100℃。"],
         "label": "0", "domain": "生活"},
    ]
    assert result.dropped == {"no_gold_evidence": 1}
    assert result.rejects[0]["line"] == 1


def test_chef_top_level_object_fails_with_the_shape(tmp_path):
    path = write_json(tmp_path / "train.json", {"data": []})
    with pytest.raises(SourceError) as error:
        read_chef(path)
    assert str(error.value) == (
        f'{path}: $: top level is a JSON dict, not an array; expected one JSON array of claims '
        'shaped {"claimId": ..., "claim": str, "label": 0|1|2, "domain": str, "gold evidence": '
        '{"0": {"text": str}, ..., "4": {"text": str}}}')


def test_chef_label_must_be_an_integer(tmp_path):
    path = write_json(tmp_path / "train.json", [chef_claim("说法。", "supported", ["证据。"])])
    with pytest.raises(SourceError) as error:
        read_chef(path)
    assert str(error.value).startswith(f"{path}: $[0]: \"label\" is 'supported', not an integer; "
                                       "expected one JSON array of claims")


def test_chef_gold_slot_without_text_fails(tmp_path):
    claim = chef_claim("说法。", 0, ["证据。"])
    claim["gold evidence"]["3"] = "证据。"
    path = write_json(tmp_path / "train.json", [claim])
    with pytest.raises(SourceError) as error:
        read_chef(path)
    assert str(error.value).startswith(f'{path}: $[0]["gold evidence"]["3"]: a slot is not an '
                                       'object with a "text" string; expected')


# ---------------------------------------------------------------- CINLID

def read_cinlid(path, encoding="gbk"):
    return cinlid.read([path], fmt="cinlid", encoding=encoding, options={}, label="x")


def test_cinlid_reads_the_gbk_document(tmp_path):
    path = write_json(tmp_path / "train.json", {"data": [
        {"phrase1": "竹篮打水——一场空", "phrase2": "徒劳无功", "label": "entailment"},
        {"phrase1": "刻舟求剑", "phrase2": "", "label": "neutral", "id": 17},
        {"phrase1": "门庭若市", "phrase2": "门可罗雀"},
    ]}, encoding="gbk")
    rows = read_cinlid(path).frame.to_dicts()
    assert rows == [
        {KEY: "0", "phrase1": "竹篮打水——一场空", "phrase2": "徒劳无功", "label": "entailment"},
        {KEY: "17", "phrase1": "刻舟求剑", "phrase2": "", "label": "neutral"},
        {KEY: "2", "phrase1": "门庭若市", "phrase2": "门可罗雀", "label": None},
    ]


def test_cinlid_other_top_level_shapes_fail(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes('[{"phrase1": "一箭双雕", "phrase2": "一举两得", "label": "entailment"}]'
                     .encode("gbk"))
    with pytest.raises(SourceError) as error:
        read_cinlid(path)
    assert str(error.value) == (
        f"{path}: char 0: starts with '[', not '{{'; expected items {{\"phrase1\": str, "
        '"phrase2": str, "label": "entailment"|"neutral"|"contradiction"} either written back to '
        'back ({...}{...}, the public UTF-8 copy) or in one JSON document {"data": [...]} (the GBK '
        'luge release as DataLab reads it)')


def test_cinlid_item_without_phrase2(tmp_path):
    path = write_json(tmp_path / "train.json", {"data": [{"phrase1": "一箭双雕", "label": "neutral"}]},
                      encoding="gbk")
    with pytest.raises(SourceError) as error:
        read_cinlid(path)
    assert str(error.value).startswith(f'{path}: $.data[0]: "phrase2" is missing or not a string; '
                                       "expected items {")


def test_cinlid_undecodable_file_names_the_byte(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(b'{"phrase1": "\xff\xfe\xff", "phrase2": "x", "label": "neutral"}')
    with pytest.raises(SourceError) as error:
        read_cinlid(path)
    assert str(error.value).startswith(f"{path}: byte 13: cannot decode as gbk")
