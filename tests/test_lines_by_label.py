"""The lines_by_label format: plain-text corpora with one text per line and one file per label,
end to end from `flanzh new-task` to a build, in a throwaway project."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flanzh.cli import app
from flanzh.errors import SourceError
from flanzh.read.readers import lines_by_label

LABEL = "task_specs/senti_toy.yaml"


def read(files, encoding="utf-8"):
    return lines_by_label.read(files, fmt="lines_by_label", encoding=encoding, options={},
                               label=LABEL)


def test_one_row_per_line_labelled_by_part_with_stable_keys(tmp_path):
    pos, neg = tmp_path / "pos.txt", tmp_path / "neg.txt"
    # a BOM, CRLF line ends, stray (also full-width) spaces, blank and whitespace-only lines
    pos.write_bytes("\ufeff房间干净，服务周到。\r\n\r\n  早餐丰富，下次还来。\u3000\r\n".encode("utf-8"))
    neg.write_text("隔音太差，一夜没睡好。\n   \n前台态度冷淡。\n\n", "utf-8")
    result = read({"pos": pos, "neg": neg})
    assert result.frame.rows(named=True) == [
        {"__key": "pos:1", "text": "房间干净，服务周到。", "label": "pos"},
        {"__key": "pos:3", "text": "早餐丰富，下次还来。", "label": "pos"},
        {"__key": "neg:1", "text": "隔音太差，一夜没睡好。", "label": "neg"},
        {"__key": "neg:3", "text": "前台态度冷淡。", "label": "neg"},
    ]
    # rows in (7 lines) = rows out (4) + rows dropped (3), each blank line by reason
    assert result.dropped == {"blank_line": 3}
    assert [(Path(r["file"]).name, r["line"]) for r in result.rejects] == [
        ("pos.txt", 2), ("neg.txt", 2), ("neg.txt", 4)]


def test_encoding_from_the_spec_and_a_clear_error_when_it_is_wrong(tmp_path):
    pos = tmp_path / "pos.txt"
    pos.write_bytes("物流很快，包装完好。\n".encode("gbk"))
    assert read({"pos": pos}, encoding="gbk").frame["text"].to_list() == ["物流很快，包装完好。"]
    with pytest.raises(SourceError) as error:
        read({"pos": pos})
    assert str(error.value) == (f"{pos}: byte 0: cannot decode as utf-8 (invalid continuation byte); "
                                "try source.encoding: gb18030")


def test_files_must_be_named_by_label(tmp_path):
    with pytest.raises(SourceError) as error:
        read([tmp_path / "train.txt"])
    assert str(error.value) == (f"{LABEL}: format 'lines_by_label' takes one file per label for "
                                "each split, named by the label, e.g. files: {train: {pos: "
                                "pos.txt, neg: neg.txt}}")


POS = ["房间宽敞明亮，床也很舒服。", "前台服务热情，入住办得很快。", "早餐品种多，味道也不错。",
       "位置方便，出门就是地铁站。", "性价比很高，下次出差还住这里。", "卫生间干净，热水很足。",
       "窗外就是江景，晚上特别漂亮。", "停车方便，保安还帮忙指路。", "房间隔音好，睡得很踏实。",
       "退房很快，还送了一瓶矿泉水。", "床单被套都是新换的，很放心。", "楼下有便利店，买东西方便。"]
NEG = ["空调噪音很大，半夜被吵醒。", "房间有股霉味，开窗也散不掉。", "前台办理入住等了半个小时。",
       "早餐种类少，去晚了就没了。", "热水时有时无，洗澡很麻烦。", "隔壁装修，白天一直在钻墙。",
       "网络很慢，视频会议总掉线。", "地毯脏兮兮的，看着就不舒服。", "价格偏贵，和图片差距很大。",
       "电梯经常坏，只能走楼梯上去。", "房间太小，行李箱都打不开。", "服务员态度冷淡，问什么都说不知道。"]

TEMPLATES = [
    ("这条酒店评价是{{ options | huo }}？\n{{ text }}", "{{ label }}", True),
    ("{{ text }}\n上面这句话对酒店是{{ options | huo }}评价？", "{{ label }}", True),
    ("住客留言：{{ text }}\n请从{{ options | dunhao }}中选出它的情感倾向。", "{{ label }}", True),
    ("读一读这条点评，判断写的人满不满意：{{ text }}", "{{ label }}", False),
    ("“{{ text }}”——这位客人对住宿体验的态度是什么？", "{{ label }}", False),
    ("酒店运营要整理客人反馈。{{ text }}\n这条应该归到哪一类？", "{{ label }}", False),
    ("情感分类：{{ text }}", "{{ label }}", False),
    ("我在网上看到有人这样写：{{ text }}\n你觉得他是在夸还是在抱怨？", "{{ label }}", False),
    ("{{ text }}\n判断这句点评的褒贬，只回答结果。", "{{ label }}", False),
    ("帮我看看这条评论的语气：{{ text }}", "{{ label }}", False),
]


def fill_scaffold(root: Path) -> None:
    """What a contributor does after `flanzh new-task`: replace every TODO, write the templates
    and the sample lines."""
    spec_path = root / "task_specs" / "senti_toy.yaml"
    spec = spec_path.read_text("utf-8")
    for old, new in [('"TODO: 任务的中文名"', "酒店评论情感"),
                     ('"TODO: the source dataset\'s name"', "Toy hotel reviews"),
                     ('"TODO: where a user gets the raw files (URL; say if a login is needed)"',
                      "https://example.org/toy-hotel-reviews"),
                     ('"TODO: the source\'s licence, or n/v"', "CC-BY-4.0"),
                     ('"TODO: a bibtex entry for the source"', "'@misc{toy, title={Toy}}'"),
                     ('"TODO: 正面"', "正面"), ('"TODO: 负面"', "负面")]:
        assert old in spec, old
        spec = spec.replace(old, new)
    spec_path.write_text(spec, "utf-8")
    document = {"task": "senti_toy", "templates": [
        {"id": f"senti_toy_{i:02d}", "input": text, "target": target,
         **({"choices_in_prompt": True} if shown else {})}
        for i, (text, target, shown) in enumerate(TEMPLATES, start=1)]}
    (root / "templates" / "senti_toy.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    samples = root / "samples" / "senti_toy"
    (samples / "pos.txt").write_text("\n".join(POS[:6]) + "\n\n" + "\n".join(POS[6:]) + "\n", "utf-8")
    (samples / "neg.txt").write_text("\n".join(NEG) + "\n", "utf-8")


def test_new_task_scaffolds_the_shape_and_a_filled_task_lints_previews_pins_and_builds(tmp_path):
    root = tmp_path / "project"
    for folder in ("task_specs", "templates", "samples"):
        (root / folder).mkdir(parents=True)
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(app, ["--root", str(root), *args])

    made = cli("new-task", "senti_toy", "--category", "sentiment_classification",
               "--format", "lines_by_label")
    assert made.exit_code == 0, made.output
    assert made.output.splitlines()[:4] == [
        "created task_specs/senti_toy.yaml", "created templates/senti_toy.yaml",
        "created samples/senti_toy/pos.txt", "created samples/senti_toy/neg.txt"]
    spec = yaml.safe_load((root / "task_specs" / "senti_toy.yaml").read_text("utf-8"))
    assert spec["source"]["files"] == {"train": {"pos": "pos.txt", "neg": "neg.txt"}}
    assert spec["fields"]["label"]["from"] == "label"
    assert set(spec["fields"]["label"]["map"]) == {"pos", "neg"}
    unfilled = cli("lint", "senti_toy")
    assert unfilled.exit_code == 1
    assert "$.fields.label.map.pos: still a placeholder: TODO: 正面" in str(unfilled.exception)

    fill_scaffold(root)
    linted = cli("lint", "senti_toy")
    assert linted.exit_code == 0, linted.output
    assert linted.output == "1 tasks pass lint\n"
    shown = cli("preview", "senti_toy", "-n", "1", "--template", "senti_toy_07")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[:3] == [
        "── pos:1 · senti_toy_07 (zs_noopt)", f"情感分类：{POS[0]}", "→ 正面"]

    # golden outputs: pin each template rendered on one sample row, then catch a change to them
    pinned = cli("golden", "senti_toy")
    assert pinned.exit_code == 0, pinned.output
    assert pinned.output == "wrote tests/golden/senti_toy.json\n"
    golden_file = root / "tests" / "golden" / "senti_toy.json"
    records = json.loads(golden_file.read_text("utf-8"))
    assert [r["template_id"] for r in records] == [f"senti_toy_{i:02d}" for i in range(1, 11)]
    assert records[6] == {"template_id": "senti_toy_07", "source_key": "pos:8",
                          "inputs": f"情感分类：{POS[6]}", "targets": "正面"}
    checked = cli("golden", "senti_toy", "--check")
    assert checked.exit_code == 0, checked.output
    assert checked.output == "1 tasks match their golden files\n"
    templates = root / "templates" / "senti_toy.yaml"
    templates.write_text(templates.read_text("utf-8").replace("情感分类：", "褒贬分类："), "utf-8")
    assert cli("lint", "senti_toy").exit_code == 0
    stale = cli("golden", "senti_toy", "--check")
    assert stale.exit_code == 1
    assert str(stale.exception) == (
        "tests/golden/senti_toy.json: senti_toy: templates rendering differently: senti_toy_07; "
        "if intended, run `flanzh golden senti_toy` and review the diff")
    assert json.loads(golden_file.read_text("utf-8")) == records      # --check writes nothing
    assert cli("golden", "senti_toy").exit_code == 0
    assert json.loads(golden_file.read_text("utf-8"))[6]["inputs"] == f"褒贬分类：{POS[6]}"
    assert cli("golden", "senti_toy", "--check").exit_code == 0

    out = tmp_path / "out"
    built = cli("build", "--out", str(out))
    assert built.exit_code == 0, built.output
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    task = manifest["tasks"]["senti_toy"]
    assert task["rows_read"] == 25 and task["dropped"]["blank_line"] == 1
    assert task["rows_read"] == task["rows_written"] + sum(task["dropped"].values())
