"""Readers of catalogue group E (MSRA NER, CLUENER, C3, DuIE 2.0, CCKS 2021 event elements) on
their awkward cases, and their error messages."""

import json

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import GROUP, KEY, bio_ner, c3, ccks2021_event, cluener, duie, squad


def write_lines(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def read(module, files, fmt, options=None):
    return module.read(files, fmt=fmt, encoding="utf-8", options=options or {}, label="x")


# ---------------------------------------------------------------- MSRA NER (hf_bio)

O, BP, IP, BO, IO, BL, IL = range(7)


def bio(tokens: str, tags: list[int], id_="0"):
    return {"id": id_, "tokens": list(tokens), "ner_tags": tags}


def test_bio_decodes_spans_and_keeps_sentences_without_entities(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [
        # I-LOC without its B-LOC opens a LOC entity; 长江 twice is listed once
        bio("长江口与长江", [IL, IL, O, O, BL, IL], "0"),
        # I-ORG right after a PER entity is a new ORG entity, not part of the name
        bio("王安平钢厂", [BP, IO, IO, IO, IO], "1"),
        bio("今天下雨", [O, O, O, O], "2"),
    ])
    result = read(bio_ner, [path], "hf_bio")
    rows = result.frame.to_dicts()
    assert result.dropped == {}
    assert [r[KEY] for r in rows] == ["0", "1", "2"]
    assert rows[0]["locations"] == ["长江"] and rows[0]["summary"] == "地名：长江"
    assert rows[0]["marked"] == "【长江/地名】口与【长江/地名】"
    assert rows[1]["entities"] == [{"type": "人名", "text": "王"}, {"type": "机构名", "text": "安平钢厂"}]
    assert rows[1]["summary"] == "人名：王；机构名：安平钢厂"
    assert rows[2]["summary"] == "没有" and rows[2]["entities"] == [] and rows[2]["persons"] == []


def test_bio_summary_order_is_person_location_organization(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [
        bio("新华社北京电李明说", [BO, IO, IO, BL, IL, O, BP, IP, O])])
    row = read(bio_ner, [path], "hf_bio").frame.to_dicts()[0]
    assert row["summary"] == "人名：李明；地名：北京；机构名：新华社"


def test_bio_malformed_tags_are_dropped_and_counted(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [
        bio("北京", [BL, 7], "0"),
        bio("北京", [BL, -1], "1"),
        bio("北京", [BL, "I-LOC"], "2"),
        bio("北京", [BL], "3"),
        bio("上海", [BL, IL], "4"),
    ])
    result = read(bio_ner, [path], "hf_bio")
    assert result.dropped == {"invalid_tag_id": 3, "tags_length_mismatch": 1}
    assert result.frame[KEY].to_list() == ["4"]
    first = result.rejects[0]
    assert (first["reason"], first["line"]) == ("invalid_tag_id", 1)
    assert first["excerpt"].startswith("tag ids [7] outside 0..6: ")


def test_bio_wrong_shape_fails_with_file_and_line(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [{"id": "0", "text": "北京", "labels": [5, 6]}])
    with pytest.raises(SourceError) as error:
        read(bio_ner, [path], "hf_bio")
    assert str(error.value) == (f'{path}: line 1: "tokens" is not a list of strings; expected JSON '
                                'lines shaped {"id": str, "tokens": [str], "ner_tags": [int]}')


def test_bio_rejects_non_bio_tag_names(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [bio("北京", [1, 2])])
    with pytest.raises(SourceError) as error:
        read(bio_ner, [path], "hf_bio", {"tags": ["O", "S-LOC", "E-LOC"]})
    assert str(error.value) == ("reader_options.tags: tag 'S-LOC' is neither O nor B-/I- of a type "
                                "in reader_options.types (PER, LOC, ORG)")


def test_bio_hub_copy_uses_the_class_label_names():
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    # a hub copy whose label order differs from MSRA's: the feature names decide
    names = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    features = Features({"id": Value("string"), "tokens": Sequence(Value("string")),
                         "ner_tags": Sequence(ClassLabel(names=names))})
    dataset = Dataset.from_list([{"id": "9", "tokens": list("张三去北京"), "ner_tags": [3, 4, 0, 1, 2]}],
                                features=features)
    rows = bio_ner.from_hub(dataset, options={}, label="x").frame.to_dicts()
    assert rows[0][KEY] == "9" and rows[0]["summary"] == "人名：张三；地名：北京"


# ---------------------------------------------------------------- CLUENER

def test_cluener_inclusive_and_exclusive_spans_and_text_order(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"text": "浙江杭州的马云和马云", "label": {
            "name": {"马云": [[5, 6], [8, 9]]},          # inclusive ends, two spans
            "address": {"浙江杭州": [[0, 4]]}}},           # exclusive end: accepted
        {"text": "无实体的一句话", "label": {}},
    ])
    result = read(cluener, [path], "cluener")
    rows = result.frame.to_dicts()
    assert result.dropped == {}
    assert [r[KEY] for r in rows] == ["1", "2"]
    assert rows[0]["entities"] == [{"type": "地址", "text": "浙江杭州"}, {"type": "人名", "text": "马云"}]
    assert rows[0]["summary"] == "地址：浙江杭州；人名：马云"
    assert rows[0]["marked"] == "【浙江杭州/地址】的【马云/人名】和【马云/人名】"
    assert rows[0]["name"] == ["马云"] and rows[0]["book"] == []
    assert rows[1]["summary"] == "没有"


def test_cluener_bad_spans_and_unknown_types_are_dropped(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"text": "周子墨在紫竹林", "label": {"name": {"周子墨": [[0, 2]]}, "scene": {"紫竹林": [[3, 6]]}}},
        {"text": "一段文字", "label": {"animal": {"文字": [[2, 3]]}}},
        {"text": "省教育厅发文", "label": {"goverment": {"省教育厅": [[0, 3]]}}},
    ])
    result = read(cluener, [path], "cluener")
    assert result.dropped == {"span_mismatch": 1, "unknown_entity_type": 1}
    assert [r["reason"] for r in result.rejects] == ["span_mismatch", "unknown_entity_type"]
    row = result.frame.to_dicts()[0]
    assert row["government"] == ["省教育厅"] and row["summary"] == "政府机构：省教育厅"


def test_cluener_test_file_without_label_gives_null_label_columns(tmp_path):
    path = write_lines(tmp_path / "test.json", [{"id": 0, "text": "彭小军认为，国内银行现在走的是台湾的发卡模式"}])
    row = read(cluener, [path], "cluener").frame.to_dicts()[0]
    assert row[KEY] == "0" and row["summary"] is None and row["entities"] is None


def test_cluener_malformed_spans_fail_loudly(tmp_path):
    path = write_lines(tmp_path / "train.json", [{"text": "马云", "label": {"name": {"马云": [0, 1]}}}])
    with pytest.raises(SourceError) as error:
        read(cluener, [path], "cluener")
    assert str(error.value) == (
        f'{path}: line 1: entity "马云" does not have a list of [start, end] spans; expected JSON '
        'lines shaped {"text": str, "label": {type: {entity: [[start, end], ...]}}}')


def test_cluener_hub_copy_has_exclusive_offsets():
    from datasets import Dataset

    dataset = Dataset.from_list([{"text": "远舟科技的黎子航", "entities": [
        {"id": 0, "entity": "远舟科技", "start_offset": 0, "end_offset": 4, "label": "company"},
        {"id": 1, "entity": "黎子航", "start_offset": 5, "end_offset": 8, "label": "name"}]}])
    row = cluener.from_hub(dataset, options={}, label="x").frame.to_dicts()[0]
    assert row["summary"] == "公司：远舟科技；人名：黎子航"


# ---------------------------------------------------------------- C3

def c3_doc(lines, questions, doc_id):
    return [lines, questions, doc_id]


def test_c3_one_row_per_question_with_genre_and_text_answers(tmp_path):
    d = tmp_path / "d-train.json"
    d.write_text(json.dumps([c3_doc(["男：明天几点出发？", "女：八点。"], [
        {"question": "他们几点出发？", "choice": ["七点", "八点", "九点", "八点"], "answer": "八点"},
        {"question": "说话人是谁？", "choice": ["同事", "同学"], "answer": "同学"}], "1-1")],
        ensure_ascii=False), "utf-8")
    m = tmp_path / "m-train.json"
    m.write_text(json.dumps([c3_doc(["本店周一休息。"], [
        {"question": "本店哪天休息？", "choice": ["周一", "周日"], "answer": "周一"}], "1-1")],
        ensure_ascii=False), "utf-8")
    result = read(c3, [d, m], "c3")
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["1-1:0", "1-1:1", "m-train.json:1-1:0"]   # doc ids collide
    assert rows[0]["context"] == "男：明天几点出发？\n女：八点。" and rows[0]["genre"] == "对话"
    assert rows[0]["choices"] == ["七点", "八点", "九点"] and rows[0]["answer"] == "八点"
    assert rows[0][GROUP] == rows[1][GROUP] != rows[2][GROUP]
    assert rows[2]["genre"] == "文章"


def test_c3_answer_must_be_one_of_the_choices(tmp_path):
    path = tmp_path / "m-train.json"
    path.write_text(json.dumps([c3_doc(["会议改到下午三点。"], [
        {"question": "会议几点开始？", "choice": ["下午两点", "下午三点钟"], "answer": "下午三点"},
        {"question": "只有一个选项？", "choice": ["对", "对 "], "answer": "对"}], "m9")],
        ensure_ascii=False), "utf-8")
    result = read(c3, [path], "c3")
    assert result.frame.height == 0
    assert result.dropped == {"answer_not_in_choices": 1, "too_few_choices": 1}
    assert result.rejects[0]["line"] == "$[0][1][0]"


def test_c3_test_file_has_no_answer(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps([c3_doc(["女：你去哪儿？", "男：去图书馆。"], [
        {"question": "男的去哪儿？", "choice": ["图书馆", "食堂"], "id": "0"}], "t-1")],
        ensure_ascii=False), "utf-8")
    row = read(c3, [path], "c3").frame.to_dicts()[0]
    assert row["answer"] is None and row["genre"] == "对话"


def test_c3_wrong_shape_names_file_and_position(tmp_path):
    path = tmp_path / "d-train.json"
    path.write_text(json.dumps([{"context": ["男：好。"], "questions": []}], ensure_ascii=False), "utf-8")
    with pytest.raises(SourceError) as error:
        read(c3, [path], "c3")
    assert str(error.value) == (
        f"{path}: $[0]: expected a document [context lines, questions, doc_id]; a C3 file is one "
        'JSON array [[[context line, ...], [{"question": str, "choice": [str, ...], "answer": str}, '
        "...], doc_id], ...]")


def test_c3_hub_copy_numbers_questions_per_document():
    from datasets import Dataset

    dataset = Dataset.from_list([
        {"id": 0, "context": ["男：走吧。", "女：好。"], "question": "他们要做什么？",
         "choice": ["走", "留"], "answer": "走"},
        {"id": 0, "context": ["男：走吧。", "女：好。"], "question": "女的同意吗？",
         "choice": ["同意", "不同意"], "answer": "同意"}])
    rows = c3.from_hub(dataset, options={}, label="x").frame.to_dicts()
    assert [r[KEY] for r in rows] == ["0:0", "0:1"] and rows[0]["genre"] == "对话"


# ---------------------------------------------------------------- DuIE 2.0

def spo(s, p, o, **slots):
    return {"predicate": p, "subject": s, "subject_type": "类型S",
            "object": {"@value": o, **slots},
            "object_type": {"@value": "类型O", **{k: "槽类型" for k in slots}}}


def test_duie_renders_complex_objects_and_removes_repeats(tmp_path):
    text = "王雪纯是87版《红楼梦》中晴雯的配音者，她是《正大综艺》的主持人"
    path = write_lines(tmp_path / "duie_train.json", [{"text": text, "spo_list": [
        spo("王雪纯", "配音", "晴雯", inWork="红楼梦"),
        spo("正大综艺", "主持人", "王雪纯"),
        spo("王雪纯", "配音", "晴雯", inWork="红楼梦"),
    ]}])
    result = read(duie, [path], "duie")
    row = result.frame.to_dicts()[0]
    assert result.dropped == {}
    assert row["triples_text"] == "（王雪纯，配音，晴雯，作品=红楼梦）\n（正大综艺，主持人，王雪纯）"
    assert json.loads(row["triples_json"]) == [
        {"subject": "王雪纯", "predicate": "配音", "object": "晴雯", "inWork": "红楼梦"},
        {"subject": "正大综艺", "predicate": "主持人", "object": "王雪纯"}]
    assert row["triples"][0]["slots"] == "作品=红楼梦" and row["triples"][1]["slots"] == ""
    assert row["predicates"] == ["配音", "主持人"]
    assert (row["pair_subject"], row["pair_object"], row["pair_predicates"]) == ("王雪纯", "晴雯", ["配音"])
    assert [e["text"] for e in row["entities"]] == ["王雪纯", "晴雯", "正大综艺"]


def test_duie_rows_with_entities_not_in_text_are_dropped_not_trimmed(tmp_path):
    path = write_lines(tmp_path / "duie_train.json", [
        {"text": "陈晓航出生于台北", "spo_list": [spo("陈晓航", "祖籍", "台湾省台北市")]},
        {"text": "没有标注的句子", "spo_list": []},
        {"text": "《暖阳》由方知秋作词", "spo_list": [spo("暖阳", "作词", "方知秋")]},
    ])
    result = read(duie, [path], "duie")
    assert result.dropped == {"triple_not_in_text": 1, "no_triples": 1}
    assert result.frame[KEY].to_list() == ["3"]


def test_duie_test_file_has_no_spo_list(tmp_path):
    path = write_lines(tmp_path / "duie_test2.json", [{"text": "《雾港》由周牧执导"}])
    row = read(duie, [path], "duie").frame.to_dicts()[0]
    assert row["text"] == "《雾港》由周牧执导" and row["triples"] is None and row["triples_text"] is None


def test_duie_object_must_be_an_object_with_a_value(tmp_path):
    path = write_lines(tmp_path / "duie_train.json", [{"text": "甲是乙的父亲", "spo_list": [
        {"predicate": "父亲", "subject": "乙", "subject_type": "人物", "object": "甲",
         "object_type": "人物"}]}])
    with pytest.raises(SourceError) as error:
        read(duie, [path], "duie")
    assert str(error.value).startswith(
        f'{path}: line 1: spo_list[0]: "object" is not an object with an "@value" string; '
        'expected JSON lines shaped {"text": str, "spo_list": [{"predicate": str,')


# ---------------------------------------------------------------- CCKS 2021 event elements

def ccks(text_id, text, attributes=None, **levels):
    record = {"text_id": text_id, "text": text, "level1": "交易风险", "level2": "欺诈风险",
              "level3": "冒充客服诈骗", **levels}
    if attributes is not None:
        record["attributes"] = attributes
    return record


def test_ccks_offsets_inclusive_exclusive_or_shifted(tmp_path):
    text = "2020年6月，杭州的王女士被骗4.6万元，王女士随后报警。"
    path = write_lines(tmp_path / "ccks_task1_train.txt", [ccks("a1", text, [
        {"type": "资损金额", "entity": "4.6万元", "start": 16, "end": 21},   # inclusive
        {"type": "受害人", "entity": "王女士", "start": 11, "end": 14},      # exclusive
        {"type": "案发城市", "entity": "杭州", "start": 10, "end": 11},      # two characters late
        {"type": "案发时间", "entity": "2020年6月", "start": 0, "end": 6},
        {"type": "受害人", "entity": "王女士", "start": 23, "end": 25},      # same element again
    ])])
    result = read(ccks2021_event, [path], "ccks2021_event")
    row = result.frame.to_dicts()[0]
    assert result.dropped == {}
    assert row[KEY] == "a1"
    assert row["arguments_text"] == "案发时间：2020年6月\n案发城市：杭州\n受害人：王女士\n资损金额：4.6万元"
    assert json.loads(row["arguments_json"]) == {"案发时间": ["2020年6月"], "案发城市": ["杭州"],
                                                 "受害人": ["王女士"], "资损金额": ["4.6万元"]}
    assert (row["focus_role"], row["focus_entities"]) == ("案发时间", ["2020年6月"])


def test_ccks_elements_not_in_text_and_empty_documents_are_dropped(tmp_path):
    path = write_lines(tmp_path / "ccks_task1_train.txt", [
        ccks("a1", "邓老伯被骗3万元", [{"type": "嫌疑人", "entity": "冒充儿子的男子", "start": 0, "end": 6}]),
        ccks("a2", "警方提醒市民提高警惕", []),
        ccks("a3", "邓老伯被骗3万元", [{"type": "资损金额", "entity": "3万元", "start": 5, "end": 7}]),
    ])
    result = read(ccks2021_event, [path], "ccks2021_event")
    assert result.dropped == {"argument_not_in_text": 1, "no_arguments": 1}
    assert result.frame[KEY].to_list() == ["a3"]


def test_ccks_evaluation_file_without_attributes(tmp_path):
    path = write_lines(tmp_path / "ccks_task1_eval_data.txt", [ccks("e1", "某地发生一起诈骗案")])
    row = read(ccks2021_event, [path], "ccks2021_event").frame.to_dicts()[0]
    assert row["level3"] == "冒充客服诈骗" and row["arguments"] is None


def test_ccks_other_shapes_fail_loudly(tmp_path):
    path = write_lines(tmp_path / "ccks_task1_train.txt", [
        {"text_id": "a1", "text": "某地发生一起诈骗案", "event_type": "诈骗", "arguments": []}])
    with pytest.raises(SourceError) as error:
        read(ccks2021_event, [path], "ccks2021_event")
    assert str(error.value) == (
        f'{path}: line 1: "level1" is missing or not a string; expected JSON lines shaped '
        '{"text_id": str, "text": str, "level1": str, "level2": str, "level3": str, '
        '"attributes": [{"type": str, "entity": str, "start": int, "end": int}]}')


# ---------------------------------------------------------------- DRCD (squad reader, t2s)

def test_drcd_sample_is_converted_and_its_planted_drop_counted(project):
    from flanzh.read.sources import SourceMode, split_files
    from flanzh.spec.specs import load_task

    task = load_task(project, "mrc_drcd")
    result = squad.read(split_files(project, task, "train", SourceMode()), fmt="squad",
                        encoding="utf-8", options=task.source["reader_options"], label="x")
    assert result.dropped == {"answer_not_in_context": 1}
    rows = {r[KEY]: r for r in result.frame.to_dicts()}
    assert rows["3102-1-4"]["answer"] == "阔叶林"                 # offset was off by two
    assert rows["3102-1-4"]["context"][rows["3102-1-4"]["answer_start"]:].startswith("阔叶林")
    assert "臺" not in rows["3104-1-1"]["context"] and "台北市" in rows["3104-1-1"]["context"]
