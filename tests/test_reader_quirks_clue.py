"""Quirks of the real upstream files of the CLUE-family tasks (ChID, TNEWS, IFLYTEK, CSL, CMNLI,
OCNLI, AFQMC, EPRSTMT, CLUEWSC2020, C3, CMRC2018, DRCD, XQuAD, XNLI), pinned with rows written
for these tests. Each quirk was seen in a public copy named in the task's spec comment; the
parametrised tests name the task that fails."""

import json

import pytest

from flanzh.errors import SourceError
from flanzh.read.normalise import normalise
from flanzh.read.readers import GROUP, KEY, c3, chid, squad
from flanzh.read.sources import SourceMode, read_split, split_files
from flanzh.spec.specs import load_task

from conftest import REPO


def write_lines(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def write_json(path, document):
    path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    return path


SQUAD_TASKS = ["mrc_cmrc2018", "mrc_drcd", "qa_xquad_zh"]


def read_squad(project, task_id, path):
    """The squad reader with the task's own reader options (DRCD converts to Simplified)."""
    task = load_task(project, task_id)
    return squad.read([path], fmt="squad", encoding="utf-8",
                      options=task.source.get("reader_options", {}), label=task.spec_label)


def squad_doc(qas, context="长江是中国最长的河流，全长约六千三百公里。", title="长江"):
    return {"version": "v1.0", "data": [{"title": title, "id": "A1",
                                         "paragraphs": [{"id": "A1-1", "context": context,
                                                         "qas": qas}]}]}


# ---------------------------------------------------------------- squad: values of the wrong type

@pytest.mark.parametrize("task_id", SQUAD_TASKS)
def test_squad_offset_given_as_a_string_is_a_counted_row(project, task_id, tmp_path):
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q1", "question": "中国最长的河流是哪条？",
         "answers": [{"text": "长江", "answer_start": "0"}]},
        {"id": "Q2", "question": "长江全长约多少公里？",
         "answers": [{"text": "六千三百公里", "answer_start": 14}]},
    ]))
    result = read_squad(project, task_id, path)
    assert result.dropped == {"wrong_type:answer_start": 1}
    assert [r[KEY] for r in result.frame.to_dicts()] == ["Q2"]
    assert [(r["reason"], r["file"], r["line"]) for r in result.rejects] == [
        ("wrong_type:answer_start", str(path), "$.data[0].paragraphs[0].qas[0].answers[0].answer_start")]
    assert '"answer_start": "0"' in result.rejects[0]["excerpt"]


@pytest.mark.parametrize("task_id", SQUAD_TASKS)
def test_squad_title_that_is_a_list_drops_its_questions_counted(project, task_id, tmp_path):
    document = squad_doc([
        {"id": "Q1", "question": "中国最长的河流是哪条？", "answers": [{"text": "长江", "answer_start": 0}]},
        {"id": "Q2", "question": "它全长约多少公里？", "answers": [{"text": "六千三百公里", "answer_start": 14}]},
    ], title=["长江", "扬子江"])
    document["data"].append(squad_doc([
        {"id": "Q3", "question": "中国最长的河流是哪条？", "answers": [{"text": "长江", "answer_start": 0}]},
    ])["data"][0])
    path = write_json(tmp_path / "train.json", document)
    result = read_squad(project, task_id, path)
    assert result.dropped == {"wrong_type:title": 2}
    assert [r[KEY] for r in result.frame.to_dicts()] == ["Q3"]
    assert {(r["reason"], r["line"]) for r in result.rejects} == {("wrong_type:title", "$.data[0].title")}


@pytest.mark.parametrize("task_id", SQUAD_TASKS)
def test_squad_answer_text_that_is_not_a_string_is_a_counted_row(project, task_id, tmp_path):
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q1", "question": "全长约多少？", "answers": [{"text": 6300, "answer_start": 14}]},
    ]))
    result = read_squad(project, task_id, path)
    assert result.dropped == {"wrong_type:answer_text": 1}
    assert result.rejects[0]["line"] == "$.data[0].paragraphs[0].qas[0].answers[0].text"
    assert result.frame.height == 0


def test_squad_wrong_type_rows_reach_the_build_counts(mini_project, tmp_path):
    """Rows in = rows out + rows dropped, with the reason in the manifest: a build of a squad
    task on a file with a string offset does not crash."""
    import shutil

    from flanzh.build.pipeline import build

    for folder in ("task_specs", "templates"):
        shutil.copy(REPO / folder / "mrc_cmrc2018.yaml", mini_project.root / folder)
    data = tmp_path / "data" / "mrc_cmrc2018"
    data.mkdir(parents=True)
    qas = [{"id": f"Q{i}", "question": f"第{i}个问题：中国最长的河流是哪条？",
            "answers": [{"text": "长江", "answer_start": 0}]} for i in range(8)]
    qas[3]["answers"][0]["answer_start"] = "0"
    write_json(data / "train.json", squad_doc(qas))
    write_json(data / "dev.json", squad_doc([
        {"id": "D1", "question": "全长约多少公里？", "answers": [{"text": "六千三百公里", "answer_start": 14}]}],
        context="黄河是中国第二长河，全长约六千三百公里。"))
    manifest = build(mini_project, tmp_path / "out", task_ids=["mrc_cmrc2018"],
                     mode=SourceMode("data_dir", tmp_path / "data"))
    task = manifest["tasks"]["mrc_cmrc2018"]
    assert task["dropped"]["wrong_type:answer_start"] == 1
    rejects = [json.loads(line) for line in
               (tmp_path / "out" / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert [r["line"] for r in rejects if r["reason"] == "wrong_type:answer_start"] == [
        "$.data[0].paragraphs[0].qas[3].answers[0].answer_start"]


def test_cmrc_original_layout_is_refused_naming_the_file_to_use(tmp_path):
    path = write_json(tmp_path / "cmrc2018_trial.json", [
        {"context_id": "TRIAL_1", "context_text": "长江是中国最长的河流。", "title": "长江",
         "qas": [{"query_text": "中国最长的河流？", "query_id": "TRIAL_1_QUERY_0", "answers": ["长江"]}]}])
    with pytest.raises(SourceError) as error:
        squad.read([path], fmt="squad", encoding="utf-8", options={}, label="x")
    assert str(error.value).startswith(
        f'{path}: $: found the original CMRC 2018 layout ([{{"context_id", "context_text", '
        '"qas": [{"query_text", "query_id", "answers": [str]}]}], ymcui/cmrc2018 data/); this '
        "reader takes the SQuAD-style files of the same release (ymcui/cmrc2018 "
        "squad-style-data/cmrc2018_{train,dev,trial}.json")


# ---------------------------------------------------------------- squad: quirks of the real files

def test_cmrc_paragraph_with_every_offset_one_too_high_is_relocated(project, tmp_path):
    context = "蓝线鲷俗名龙尖，分布于东非至日本，体呈银灰色。"
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q1", "question": "俗名是什么？", "answers": [{"text": "俗名龙尖", "answer_start": 4}]},
        {"id": "Q2", "question": "体色如何？", "answers": [{"text": "体呈银灰色", "answer_start": 18}]},
    ], context=context))
    rows = read_squad(project, "mrc_cmrc2018", path).frame.to_dicts()
    assert [(r["answer"], r["answer_start"]) for r in rows] == [("俗名龙尖", 3), ("体呈银灰色", 17)]


def test_cmrc_dev_answer_with_offset_minus_one_not_in_context_is_skipped(project, tmp_path):
    path = write_json(tmp_path / "dev.json", squad_doc([
        {"id": "D1", "question": "长江全长约多少？", "answers": [
            {"text": "六千三百多公里", "answer_start": -1},          # not a span of the context
            {"text": "六千三百公里", "answer_start": 14},
            {"text": "六千三百公里", "answer_start": 14}]}]))
    result = read_squad(project, "mrc_cmrc2018", path)
    assert result.dropped == {}
    row = result.frame.to_dicts()[0]
    assert (row["answer"], row["answer_start"]) == ("六千三百公里", 14)
    assert row["answers"] == ["六千三百多公里", "六千三百公里", "六千三百公里"]


def test_cmrc_empty_question_is_dropped_by_the_spec_as_empty(project, tmp_path):
    task = load_task(project, "mrc_cmrc2018")
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q1", "question": "", "answers": [{"text": "长江", "answer_start": 0}]},
        {"id": "Q2", "question": "最长的河流？", "answers": [{"text": "长江", "answer_start": 0}]}]))
    frame, dropped, _ = normalise(task, read_squad(project, "mrc_cmrc2018", path).frame, "train")
    assert dropped == {"empty_field:question": 1}
    assert frame[KEY].to_list() == ["Q2"]


def test_drcd_two_answers_with_ids_first_is_target_after_conversion(project, tmp_path):
    path = write_json(tmp_path / "DRCD_dev.json", {"version": "1.3", "data": [
        {"title": "臺灣", "id": "9", "paragraphs": [{"id": "9-1", "context": "臺灣位於東亞，首都為臺北。",
         "qas": [{"id": "9-1-1", "question": "臺灣的首都是哪裡？", "answers": [
             {"id": "1", "text": "臺北", "answer_start": 10},
             {"id": "2", "text": "臺北", "answer_start": 10}]}]}]}]})
    row = read_squad(project, "mrc_drcd", path).frame.to_dicts()[0]
    assert (row["answer"], row["answer_start"], row["answers"]) == ("台北", 10, ["台北", "台北"])
    assert row["question"] == "台湾的首都是哪里？"


# ---------------------------------------------------------------- ChID: the three layouts

def test_chid_fewclue_copy_one_row_per_line(tmp_path):
    path = write_lines(tmp_path / "train_few_all.json", [
        {"id": 7, "candidates": ["画蛇添足", "一丝不苟", "半途而废", "守株待兔", "亡羊补牢",
                                 "对牛弹琴", "井底之蛙"],
         "content": "他做事向来#idiom#，连标点都要核对三遍。", "answer": 1},
        {"id": 9, "candidates": ["画蛇添足", "一丝不苟", "半途而废", "守株待兔", "亡羊补牢",
                                 "对牛弹琴", "井底之蛙"],
         "content": "学习不能#idiom#，要坚持到底。", "answer": 2}])
    result = chid.read([path], fmt="chid", encoding="utf-8", options={}, label="x")
    assert result.dropped == {}
    rows = result.frame.drop(GROUP).to_dicts()
    assert [(r[KEY], r["passage"], r["answer"]) for r in rows] == [
        ("7", "他做事向来＿＿＿＿，连标点都要核对三遍。", "一丝不苟"),
        ("9", "学习不能＿＿＿＿，要坚持到底。", "半途而废")]
    assert len(rows[0]["candidates"]) == 7


def test_chid_fewclue_unlabelled_test_file_has_no_answer(tmp_path):
    path = write_lines(tmp_path / "test.json", [
        {"id": 0, "candidates": ["画蛇添足", "一丝不苟"], "content": "这一笔#idiom#。"}])
    rows = chid.read([path], fmt="chid", encoding="utf-8", options={}, label="x").frame.to_dicts()
    assert [(r[KEY], r["answer"]) for r in rows] == [("0", None)]


def test_chid_fewclue_answer_that_cannot_be_aligned_is_counted(tmp_path):
    candidates = ["画蛇添足", "一丝不苟", "半途而废"]
    path = write_lines(tmp_path / "train_few_all.json", [
        {"id": 1, "candidates": candidates, "content": "多此一举，#idiom#。", "answer": 3},
        {"id": 2, "candidates": candidates, "content": "多此一举，#idiom#。", "answer": "0"},
        {"id": 3, "candidates": candidates, "content": "多此一举，#idiom#。", "answer": 0}])
    result = chid.read([path], fmt="chid", encoding="utf-8", options={}, label="x")
    assert result.dropped == {"answer_out_of_range": 1, "wrong_type:answer": 1}
    assert [(r["reason"], r["line"]) for r in result.rejects] == [
        ("answer_out_of_range", 1), ("wrong_type:answer", 2)]
    assert [(r[KEY], r["answer"]) for r in result.frame.to_dicts()] == [("3", "画蛇添足")]


def test_chid_flat_candidates_with_two_blanks_is_refused(tmp_path):
    path = write_lines(tmp_path / "train.json", [
        {"id": 1, "candidates": ["画蛇添足", "一丝不苟"], "content": "#idiom#又#idiom#。", "answer": 0}])
    with pytest.raises(SourceError) as error:
        chid.read([path], fmt="chid", encoding="utf-8", options={}, label="x")
    assert str(error.value).startswith(
        f"{path}: line 1: 2 #idiom# blanks with one flat candidate list (a FewCLUE line has exactly "
        "one blank; the original release lists candidates per blank); expected ChID lines shaped")


def test_chid_fewclue_copy_builds_through_the_spec(project, tmp_path):
    """The FewCLUE file listed in source.files in place of the CLUE pair reads and normalises."""
    from dataclasses import replace

    task = load_task(project, "cloze_chid")
    spec = {**task.spec, "source": {**task.source, "files": {"train": "train_few_all.json"}}}
    task = replace(task, spec=spec)
    folder = tmp_path / "cloze_chid"
    folder.mkdir()
    write_lines(folder / "train_few_all.json", [
        {"id": 5, "candidates": ["画蛇添足", "一丝不苟", "半途而废"],
         "content": "蛇本没有脚，给它添上脚就是#idiom#。", "answer": 0}])
    mode = SourceMode("data_dir", tmp_path)
    frame, dropped, _ = normalise(task, read_split(project, task, "train", mode).frame, "train")
    assert dropped == {}
    assert frame.select("passage", "answer").to_dicts() == [
        {"passage": "蛇本没有脚，给它添上脚就是＿＿＿＿。", "answer": "画蛇添足"}]


# ---------------------------------------------------------------- C3

def c3_doc(doc_id, lines, questions):
    return [lines, questions, doc_id]


def test_c3_nlpdata_file_names_keep_the_dialogue_genre(tmp_path):
    """nlpdata/c3 names the dialogue files c3-d-*.json; a one-line dialogue has no second
    speaker line to recognise it by."""
    doc = c3_doc("3-1", ["男：今天的会改到下午三点了。"],
                 [{"question": "会议几点开始？", "choice": ["上午九点", "下午三点"], "answer": "下午三点"}])
    for name in ("c3-d-train.json", "d-train.json"):
        path = write_json(tmp_path / name, [doc])
        rows = c3.read([path], fmt="c3", encoding="utf-8", options={}, label="x").frame.to_dicts()
        assert rows[0]["genre"] == "对话", name
    path = write_json(tmp_path / "c3-m-train.json", [doc])
    assert c3.read([path], fmt="c3", encoding="utf-8", options={},
                   label="x").frame.to_dicts()[0]["genre"] == "文章"


def test_c3_repeated_choice_and_doc_id_shared_by_d_and_m_files(tmp_path):
    """Real files repeat a choice (["六块", "五块", "五块", "六块五"]) and reuse a document id for
    different documents in the d- and m- files of one split."""
    d = write_json(tmp_path / "d-train.json", [c3_doc("5-16", ["女：苹果多少钱一斤？", "男：五块，买两斤算你九块。"], [
        {"question": "苹果多少钱一斤？", "choice": ["六块", "五块", "五块", "六块五"], "answer": "五块"}])])
    m = write_json(tmp_path / "m-train.json", [c3_doc("5-16", ["地铁里限制使用手机的规定越来越多。"], [
        {"question": "文章主要谈什么？", "choice": ["地铁", "手机规定"], "answer": "手机规定"}])])
    result = c3.read([d, m], fmt="c3", encoding="utf-8", options={}, label="x")
    rows = result.frame.to_dicts()
    assert result.dropped == {}
    assert [r[KEY] for r in rows] == ["5-16:0", "m-train.json:5-16:0"]
    assert rows[0]["choices"] == ["六块", "五块", "六块五"] and rows[0]["answer"] == "五块"


# ---------------------------------------------------------------- flat CLUE / FewCLUE files

@pytest.mark.parametrize("task_id,record,label", [
    # FewCLUE copies write the code as a JSON number; the CLUE release writes a string
    ("cls_tnews", {"label": 100, "label_desc": "news_story", "sentence": "嫂子的药方\ufeff",
                   "keywords": "", "id": 448}, "故事"),
    ("cls_iflytek", {"label": 10, "label_des": "社区服务", "sentence": "查公交、查路况的出行助手。",
                     "id": 0}, "社区服务"),
    ("cls_iflytek", {"label": "110", "label_des": "社区超市", "sentence": "小区门口的超市送货上门。"}, "社区超市"),
    ("kw_csl_keyword", {"id": 0, "abst": "提出一种近似查询协议.", "keyword": ["近似查询"], "label": "1"}, "是"),
    ("senti_eprstmt", {"id": 3, "sentence": "性价比还是很不错的，棒棒哒", "label": "Positive"}, "正面"),
    ("nli_ocnli", {"level": "hard", "sentence1": "七五期间开始改建土堤", "sentence2": "八五期间会全部改完",
                   "label": "neutral", "label0": None, "label1": None, "label2": None,
                   "label3": None, "label4": None, "genre": "news", "prem_id": "news_1", "id": 0},
     "中立"),
])
def test_flat_clue_label_layouts_map(project, tmp_path, task_id, record, label):
    task = load_task(project, task_id)
    folder = tmp_path / task_id
    folder.mkdir()
    train = task.source["files"]["train"]
    write_lines(folder / train, [record])
    frame, dropped, _ = normalise(task, read_split(project, task, "train",
                                                   SourceMode("data_dir", tmp_path)).frame, "train")
    assert dropped == {}, task_id
    assert frame["label"].to_list() == [label], task_id


def test_ocnli_no_majority_label_is_dropped_as_invalid(project, tmp_path):
    task = load_task(project, "nli_ocnli")
    folder = tmp_path / "nli_ocnli"
    folder.mkdir()
    base = {"level": "medium", "sentence1": "房租涨了,还续租吗?", "sentence2": "对方打算搬家",
            "genre": "phone", "prem_id": "phone_1"}
    write_lines(folder / "train.50k.json", [
        {**base, "label": "-", "label0": "neutral", "label1": "entailment",
         "label2": "contradiction", "label3": "neutral", "label4": "entailment", "id": 1},
        {**base, "label": "neutral", "label0": None, "label1": None, "label2": None,
         "label3": None, "label4": None, "id": 2}])
    frame, dropped, _ = normalise(task, read_split(project, task, "train",
                                                   SourceMode("data_dir", tmp_path)).frame, "train")
    assert dropped == {"invalid_label:label": 1}
    assert frame["label"].to_list() == ["中立"]
# ---------------------------------------------------------------- the samples keep the quirks

def _squad_answers(path):
    document = json.loads(path.read_text("utf-8"))
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield paragraph["context"], qa


def _sample(project, task_id, split):
    task = load_task(project, task_id)
    files = split_files(project, task, split, SourceMode())
    return files if isinstance(files, list) else list(files.values())


def _cmrc_dev_has_unlocatable_extra_answer(project):
    return any(a["answer_start"] == -1 and a["text"] not in context
               for path in _sample(project, "mrc_cmrc2018", "validation")
               for context, qa in _squad_answers(path) for a in qa["answers"][1:])


def _cmrc_train_has_empty_question(project):
    return any(not qa["question"].strip() for path in _sample(project, "mrc_cmrc2018", "train")
               for _, qa in _squad_answers(path))


def _cmrc_train_has_shifted_paragraph(project):
    for path in _sample(project, "mrc_cmrc2018", "train"):
        document = json.loads(path.read_text("utf-8"))
        for article in document["data"]:
            for paragraph in article["paragraphs"]:
                answers = [a for qa in paragraph["qas"] for a in qa["answers"]]
                context = paragraph["context"]
                shifted = [a for a in answers if a["answer_start"] > 0 and context[
                    a["answer_start"] - 1:a["answer_start"] - 1 + len(a["text"])] == a["text"]]
                if len(shifted) > 1:
                    return True
    return False


def _drcd_eval_questions_have_two_answers(project):
    return all(len(qa["answers"]) == 2 and [a["id"] for a in qa["answers"]] == ["1", "2"]
               for split in ("validation", "test") for path in _sample(project, "mrc_drcd", split)
               for _, qa in _squad_answers(path))


def _xquad_has_question_with_outer_space(project):
    return any(qa["question"] != qa["question"].strip()
               for path in _sample(project, "qa_xquad_zh", "validation")
               for _, qa in _squad_answers(path))


def _c3_has_repeated_choice_and_shared_id(project):
    d, m = _sample(project, "mrc_c3", "train")
    d_docs, m_docs = (json.loads(p.read_text("utf-8")) for p in (d, m))
    repeated = any(len(set(q["choice"])) < len(q["choice"]) for doc in d_docs + m_docs for q in doc[1])
    return repeated and bool({doc[2] for doc in d_docs} & {doc[2] for doc in m_docs})


def _tnews_has_invisible_character(project):
    return any("\ufeff" in line for path in _sample(project, "cls_tnews", "train")
               for line in path.read_text("utf-8").splitlines())


def _iflytek_has_zero_width_and_no_break_spaces(project):
    return any("\u200b" in line and "\xa0" in line
               for path in _sample(project, "cls_iflytek", "train")
               for line in path.read_text("utf-8").splitlines())


def _eprstmt_repeats_a_review_under_another_id(project):
    rows = [json.loads(line) for path in _sample(project, "senti_eprstmt", "train")
            for line in path.read_text("utf-8").splitlines() if line.strip()]
    by_sentence = {}
    for row in rows:
        by_sentence.setdefault(row["sentence"], set()).add(row["id"])
    return any(len(ids) > 1 for ids in by_sentence.values())


def _ocnli_has_no_majority_rows(project):
    return any(json.loads(line)["label"] == "-"
               for path in _sample(project, "nli_ocnli", "train")
               for line in path.read_text("utf-8").splitlines() if line.strip())


@pytest.mark.parametrize("task_id,quirk", [
    ("mrc_cmrc2018", _cmrc_dev_has_unlocatable_extra_answer),
    ("mrc_cmrc2018", _cmrc_train_has_empty_question),
    ("mrc_cmrc2018", _cmrc_train_has_shifted_paragraph),
    ("mrc_drcd", _drcd_eval_questions_have_two_answers),
    ("qa_xquad_zh", _xquad_has_question_with_outer_space),
    ("mrc_c3", _c3_has_repeated_choice_and_shared_id),
    ("cls_tnews", _tnews_has_invisible_character),
    ("cls_iflytek", _iflytek_has_zero_width_and_no_break_spaces),
    ("senti_eprstmt", _eprstmt_repeats_a_review_under_another_id),
    ("nli_ocnli", _ocnli_has_no_majority_rows),
], ids=lambda v: v if isinstance(v, str) else v.__name__.strip("_"))
def test_bundled_sample_reproduces_real_quirk(project, task_id, quirk):
    assert quirk(project), f"{task_id}: the bundled sample lost a quirk of the real files"
