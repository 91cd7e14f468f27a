"""Raw-format readers on their awkward cases, and the hub code path on a local hub-like folder."""

import json

import polars as pl
import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import GROUP, KEY, chid, squad


def write_json(path, document):
    path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    return path


def squad_doc(qas, context="北京是中国的首都，也是一座历史悠久的城市。"):
    return {"version": "v1.0", "data": [{"title": "北京", "id": "T1",
                                         "paragraphs": [{"id": "T1", "context": context, "qas": qas}]}]}


def test_squad_one_row_per_question_with_all_answers(tmp_path):
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q0", "question": "中国的首都是哪里？",
         "answers": [{"text": "北京", "answer_start": 0}, {"text": "北京市", "answer_start": 0}]},
        {"id": "Q1", "question": "北京是一座怎样的城市？",
         "answers": [{"text": "历史悠久", "answer_start": 12}]},
    ]))
    result = squad.read([path], fmt="squad", encoding="utf-8", options={}, label="x")
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == ["Q0", "Q1"]
    assert rows[0]["answer"] == "北京" and rows[0]["answers"] == ["北京", "北京市"]
    assert rows[1]["answer_start"] == 13          # relocated: offset 12 did not hold the text
    assert rows[1]["context"][13:17] == "历史悠久"
    assert result.dropped == {}


def test_squad_drops_answers_not_in_context_and_keeps_unanswered(tmp_path):
    path = write_json(tmp_path / "train.json", squad_doc([
        {"id": "Q0", "question": "上海呢？", "answers": [{"text": "上海", "answer_start": 3}]},
        {"id": "Q1", "question": "测试题", "answers": []},
    ]))
    result = squad.read([path], fmt="squad", encoding="utf-8", options={}, label="x")
    assert result.dropped == {"answer_not_in_context": 1}
    assert result.frame.to_dicts()[0]["answer"] is None


def test_squad_wrong_shape_names_file_and_place(tmp_path):
    path = write_json(tmp_path / "train.json", {"data": [{"title": "x", "paragraphs": [{"text": "y"}]}]})
    with pytest.raises(SourceError) as error:
        squad.read([path], fmt="squad", encoding="utf-8", options={}, label="x")
    assert str(error.value).startswith(
        f"{path}: $.data[0].paragraphs[0]: expected a paragraph with a \"context\" string and a "
        "\"qas\" list; a SQuAD-style file looks like {\"data\": [")


def test_chid_original_release_one_row_per_blank(tmp_path):
    path = tmp_path / "train_data.txt"
    path.write_text(json.dumps({
        "content": "大家#idiom#，终于按时完工；他做事总是#idiom#。",
        "realCount": 2, "groundTruth": ["齐心协力", "一丝不苟"],
        "candidates": [["齐心协力", "半途而废", "画蛇添足"], ["马马虎虎", "一丝不苟", "三心二意"]],
    }, ensure_ascii=False) + "\n", "utf-8")
    frame = chid.read([path], fmt="chid", encoding="utf-8", options={}, label="x").frame
    assert frame[GROUP].n_unique() == 1                 # both blanks come from one passage
    rows = frame.drop(GROUP).to_dicts()
    assert rows == [
        {KEY: "1:0", "passage": "大家＿＿＿＿，终于按时完工；他做事总是一丝不苟。",
         "candidates": ["齐心协力", "半途而废", "画蛇添足"], "answer": "齐心协力"},
        {KEY: "1:1", "passage": "大家齐心协力，终于按时完工；他做事总是＿＿＿＿。",
         "candidates": ["马马虎虎", "一丝不苟", "三心二意"], "answer": "一丝不苟"},
    ]


def test_chid_clue_release_with_answer_file(tmp_path):
    data = tmp_path / "train.json"
    data.write_text(json.dumps({"candidates": ["画龙点睛", "守株待兔", "亡羊补牢"],
                                "content": ["这句结尾#idiom000001#，全文生动；不能#idiom000002#。"]},
                               ensure_ascii=False) + "\n", "utf-8")
    answers = write_json(tmp_path / "train_answer.json", {"#idiom000001#": 0, "#idiom000002#": 1})
    rows = chid.read({"data": data, "answers": answers}, fmt="chid", encoding="utf-8",
                     options={"blank": "（ ）"}, label="x").frame.to_dicts()
    assert [(r[KEY], r["passage"], r["answer"]) for r in rows] == [
        ("#idiom000001#", "这句结尾（ ），全文生动；不能守株待兔。", "画龙点睛"),
        ("#idiom000002#", "这句结尾画龙点睛，全文生动；不能（ ）。", "守株待兔"),
    ]
    test_rows = chid.read({"data": data}, fmt="chid", encoding="utf-8", options={},
                          label="x").frame.to_dicts()
    assert [r["answer"] for r in test_rows] == [None, None]
    assert test_rows[0]["passage"] == "这句结尾＿＿＿＿，全文生动；不能__。"


def test_chid_marker_missing_from_answer_file(tmp_path):
    data = tmp_path / "train.json"
    data.write_text(json.dumps({"candidates": ["画龙点睛"], "content": ["#idiom000009#"]}) + "\n")
    answers = write_json(tmp_path / "a.json", {"#idiom000001#": 0})
    with pytest.raises(SourceError) as error:
        chid.read({"data": data, "answers": answers}, fmt="chid", encoding="utf-8", options={},
                  label="x")
    assert str(error.value) == (f"{data}: line 1: marker #idiom000009# has no entry in the answers "
                                "file; is it the answer file of the same split?")


def test_chid_unknown_shape_fails_loudly(tmp_path):
    data = tmp_path / "train.json"
    data.write_text('{"text": "no content key"}\n')
    with pytest.raises(SourceError) as error:
        chid.read([data], fmt="chid", encoding="utf-8", options={}, label="x")
    assert str(error.value).startswith(f'{data}: line 1: "content" is neither a string nor a list '
                                       "of passages; expected ChID lines shaped original:")


def make_hub_repo(root, config, rows, features):
    """A local folder laid out like a hub dataset repo: parquet under <config>/ plus a card."""
    from datasets import Dataset

    (root / config).mkdir(parents=True)
    Dataset.from_list(rows, features=features).to_parquet(
        str(root / config / "train-00000-of-00001.parquet"))
    (root / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: train\n"
        f"    path: {config}/train-*\n---\n", "utf-8")


def test_hub_copy_of_a_flat_task(mini_project, tmp_path):
    """ClassLabel ints come back as the raw files' names; -1 (no gold) becomes a counted drop."""
    from datasets import ClassLabel, Features, Value

    import yaml
    from flanzh.build.pipeline import build
    from flanzh.read.sources import SourceMode

    repo = tmp_path / "hubrepo"
    features = Features({"sentence1": Value("string"), "sentence2": Value("string"),
                         "label": ClassLabel(names=["0", "1"]), "idx": Value("int32")})
    make_hub_repo(repo, "afqmc", [
        {"sentence1": "花呗怎么还", "sentence2": "花呗如何还款", "label": 1, "idx": 0},
        {"sentence1": "借呗怎么开", "sentence2": "花呗怎么关", "label": 0, "idx": 1},
        {"sentence1": "测试", "sentence2": "测试", "label": -1, "idx": 2},
    ], features)
    spec_path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(spec_path.read_text("utf-8"))
    spec["source"]["hub"] = {"path": str(repo), "name": "afqmc", "revision": "a" * 40}
    spec["source"]["reader_options"] = {"key": "idx"}
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    manifest = build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"], mode=SourceMode("hub"))
    entry = manifest["tasks"]["sim_afqmc"]
    assert (entry["rows_read"], entry["rows_written"]) == (3, 2)
    assert entry["dropped"] == {"missing_field:label": 1}
    frame = pl.read_parquet(tmp_path / "out" / entry["shards"][0])
    assert frame["source_key"].to_list() == ["0", "1"]


def test_hub_copy_of_squad_shape(tmp_path):
    from datasets import Dataset

    dataset = Dataset.from_list([{"id": "Q0", "context": "长江是中国最长的河流。", "question": "中国最长的河流是？",
                                  "answers": {"text": ["长江"], "answer_start": [0]}}])
    rows = squad.from_hub(dataset, options={}, label="x").frame.to_dicts()
    assert rows[0]["answer"] == "长江" and rows[0][KEY] == "Q0"


def test_squad_traditional_to_simplified_keeps_offsets(tmp_path):
    path = write_json(tmp_path / "train.json", squad_doc(
        [{"id": "Q0", "question": "台灣最高的山是哪座？", "answers": [{"text": "玉山", "answer_start": 5}]}],
        context="台灣最高峰為玉山，海拔近四千公尺。"))
    rows = squad.read([path], fmt="squad", encoding="utf-8", options={"convert": "t2s"},
                      label="x").frame.to_dicts()
    assert rows[0]["context"] == "台湾最高峰为玉山，海拔近四千公尺。"
    assert rows[0]["question"] == "台湾最高的山是哪座？"
    assert rows[0]["answer"] == "玉山" and rows[0]["answer_start"] == 6
