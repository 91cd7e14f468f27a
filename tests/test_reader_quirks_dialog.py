"""Real-file quirks of the dialogue / IE / generation readers (issue 13), pinned with rows written
for these tests: wrong JSON types and lone surrogates are counted rows, never a failed task; real
file names and layouts are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import KEY, reader_for


def write_lines(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
                            + "\n" for r in records), encoding="utf-8")
    return path


def write_json(path: Path, document) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read(fmt: str, files, **options):
    return reader_for(fmt).read(files, fmt=fmt, encoding="utf-8", options=options,
                                label="spec.yaml")


# A lone surrogate as it appears in a raw JSON file: the six characters \ud83d with no pair.
LONE = "\\ud83d"


# ---------------------------------------------------------------- DuIE 2.0

def duie_row(subject_type="人物", subject="林青", text="林青的妻子是吴敏"):
    return {"text": text, "spo_list": [{"predicate": "妻子", "subject": subject,
                                        "subject_type": subject_type,
                                        "object": {"@value": "吴敏"},
                                        "object_type": {"@value": "人物"}}]}


def test_duie_int_subject_type_is_a_counted_row(tmp_path):
    path = write_lines(tmp_path / "duie_train.json",
                       [duie_row(), duie_row(subject_type=5), duie_row()])
    result = read("duie", [path])
    assert result.frame[KEY].to_list() == ["1", "3"]
    assert result.dropped == {"wrong_type:subject_type": 1}
    reject = result.rejects[0]
    assert (reject["reason"], reject["file"], reject["line"]) == (
        "wrong_type:subject_type", str(path), 2)
    assert '"subject_type": 5' in reject["excerpt"]


def test_duie_file_of_only_bad_rows_fails_naming_the_first(tmp_path):
    path = write_lines(tmp_path / "duie_train.json", [duie_row(subject_type=5)])
    with pytest.raises(SourceError) as error:
        read("duie", [path])
    assert str(error.value).startswith(
        f'{path}: line 1: spo_list[0]: "subject_type" is the number 5, not a string; expected '
        'JSON lines shaped {"text": str, "spo_list"')


def test_duie_lone_surrogate_is_a_counted_row(tmp_path):
    raw = json.dumps(duie_row(), ensure_ascii=False).replace("林青的", "林青" + LONE + "的")
    path = write_lines(tmp_path / "duie_train.json", [duie_row(), raw])
    result = read("duie", [path])
    assert result.dropped == {"lone_surrogate:text": 1}
    assert result.rejects[0]["line"] == 2 and "\\ud83d" in result.rejects[0]["excerpt"]
    assert len(result.frame) == 1


# ---------------------------------------------------------------- Chinese Persona Chat

def persona(conversation, p1=("我 是 老师",), p2=("我 爱 爬山",)):
    return {"p1_persona": list(p1), "p2_persona": list(p2), "conversation": conversation}


GOOD_TALK = ["p1 : 你好 ！", "p2 : 你好 ， 周末 去 爬山 吗 ？"]


def test_persona_chat_reads_the_real_json_names_as_json_lines(tmp_path):
    path = write_lines(tmp_path / "Persona_train.json", [persona(GOOD_TALK)])
    rows = read("persona_chat", [path]).frame.to_dicts()
    assert [r["response"] for r in rows] == ["你好 ， 周末 去 爬山 吗 ？"]


def test_persona_chat_reads_one_json_array(tmp_path):
    path = write_json(tmp_path / "Persona_dev.json", [persona(GOOD_TALK), persona(GOOD_TALK[:1])])
    result = read("persona_chat", [path])
    assert result.frame[KEY].to_list() == ["$[0]:1"]
    assert result.frame["persona"].to_list() == [["我 爱 爬山"]]


@pytest.mark.parametrize("bad_record, reason", [
    (persona(GOOD_TALK, p2=[5]), "wrong_type:p2_persona"),
    ({"p1_persona": ["我 是 老师"], "conversation": GOOD_TALK}, "wrong_type:p2_persona"),
    (persona(["p1 : 你好", "你好 呀"]), "no_speaker_prefix"),
    (persona(["p1 : 你好", "p1 : 在 吗"]), "speaker_repeated"),
    (json.dumps(persona(GOOD_TALK), ensure_ascii=False).replace("你好 ！", LONE + "你好 ！"),
     "lone_surrogate:conversation"),
])
def test_persona_chat_bad_conversation_is_counted(tmp_path, bad_record, reason):
    path = write_lines(tmp_path / "Persona_train.json", [persona(GOOD_TALK), bad_record])
    result = read("persona_chat", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 2)
    assert result.frame[KEY].to_list() == ["1:1"]


# ---------------------------------------------------------------- KdConv

def kd_conversation(name="恋恋笔记本", attrs=None, message="导演是尼克·卡索维茨。"):
    second = {"message": message}
    if attrs is not None:
        second["attrs"] = attrs
    return {"messages": [{"message": "这部电影的导演是谁？"}, second], "name": name}


INFO = {"attrname": "Information", "attrvalue": "一部2004年的美国爱情片。",
        "name": "恋恋笔记本（美国2004年爱情片）"}


def test_kdconv_real_quirks_information_title_and_lower_case_topic(tmp_path):
    path = write_json(tmp_path / "data" / "music" / "dev.json",
                      [kd_conversation(attrs=[INFO]), kd_conversation(name="h3m")])
    rows = read("kdconv", [path]).frame.to_dicts()
    assert rows[0]["knowledge"] == ["（恋恋笔记本（美国2004年爱情片），简介，一部2004年的美国爱情片。）"]
    assert (rows[1]["topic"], rows[1]["knowledge"]) == ("h3m", [])


@pytest.mark.parametrize("bad_conversation, reason", [
    (kd_conversation(attrs=[{**INFO, "attrvalue": 2004}]), "wrong_type:attrs"),
    (kd_conversation(message=["导演是", "尼克"]), "wrong_type:message"),
    (kd_conversation(name=None), "wrong_type:name"),
    (kd_conversation(message="导演" + "\ud83d"), "lone_surrogate:messages"),
])
def test_kdconv_bad_conversation_is_counted(tmp_path, bad_conversation, reason):
    path = tmp_path / "data" / "film" / "dev.json"
    path.parent.mkdir(parents=True)
    # json.dumps writes a lone surrogate as the escape \ud83d, as a raw file would hold it
    path.write_text(json.dumps([kd_conversation(), bad_conversation]), encoding="utf-8")
    result = read("kdconv", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 1)
    assert result.frame[KEY].to_list() == ["film/dev:0:1"]


# ---------------------------------------------------------------- CLUENER2020

def cluener_row(label, text="突袭黑暗雅典娜》中Riddick发现了Johns，"):
    return {"text": text, "label": label}


def test_cluener_keeps_stray_marks_inside_real_entities(tmp_path):
    path = write_lines(tmp_path / "train.json", [cluener_row(
        {"game": {"突袭黑暗雅典娜》": [[0, 7]]}, "name": {"Riddick": [[9, 15]], "Johns": [[19, 23]]}})])
    row = read("cluener", [path]).frame.to_dicts()[0]
    assert row["game"] == ["突袭黑暗雅典娜》"] and row["name"] == ["Riddick", "Johns"]


@pytest.mark.parametrize("bad_record, reason", [
    (cluener_row({"name": {"Johns": [["19", 23]]}}), "wrong_type:label"),
    (cluener_row([]), "wrong_type:label"),
    (cluener_row({"name": {"Johns": [[19, 23]]}}, text=7), "wrong_type:text"),
    (cluener_row({"name": {"Jo\ud83dns": [[19, 23]]}}), "lone_surrogate:label"),
])
def test_cluener_bad_line_is_counted(tmp_path, bad_record, reason):
    good = cluener_row({"name": {"Johns": [[19, 23]]}})
    path = tmp_path / "train.json"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad_record) + "\n", encoding="utf-8")
    result = read("cluener", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 2)
    assert result.frame[KEY].to_list() == ["1"]


# ---------------------------------------------------------------- MSRA NER (hub shape)

def msra(i, text, tags):
    return {"id": str(i), "tokens": list(text), "ner_tags": tags}


def test_msra_empty_final_record_is_read_as_empty_text(tmp_path):
    path = write_lines(tmp_path / "test.jsonl", [msra(0, "１９９８年在杭州", [0] * 5 + [0, 5, 6]),
                                                 {"id": "1", "tokens": [], "ner_tags": []}])
    rows = read("hf_bio", [path]).frame.to_dicts()
    assert rows[0]["locations"] == ["杭州"] and rows[0]["text"] == "１９９８年在杭州"
    assert (rows[1]["text"], rows[1]["summary"]) == ("", "没有")


@pytest.mark.parametrize("bad_record, reason", [
    ({"id": "1", "tokens": "杭州", "ner_tags": [5, 6]}, "wrong_type:tokens"),
    ({"id": "1", "tokens": ["杭", 7], "ner_tags": [5, 6]}, "wrong_type:tokens"),
    ({"id": "1", "tokens": ["杭", "州"], "ner_tags": {"0": 5}}, "wrong_type:ner_tags"),
    ({"id": "1", "tokens": ["杭", "\ud83d"], "ner_tags": [5, 6]}, "lone_surrogate:tokens"),
])
def test_msra_bad_line_is_counted(tmp_path, bad_record, reason):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(msra(0, "杭州", [5, 6])) + "\n" + json.dumps(bad_record) + "\n",
                    encoding="utf-8")
    result = read("hf_bio", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 2)
    assert result.frame[KEY].to_list() == ["0"]


# ---------------------------------------------------------------- Math23K (MWPToolkit layout)

def problem(i, equation="x=20-(1/4)", ans="19((3)/(4))", text="一桶油重20千克，用去(1/4)千克，还剩多少千克？"):
    return {"id": str(i), "original_text": text, "segmented_text": "", "equation": equation,
            "ans": ans}


def test_math23k_real_mixed_number_answer(tmp_path):
    path = write_json(tmp_path / "testset.json", [problem(1), problem(2, "x=480*20%", "96")])
    result = read("math23k", [path])
    assert result.frame["answer"].to_list() == ["19又3/4", "96"] and not result.dropped


@pytest.mark.parametrize("bad_problem, reason", [
    ({**problem(2), "ans": ["19", "3/4"]}, "wrong_type:ans"),
    ({**problem(2), "ans": float("nan")}, "wrong_type:ans"),      # json writes it as NaN
    ({**problem(2), "ans": True}, "wrong_type:ans"),
    ({**problem(2), "equation": None}, "wrong_type:equation"),
    ({k: v for k, v in problem(2).items() if k != "ans"}, "wrong_type:ans"),
    (problem(2, text="还剩多少\ud83d"), "lone_surrogate:original_text"),
])
def test_math23k_bad_problem_is_counted(tmp_path, bad_problem, reason):
    path = tmp_path / "testset.json"
    path.write_text(json.dumps([problem(1), bad_problem], indent=4), encoding="utf-8")
    result = read("math23k", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 9)
    assert result.frame[KEY].to_list() == ["1"]


# ---------------------------------------------------------------- CHEF

def chef_claim(i, **change):
    claim = {"claimId": i, "claim": "某市地铁票价下月起上调。", "label": 1, "domain": "社会",
             "evidence": {"0": {"text": "地铁公司否认调价。"}},
             "gold evidence": {"0": {"text": "地铁公司称票价不变。"}, "1": {"text": ""}}}
    return {**claim, **change}


@pytest.mark.parametrize("bad_claim, reason", [
    (chef_claim(2, label="1"), "wrong_type:label"),
    (chef_claim(2, claim=None), "wrong_type:claim"),
    (chef_claim(2, domain=3), "wrong_type:domain"),
    (chef_claim(2, **{"gold evidence": {"0": "地铁公司称票价不变。"}}), "wrong_type:gold evidence"),
    (chef_claim(2, claim="票价\ud83d上调"), "lone_surrogate:claim"),
])
def test_chef_bad_claim_is_counted(tmp_path, bad_claim, reason):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([chef_claim(1), bad_claim]), encoding="utf-8")
    result = read("chef", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 1)
    assert result.frame[KEY].to_list() == ["1"]


# ---------------------------------------------------------------- AdvertiseGen

AD = "类型#裤*风格#复古*裤型#直筒裤"


def test_advertisegen_unk_summary_is_dropped_and_brand_kept(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"content": AD, "summary": "直筒的<UNK>显腿直。"},
        {"content": AD, "summary": "这款BRAND直筒裤很显腿直。"}])
    result = read("advertisegen", [path])
    assert result.dropped == {"unk_in_summary": 1} and result.rejects[0]["line"] == 1
    assert result.frame["summary"].to_list() == ["这款BRAND直筒裤很显腿直。"]


@pytest.mark.parametrize("bad_record, reason", [
    ({"content": ["类型#裤"], "summary": "好看。"}, "wrong_type:content"),
    ({"content": AD, "summary": 3}, "wrong_type:summary"),
    ({"content": AD, "summary": "好看\ud83d"}, "lone_surrogate:summary"),
])
def test_advertisegen_bad_line_is_counted(tmp_path, bad_record, reason):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"content": AD, "summary": "好看。"}) + "\n"
                    + json.dumps(bad_record) + "\n", encoding="utf-8")
    result = read("advertisegen", [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 2)
    assert result.frame[KEY].to_list() == ["1"]


# ---------------------------------------------------------------- DuReader_QG, CCKS 2021 events

QG_GOOD = {"context": "护照有效期为10年。", "answer": "10年", "question": "护照有效期多久", "id": 1}
CCKS_GOOD = {"text_id": "a1", "text": "王女士在某平台被骗3000元", "level1": "交易风险",
             "level2": "欺诈风险", "level3": "冒充客服诈骗",
             "attributes": [{"type": "受害人", "entity": "王女士", "start": 0, "end": 2}]}


@pytest.mark.parametrize("fmt, good, bad_record, reason", [
    ("dureader_qg", QG_GOOD, {**QG_GOOD, "id": 2, "answer": 10}, "wrong_type:answer"),
    ("dureader_qg", QG_GOOD, {**QG_GOOD, "id": [2]}, "wrong_type:id"),
    ("dureader_qg", QG_GOOD, {**QG_GOOD, "id": 2, "question": "多久\ud83d"},
     "lone_surrogate:question"),
    ("ccks2021_event", CCKS_GOOD, {**CCKS_GOOD, "text_id": "a2", "level3": None},
     "wrong_type:level3"),
    ("ccks2021_event", CCKS_GOOD, {**CCKS_GOOD, "text_id": "a2", "attributes": [
        {"type": "受害人", "entity": "王女士", "start": "0", "end": 2}]}, "wrong_type:attributes"),
    ("ccks2021_event", CCKS_GOOD, {**CCKS_GOOD, "text_id": "a2", "text": "王女士\ud83d被骗"},
     "lone_surrogate:text"),
])
def test_bad_line_is_counted(tmp_path, fmt, good, bad_record, reason):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad_record) + "\n", encoding="utf-8")
    result = read(fmt, [path])
    assert result.dropped == {reason: 1}
    assert (result.rejects[0]["file"], result.rejects[0]["line"]) == (str(path), 2)
    assert len(result.frame) == 1


def test_ccks_offsets_shifted_far_are_relocated(tmp_path):
    text = "据报道，" + "某地警方提醒市民注意防范。" * 4 + "王女士在某平台被骗3000元"
    record = {**CCKS_GOOD, "text": text,
              "attributes": [{"type": "受害人", "entity": "王女士", "start": 2, "end": 4}]}
    path = write_lines(tmp_path / "ccks_task1_train.txt", [record])
    row = read("ccks2021_event", [path]).frame.to_dicts()[0]
    assert row["arguments"] == [{"role": "受害人", "entity": "王女士"}]


# ---------------------------------------------------------------- DuExplain (sentiment)

def senti(i, **change):
    return {"id": i, "context": "房间很干净", "sent_token": ["房间", "很", "干净"],
            "sample_type": "ori", "rel_ids": [], **change}


def senti_gold(i, **change):
    return {"sent_id": i, "sent_label": 1, "rationales": [[1, 2]], "sample_type": "ori",
            "rel_ids": [], **change}


@pytest.mark.parametrize("data_rows, gold_rows, reason", [
    ([senti(1), senti(2, sample_type=1)], [senti_gold(1), senti_gold(2)], "wrong_type:sample_type"),
    ([senti(1), senti(2, sent_token="房间很干净")], [senti_gold(1), senti_gold(2)],
     "wrong_type:sent_token"),
    ([senti(1), senti(2)], [senti_gold(1), senti_gold(2, rationales=[["一"]])],
     "wrong_type:rationales"),
    ([senti(1), senti(2, context="房间\ud83d")], [senti_gold(1), senti_gold(2)],
     "lone_surrogate:context"),
])
def test_duexplain_bad_line_is_counted_once(tmp_path, data_rows, gold_rows, reason):
    data = tmp_path / "data" / "senti_ch"
    gold = tmp_path / "golden" / "senti_ch.tsv"
    for path, rows in ((data, data_rows), (gold, gold_rows)):
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = read("duexplain_senti", {"data": data, "golden": gold})
    assert result.dropped == {reason: 1}
    assert result.rejects[0]["line"] == 2
    assert result.frame[KEY].to_list() == ["1"]


# ---------------------------------------------------------------- XQA

def xqa_files(tmp_path, records):
    folder = tmp_path / "evidence" / "dev_0"
    folder.mkdir(parents=True)
    (folder / "dev_0_0.txt").write_text("长江在上海入海。\n\n第二段。", "utf-8")
    return write_lines(tmp_path / "qa" / "dev.json", records)


XQA_GOOD = {"question": "长江在哪里入海？", "question_id": "dev_0", "answers": ["上海"],
            "docs": [["dev_0", "dev_0_0.txt"]]}


@pytest.mark.parametrize("docs", [[["..", "secret.txt"]], [["/", "etc/hostname"]],
                                  [["dev_0", "../../secret.txt"]]])
def test_xqa_refuses_documents_outside_the_evidence_folder(tmp_path, docs):
    (tmp_path / "secret.txt").write_text("不该被读到", "utf-8")
    path = xqa_files(tmp_path, [XQA_GOOD, {**XQA_GOOD, "question_id": "dev_1", "docs": docs}])
    with pytest.raises(SourceError) as error:
        read("xqa", [path], evidence_dir="../evidence")
    evidence = (tmp_path / "evidence").resolve()
    assert str(error.value).startswith(
        f"{path}: line 2: document {docs[0][0]}/{docs[0][1]} points outside the evidence folder "
        f"{evidence}; refused.")


@pytest.mark.parametrize("bad_record, reason", [
    ({**XQA_GOOD, "question_id": "dev_1", "answers": "上海"}, "wrong_type:answers"),
    ({**XQA_GOOD, "question_id": ["dev_1"]}, "wrong_type:question_id"),
    ({**XQA_GOOD, "question_id": "dev_1", "question": "长江\ud83d"}, "lone_surrogate:question"),
])
def test_xqa_bad_line_is_counted(tmp_path, bad_record, reason):
    path = xqa_files(tmp_path, [XQA_GOOD])
    path.write_text(json.dumps(XQA_GOOD) + "\n" + json.dumps(bad_record) + "\n", "utf-8")
    result = read("xqa", [path], evidence_dir="../evidence")
    assert result.dropped == {reason: 1} and result.rejects[0]["line"] == 2
    assert result.frame[KEY].to_list() == ["dev_0"]


def test_xqa_released_layout_counts_a_lone_surrogate_in_documents(tmp_path):
    questions = write_lines(tmp_path / "zh" / "dev.txt", [
        {"question": "长江在哪里入海？", "answers": ["上海"]},
        {"question": "黄河在哪里入海？", "answers": ["山东"]}])
    documents = tmp_path / "zh" / "dev_doc.json"
    documents.write_text(json.dumps([{"document": "长江在上海入海。"}]) + "\n"
                         + json.dumps([{"document": "黄河在\ud83d山东入海。"}]) + "\n", "utf-8")
    result = read("xqa", {"questions": questions, "documents": documents})
    assert result.dropped == {"lone_surrogate:documents": 1}
    assert result.frame[KEY].to_list() == ["dev_0"]


# ---------------------------------------------------------------- WikiLingua

def wl_article(url, **change):
    article = {"section_name": ["准备材料"], "document": ["先把面粉过筛。"], "summary": ["过筛面粉。"],
               "english_url": ["https://www.wikihow.com/a"], "english_section_name": ["Prepare"]}
    return {"url": url, "article": {**article, **change}}


@pytest.mark.parametrize("bad_record, reason", [
    (wl_article("https://zh.wikihow.com/b", summary=["一", "二"]), "parallel_lists_differ"),
    (wl_article("https://zh.wikihow.com/b", document=[5]), "wrong_type:document"),
    ({"url": 5, "article": wl_article("x")["article"]}, "wrong_type:url"),
    (wl_article("https://zh.wikihow.com/b", summary=["过筛\ud83d"]), "lone_surrogate:article"),
])
def test_wikilingua_bad_article_is_counted(tmp_path, bad_record, reason):
    path = tmp_path / "chinese.jsonl"
    path.write_text(json.dumps(wl_article("https://zh.wikihow.com/a")) + "\n"
                    + json.dumps(bad_record) + "\n", "utf-8")
    result = read("wikilingua", [path])
    assert result.dropped == {reason: 1} and result.rejects[0]["line"] == 2
    assert result.frame[KEY].to_list() == ["https://zh.wikihow.com/a:0"]


def test_dureader_qg_strips_stray_spaces_around_real_answers(tmp_path):
    path = write_lines(tmp_path / "dev.json", [
        {"context": "公元前的简写是B.C.", "answer": " B.C.", "question": "公元前简写", "id": 7},
        {"context": "一平方英尺等于0.09290304平方米", "answer": "0.09290304 ", "question": "换算", "id": 8}])
    rows = read("dureader_qg", [path]).frame.to_dicts()
    assert [(r["answer"], r["answer_start"]) for r in rows] == [("B.C.", 7), ("0.09290304", 7)]


# ---------------------------------------------------------------- the whole build, DuIE

def test_build_counts_a_duie_row_with_an_int_subject_type(project, tmp_path):
    """The reported failure: one such row took the whole task down while building the frame."""
    from flanzh.build.pipeline import build
    from flanzh.read.sources import SourceMode

    data = tmp_path / "data" / "re_duie2"
    data.mkdir(parents=True)
    samples = project.samples_dir / "re_duie2"
    train = (samples / "duie_train.json").read_text("utf-8").splitlines()
    bad_row = json.dumps(duie_row(subject_type=5, text="林青的妻子是吴敏，两人育有一女"),
                         ensure_ascii=False)
    (data / "duie_train.json").write_text("\n".join([*train, bad_row]) + "\n", "utf-8")
    for name in ("duie_dev.json", "duie_test2.json"):
        if (samples / name).exists():
            (data / name).write_text((samples / name).read_text("utf-8"), "utf-8")
    if not (data / "duie_test2.json").exists():
        (data / "duie_test2.json").write_text('{"text": "测试句子"}\n', "utf-8")
    manifest = build(project, tmp_path / "out", task_ids=["re_duie2"],
                     mode=SourceMode("data_dir", tmp_path / "data"), use_cache=False)
    assert manifest["tasks"]["re_duie2"]["dropped"]["wrong_type:subject_type"] == 1
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl")
               .read_text("utf-8").splitlines()]
    bad = [r for r in rejects if r.get("reason") == "wrong_type:subject_type"]
    assert bad and bad[0]["line"] == len(train) + 1 and bad[0]["file"].endswith("duie_train.json")


# ---------------------------------------------------------------- the shared row guard

def test_row_guard_catches_a_value_that_slipped_past_the_reader(tmp_path):
    import polars as pl

    from flanzh.read.readers import ReadResult
    from flanzh.read.readers._rows import FileRows, surrogate_at

    result = ReadResult(pl.DataFrame())
    guard = FileRows(result, tmp_path / "x.json", {KEY: pl.Utf8, "tags": pl.List(pl.Utf8)})
    assert guard.attempt(1, {}, lambda: {KEY: "1", "tags": ["a"]}) == {KEY: "1", "tags": ["a"]}
    assert guard.attempt(2, {}, lambda: {KEY: "2", "tags": ["a", 5]}) is None
    assert result.dropped == {"wrong_type:tags": 1} and result.rejects[0]["line"] == 2
    guard.done()                                   # one readable record: no error
    assert surrogate_at({"a": [{"b": "ok"}, {"c": "x\ud800"}]}) == "a[1].c"
    assert surrogate_at({"a": ["ok"], "\udc00k": 1}) == "\\udc00k"
