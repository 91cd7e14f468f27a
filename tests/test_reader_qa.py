"""Readers for group F's tasks (DuReader_QG, TCM literature QG, XQA, NLPCC DBQA,
ChineseBiomedicalQA, DuExplain): awkward cases and the exact error messages for shapes they do
not accept."""

import json

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import (GROUP, KEY, biomedical_qa, duexplain, dureader_qg, nlpcc_dbqa,
                                 tcm_qg, xqa)


def write_lines(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


# ---------------------------------------------------------------- DuReader_QG

def read_qg(path):
    return dureader_qg.read([path], fmt="dureader_qg", encoding="utf-8", options={}, label="x")


def test_dureader_qg_rows_groups_and_optional_question(tmp_path):
    context = "高铁可以携带白酒,但每人累计不能超过3000毫升。 70度以上的白酒禁止携带。"
    path = write_lines(tmp_path / "train.json", [
        {"context": context, "answer": "3000毫升", "question": "坐高铁能带多少白酒", "id": 7},
        {"context": context, "answer": "70度以上的白酒", "question": "什么酒不能带上高铁", "id": 8},
        {"context": "长江全长约6300公里。", "answer": "6300公里", "id": "t1"},      # test: no question
    ])
    result = read_qg(path)
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["7", "8", "t1"]
    assert rows[0][GROUP] == rows[1][GROUP] != rows[2][GROUP]
    assert rows[0]["answer_start"] == context.index("3000毫升")
    assert rows[2]["question"] is None
    assert result.dropped == {}


def test_dureader_qg_drops_answers_not_in_the_context(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"context": "护照有效期为10年。", "answer": "十年", "question": "护照有效期多久", "id": 1},
        {"context": "护照有效期为10年。", "answer": "10年", "question": "护照有效期多久", "id": 2},
    ])
    result = read_qg(path)
    assert result.dropped == {"answer_not_in_context": 1}
    assert result.rejects[0]["line"] == 1 and result.rejects[0]["file"] == str(path)
    assert result.frame[KEY].to_list() == ["2"]


def test_dureader_qg_wrong_shape_names_file_line_and_shape(tmp_path):
    # A line of another shape among good ones is counted; a file of nothing but such lines fails.
    good = {"context": "甲", "answer": "甲", "question": "乙", "id": 1}
    other = {"text": "甲", "answer": "甲", "question": "乙", "id": 2}
    path = write_lines(tmp_path / "train.json", [good, other])
    result = read_qg(path)
    assert result.dropped == {"wrong_type:context": 1} and result.rejects[0]["line"] == 2
    path = write_lines(tmp_path / "dev.json", [other])
    with pytest.raises(SourceError) as error:
        read_qg(path)
    assert str(error.value) == (f'{path}: line 1: "context" is missing; expected JSON lines '
                                '{"context": str, "answer": str, "question": str, "id": int}')


def test_dureader_qg_repeated_id_fails(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"context": "甲乙", "answer": "甲", "question": "问", "id": 1},
        {"context": "甲乙", "answer": "乙", "question": "问", "id": 1},
    ])
    with pytest.raises(SourceError, match=r"line 2: id 1 repeats line 1; expected JSON lines"):
        read_qg(path)


# ---------------------------------------------------------------- TCM literature QG

def read_tcm(path):
    return tcm_qg.read([path], fmt="tcm_qg", encoding="utf-8", options={}, label="x")


def test_tcm_one_row_per_annotation_with_stripped_answers(tmp_path):
    path = tmp_path / "round1_train_0907.json"
    path.write_text(json.dumps([
        {"id": 3, "text": "舌诊是中医望诊的重要内容。正常舌象为淡红舌、薄白苔。",
         "annotations": [{"Q": "舌诊属于哪一诊？", "A": " 望诊 "},
                         {"Q": "正常舌象是什么样的？", "A": "淡红舌、薄白苔"},
                         {"Q": "六味地黄丸由哪几味药组成？", "A": "熟地、山萸肉"}]},
        {"id": 4, "text": "艾灸具有温经散寒的作用。", "annotations": []},
        {"id": 5, "text": "枸杞子味甘，性平。", "annotations": [{"A": "性平"}]},   # test file: no Q
    ], ensure_ascii=False), "utf-8")
    result = read_tcm(path)
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["3:0", "3:1", "5:0"]
    assert rows[0]["answer"] == "望诊" and rows[0]["answer_start"] == 5
    assert rows[0][GROUP] == rows[1][GROUP] == "round1_train_0907.json:3"
    assert rows[2]["question"] is None
    assert result.dropped == {"answer_not_in_context": 1}


def test_tcm_wrong_shapes_name_the_place(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"data": []}), "utf-8")
    with pytest.raises(SourceError) as error:
        read_tcm(path)
    assert str(error.value) == (
        f'{path}: $: the document is a JSON dict, not a list; expected one JSON list '
        '[{"id": int|str, "text": str, "annotations": [{"Q": str, "A": str}]}] '
        "(tianchi 86895 layout, n/v)")
    path.write_text(json.dumps([{"id": 1, "text": "甲", "annotations": [{"Q": "问", "a": "甲"}]}],
                               ensure_ascii=False), "utf-8")
    with pytest.raises(SourceError, match=r'\$\[0\]\.annotations\[0\]: "A" is missing or not a '
                                          r'string; expected one JSON list'):
        read_tcm(path)


# ---------------------------------------------------------------- XQA

def xqa_layout(tmp_path, records, documents):
    """qa/dev.json plus evidence/<subdir>/<file> as thunlp's preprocess_data.py writes them."""
    for (subdir, name), text in documents.items():
        folder = tmp_path / "evidence" / subdir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, "utf-8")
    return write_lines(tmp_path / "qa" / "dev.json", records)


def read_xqa(files, **options):
    return xqa.read(files, fmt="xqa", encoding="utf-8", options=options, label="x")


def test_xqa_joins_documents_from_disk_and_keeps_their_leads(tmp_path):
    long_first = "这是一个很长的句子" * 10 + "。第二句。"
    path = xqa_layout(tmp_path, [
        {"question": "长江 在哪里 入海？", "question_id": "dev_0", "answers": [" 上海 ", "上海市"],
         "docs": [["dev_0", "dev_0_0.txt"], ["dev_0", "dev_0_1.txt"], ["dev_0", "dev_0_2.txt"]]},
        {"question": "没有答案的问题？", "question_id": "dev_1", "answers": [],
         "docs": [["dev_1", "dev_1_0.txt"]]},
        {"question": "没有文档的问题？", "question_id": "dev_2", "answers": ["甲"], "docs": []},
    ], {("dev_0", "dev_0_0.txt"): "长江是中国第一长河。\n\n长江在上海注入东海。\n\n三峡工程位于长江上游。",
        ("dev_0", "dev_0_1.txt"): long_first,
        ("dev_0", "dev_0_2.txt"): "  \n\n ",
        ("dev_1", "dev_1_0.txt"): "某文档。"})
    result = read_xqa([path], doc_chars=25)
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["dev_0", "dev_1"]
    assert rows[0]["question"] == "长江 在哪里 入海？"
    assert rows[0]["answers"] == ["上海", "上海市"] and rows[0]["answer"] == "上海"
    # the lead keeps whole sentences up to doc_chars; a too-long first sentence and an empty
    # document are left out
    assert rows[0]["docs"] == ["长江是中国第一长河。\n长江在上海注入东海。"]
    assert rows[1]["answer"] == "" and rows[1]["answers"] == []   # empty_field:answer
    assert result.dropped == {"no_documents": 1}


def test_xqa_missing_document_or_evidence_folder_fails(tmp_path):
    path = xqa_layout(tmp_path, [{"question": "问？", "question_id": "dev_0", "answers": ["甲"],
                                  "docs": [["dev_0", "dev_0_0.txt"]]}],
                      {("dev_9", "dev_9_0.txt"): "别的文档。"})
    with pytest.raises(SourceError) as error:
        read_xqa([path])
    evidence = (tmp_path / "evidence").resolve()
    assert str(error.value) == (f"{path}: line 1: document dev_0/dev_0_0.txt is not in {evidence}; "
                                "expected every referenced document on disk")
    with pytest.raises(SourceError, match="the evidence folder .* does not exist"):
        read_xqa([path], evidence_dir="../nowhere")


def test_xqa_bad_docs_shape_names_line(tmp_path):
    path = xqa_layout(tmp_path, [{"question": "问？", "question_id": "dev_0", "answers": ["甲"],
                                  "docs": ["dev_0/dev_0_0.txt"]}],
                      {("dev_0", "dev_0_0.txt"): "某文档。"})
    with pytest.raises(SourceError) as error:
        read_xqa([path])
    assert str(error.value).startswith(
        f'{path}: line 1: "docs" is not a list of [subdir, filename] pairs; expected JSON lines '
        '{"question": str, "question_id": str, "answers": [str], '
        '"docs": [[subdir, filename], ...]}')


def test_xqa_released_layout_reads_aligned_files(tmp_path):
    questions = write_lines(tmp_path / "dev.txt", [
        {"question": "日本的首都是哪里？", "answers": ["東京"]},
        {"question": "第二题？", "answers": ["乙"]},
    ])
    documents = write_lines(tmp_path / "dev_doc.json", [
        [{"document": "東京都是日本的首都。"}, {"document": "京都是古都。", "title": "京都"}],
        [],
    ])
    result = read_xqa({"questions": questions, "documents": documents})
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["dev_0"]
    assert rows[0]["docs"] == ["東京都是日本的首都。", "京都是古都。"]
    assert result.dropped == {"no_documents": 1}
    write_lines(documents, [[{"document": "只有一行。"}]])
    with pytest.raises(SourceError) as error:
        read_xqa({"questions": questions, "documents": documents})
    assert str(error.value) == (f"{documents}: 1 document lines for 2 questions in {questions}; "
                                "expected the two files aligned line by line")


# ---------------------------------------------------------------- NLPCC DBQA

def read_dbqa(path):
    return nlpcc_dbqa.read([path], fmt="nlpcc_dbqa", encoding="utf-8", options={}, label="x")


def test_dbqa_splits_on_tabs_only(tmp_path):
    path = tmp_path / "nlpcc-iccpol-2016.dbqa.training-data"
    path.write_bytes(("iPhone是哪家公司推出的\t乔布斯称它为\"重新发明的手机\"。\t0\r\n"
                      "iPhone是哪家公司推出的\t它由苹果公司发布。\t1 \r\n"
                      "\n"
                      "熊猫吃什么\t大熊猫主要吃竹子\u2028和竹笋。\t1\n").encode("utf-8"))
    rows = read_dbqa(path).frame.to_dicts()
    assert [r[KEY] for r in rows] == ["1", "2", "4"]
    assert rows[0]["sentence"] == "乔布斯称它为\"重新发明的手机\"。"
    assert [r["label"] for r in rows] == ["0", "1", "1"]
    assert rows[0][GROUP] == rows[1][GROUP] != rows[2][GROUP]
    assert rows[2]["sentence"] == "大熊猫主要吃竹子\u2028和竹笋。"


def test_dbqa_wrong_field_count_names_file_and_line(tmp_path):
    path = tmp_path / "nlpcc-iccpol-2016.dbqa.testing-data"
    path.write_text("问题\t句子\t1\n问题\t句子\n", "utf-8")
    with pytest.raises(SourceError) as error:
        read_dbqa(path)
    assert str(error.value) == (f"{path}: line 2: 2 tab-separated fields; expected one candidate "
                                "per line: question<TAB>sentence<TAB>label (label 0 or 1)")


# ---------------------------------------------------------------- ChineseBiomedicalQA

def exam(qid, options, answer, **extra):
    return {"questionType": "最佳选择题", "questionId": qid, "questionText": "题干", "option": options,
            "answer": answer, "year": 2021, "subject": "药理学", **extra}


def read_bio(path):
    return biomedical_qa.read([path], fmt="chinese_biomedical_qa", encoding="utf-8", options={},
                              label="x")


def test_biomedical_option_and_answer_forms(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        exam("q1", {"A": "甲药", "B": "乙药", "C": "丙药", "D": "丁药", "E": ""}, "B"),
        exam("q2", ["甲药", "乙药", "丙药"], "A,C", backgroundText="患者，男，62岁。"),
        exam("q3", "A. 甲药\nB、乙药\n（C）丙药", ["A", "B"]),
        exam("q4", {"a": "甲药", "b": "乙药"}, "乙药"),
        exam("q5", {"A": "甲药", "B": "乙药", "C": "丙药"}, "ACB"),
        exam("q6", {"A": "甲药", "B": "乙药", "C": "", "D": "", "E": ""}, "E"),
        exam("q7", {"A": "甲药", "B": "乙药"}, ""),
    ])
    result = read_bio(path)
    rows = {r[KEY]: r for r in result.frame.to_dicts()}
    assert list(rows) == ["q1", "q2", "q3", "q4", "q5", "q7"]
    assert rows["q1"]["option_list"] == ["甲药", "乙药", "丙药", "丁药"]     # the empty E slot
    assert rows["q1"]["options_text"] == "A. 甲药\nB. 乙药\nC. 丙药\nD. 丁药"
    assert rows["q1"]["answer"] == "乙药" and rows["q1"]["multiple"] is False
    assert rows["q2"]["answer_letters"] == "A、C" and rows["q2"]["answer"] == "甲药；丙药"
    assert rows["q2"]["answer_full"] == "A. 甲药；C. 丙药" and rows["q2"]["multiple"] is True
    assert rows["q2"]["context"] == "患者，男，62岁。" and rows["q1"]["context"] is None
    assert rows["q3"]["options_inline"] == "A. 甲药　B. 乙药　C. 丙药"
    assert rows["q4"]["answer_letters"] == "B"
    assert rows["q5"]["answer_letters"] == "A、B、C"       # letter order
    # an empty answer is empty (empty_field:answer), not absent
    assert rows["q7"]["answer"] == "" and rows["q7"]["answer_letters"] == ""
    assert rows["q1"]["year"] == "2021"
    assert rows["q2"][GROUP] != rows["q1"][GROUP]
    assert result.dropped == {"answer_not_in_options": 1}


def test_biomedical_reads_a_json_list_file(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps([exam("d1", {"A": "甲", "B": "乙"}, "A")], ensure_ascii=False),
                    "utf-8")
    assert read_bio(path).frame[KEY].to_list() == ["d1"]


def test_biomedical_unreadable_options_and_answers_fail(tmp_path):
    path = write_lines(tmp_path / "train.json", [exam("q1", {"A": "甲药"}, "A")])
    with pytest.raises(SourceError) as error:
        read_bio(path)
    assert str(error.value).startswith(f'{path}: line 1: "option" holds 1 option(s); expected '
                                       'records {"questionType": str, "questionId": str,')
    write_lines(path, [exam("q1", {"A": "甲药", "B": "乙药"}, "见解析")])
    with pytest.raises(SourceError, match=r"line 1: \"answer\" '见解析' is neither option letters "
                                          r"nor an option text"):
        read_bio(path)
    write_lines(path, [exam("q1", "甲药\n乙药", "A")])
    with pytest.raises(SourceError, match=r"line 1: \"option\" line '甲药' does not start with an "
                                          r"option letter"):
        read_bio(path)


# ---------------------------------------------------------------- DuExplain (sentiment)

def read_duexplain(files):
    return duexplain.read(files, fmt="duexplain_senti", encoding="utf-8", options={}, label="x")


def tokens(text):
    return list(text)


def test_duexplain_joins_data_and_gold(tmp_path):
    text1, text2, text3 = "房间干净，服务热情。", "房间还算干净，服务热情。", "一般般吧。"
    data = write_lines(tmp_path / "data" / "senti_ch", [
        {"id": 1, "context": text1, "sent_token": tokens(text1), "sample_type": "ori",
         "rel_ids": [101]},
        {"id": 101, "context": text2, "sent_token": tokens(text2), "sample_type": "disturb"},
        {"id": 2, "context": text3, "sent_token": tokens(text3), "sample_type": "ori",
         "rel_ids": []},
        {"id": 3, "context": "好。", "sent_token": ["好", "。"], "sample_type": "ori"},
        {"id": 4, "context": "差。", "sent_token": ["差", "。"], "sample_type": "ori"},
        {"id": 5, "context": "WiFi很快", "sent_token": ["WiFi", "很", "快"], "sample_type": "ori"},
    ])
    golden = write_lines(tmp_path / "golden" / "senti_ch.tsv", [
        {"sent_id": 1, "sent_label": 1, "rationales": [[0, 1, 2, 3, 5, 6, 7, 8]],
         "sample_type": "ori", "rel_ids": [101]},
        {"sent_id": 101, "sent_label": "1", "rationales": [["0", "1"], ["4", "5"], [7, 8, 9, 10]],
         "sample_type": "disturb"},
        {"sent_id": 3, "sent_label": 1, "rationales": [[0, 5]], "sample_type": "ori"},
        {"sent_id": 4, "sent_label": 0, "rationales": [[]], "sample_type": "ori"},
        {"sent_id": 5, "sent_label": 1, "rationales": [[0, 2]], "sample_type": "ori"},
        {"sent_id": 9, "sent_label": 0, "rationales": [[0]], "sample_type": "ori"},
    ])
    result = read_duexplain({"data": data, "golden": golden})
    rows = {r[KEY]: r for r in result.frame.to_dicts()}
    assert list(rows) == ["1", "101", "5"]
    assert rows["1"]["rationale"] == "房间干净，服务热情"          # a comma-only gap is kept
    assert rows["101"]["rationales"] == ["房间", "干净", "服务热情"]
    assert rows["101"]["label"] == "1" and rows["101"]["sample_type"] == "disturb"
    assert rows["1"][GROUP] == rows["101"][GROUP] == "1"
    assert rows["5"]["rationale"] == "WiFi……快"
    assert result.dropped == {"missing_gold": 1, "rationale_out_of_range": 1, "no_rationale": 1,
                              "missing_text": 1}


def test_duexplain_merged_file_and_bad_shapes(tmp_path):
    merged = write_lines(tmp_path / "senti_ch.jsonl", [
        {"id": 7, "context": "很好。", "sent_token": ["很", "好", "。"], "sent_label": 1,
         "rationales": [[0, 1]]},
    ])
    assert read_duexplain([merged]).frame.to_dicts()[0]["rationale"] == "很好"
    write_lines(merged, [{"id": 7, "context": "很好。", "sent_token": ["很", "好", "。"],
                          "sent_label": 1, "rationales": [["很"]]}])
    with pytest.raises(SourceError) as error:
        read_duexplain([merged])
    assert str(error.value) == (
        f'{merged}: line 1: "rationales" holds something that is not a token index; expected JSON '
        'lines {"id": int, "context": str, "sent_token": [str], "sent_label": 0|1, '
        '"rationales": [[int, ...]]}')
    with pytest.raises(SourceError, match="takes the named parts 'data' and 'golden'"):
        read_duexplain({"data": merged})
