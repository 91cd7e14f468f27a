"""Real-file quirks of the dialogue / IE / generation readers (issue 13), pinned with rows written
for these tests: wrong JSON types and lone surrogates are counted rows, never a failed task; real
file names and layouts are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flanzh.errors import SourceError
from flanzh.readers import KEY, reader_for


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
