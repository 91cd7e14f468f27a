"""Group A readers (flanzh issue 3): bitext (WikiTitles, News Commentary, Multitarget TED, WMT
SGML), douban, kdconv and persona_chat, on their awkward cases and error messages."""

import gzip
import json

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import GROUP, KEY, bitext, douban, kdconv, persona_chat


def write(path, text: str, gz: bool = False):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def read_bitext(files, **options):
    return bitext.read(files, fmt="bitext", encoding="utf-8", options=options, label="spec.yaml")


# --- bitext: tab-separated --------------------------------------------------------------------

def test_bitext_gzipped_tsv_keeps_empty_sides_and_counts_bad_lines(tmp_path):
    path = write(tmp_path / "wikititles-v1.zh-en.tsv.gz",
                 "长江\tYangtze River\n\t  Saint-Malo\n鲁迅\tLu Xun\tLu Hsun\nIBM\tIBM\n"
                 "北京大学\tPeking University\n", gz=True)
    result = read_bitext([path], columns=["zh", "en"], drop_identical=True)
    rows = result.frame.to_dicts()
    assert [(r[KEY], r["zh"], r["en"]) for r in rows] == [
        ("1", "长江", "Yangtze River"), ("2", "", "Saint-Malo"), ("5", "北京大学", "Peking University")]
    assert result.dropped == {"wrong_column_count": 1, "identical_sides": 1}
    assert [(r["reason"], r["line"]) for r in result.rejects] == [
        ("wrong_column_count", 3), ("identical_sides", 4)]


def test_bitext_blank_lines_separate_articles(tmp_path):
    path = write(tmp_path / "news-commentary-v14.en-zh.tsv",
                 "Title one\t标题一\nFirst.\t第一句。\n\nTitle two\t标题二\n\t\nLast.\t最后。\r\n")
    frame = read_bitext([path], columns=["en", "zh"]).frame
    assert frame[KEY].to_list() == ["1", "2", "4", "6"]
    assert frame[GROUP].to_list() == ["news-commentary-v14.en-zh.tsv:0"] * 2 + \
        ["news-commentary-v14.en-zh.tsv:1", "news-commentary-v14.en-zh.tsv:2"]
    assert frame["zh"].to_list()[-1] == "最后。"          # CRLF line end removed


def test_bitext_only_newline_ends_a_line(tmp_path):
    path = write(tmp_path / "a.tsv", "one\u2028two\t一\u2028二\nthree\t三\n")
    frame = read_bitext([path], columns=["en", "zh"]).frame
    assert frame.height == 2 and frame["en"][0] == "one\u2028two"


def test_bitext_keys_name_the_file_when_a_split_has_several(tmp_path):
    a = write(tmp_path / "a.tsv", "x\t甲\n")
    b = write(tmp_path / "b.tsv", "y\t乙\n")
    assert read_bitext([a, b], columns=["en", "zh"]).frame[KEY].to_list() == ["a.tsv:1", "b.tsv:1"]


def test_bitext_file_of_another_shape_fails_on_its_first_line(tmp_path):
    path = write(tmp_path / "pairs.csv", "zh,en\n长江,Yangtze\n")
    with pytest.raises(SourceError) as error:
        read_bitext([path], columns=["zh", "en"])
    assert str(error.value) == (f"{path}: line 1: 1 tab-separated cells; expected 2 tab-separated "
                                "columns (zh TAB en)")


def test_bitext_tsv_needs_the_column_languages(tmp_path):
    path = write(tmp_path / "a.tsv", "x\ty\n")
    with pytest.raises(SourceError) as error:
        read_bitext([path])
    assert str(error.value) == ("spec.yaml: reader_options.columns: the bitext reader needs two or "
                                "more distinct language names such as [zh, en]; got []")


def test_bitext_broken_gzip_is_an_error(tmp_path):
    path = tmp_path / "a.tsv.gz"
    path.write_bytes(gzip.compress(b"x\ty\n")[:12])
    with pytest.raises(SourceError, match=r"a\.tsv\.gz: not a readable gzip file"):
        read_bitext([path], columns=["en", "zh"])


# --- bitext: line-aligned named parts ---------------------------------------------------------

def test_bitext_line_aligned_parts_keep_empty_lines(tmp_path):
    en = write(tmp_path / "ted_train_en-zh.raw.en", "(Laughter)\nThank you.\nIt didn't work.\n")
    zh = write(tmp_path / "ted_train_en-zh.raw.zh", "（笑声）\n谢谢大家。\n\n")
    rows = read_bitext({"en": en, "zh": zh}).frame.to_dicts()
    assert rows == [{KEY: "1", "en": "(Laughter)", "zh": "（笑声）"},
                    {KEY: "2", "en": "Thank you.", "zh": "谢谢大家。"},
                    {KEY: "3", "en": "It didn't work.", "zh": ""}]


def test_bitext_line_count_mismatch_names_both_files(tmp_path):
    en = write(tmp_path / "ted_dev_en-zh.raw.en", "a\nb\nc\n")
    zh = write(tmp_path / "ted_dev_en-zh.raw.zh", "甲\n乙\n")
    with pytest.raises(SourceError) as error:
        read_bitext({"en": en, "zh": zh})
    assert str(error.value) == (f"{en} has 3 lines but {zh} has 2; line-aligned parallel files "
                                "must have one segment per line and the same number of lines")


def test_bitext_sgml_parts_read_the_seg_elements(tmp_path):
    src = write(tmp_path / "newstest2018-zhen-src.zh.sgm",
                '<srcset setid="newstest2018" srclang="any">\n<doc docid="d1">\n<p>\n'
                '<seg id="1">第一句。</seg>\n<seg id="2">第二句。</seg>\n</p>\n</doc>\n</srcset>\n')
    ref = write(tmp_path / "newstest2018-zhen-ref.en.sgm",
                '<refset setid="newstest2018">\n<doc docid="d1">\n'
                '<seg id="1">First.</seg>\n<seg id="2">Second.</seg>\n</doc>\n</refset>\n')
    rows = read_bitext({"zh": src, "en": ref}).frame.to_dicts()
    assert rows == [{KEY: "1", "zh": "第一句。", "en": "First."},
                    {KEY: "2", "zh": "第二句。", "en": "Second."}]


def test_bitext_hub_translation_rows():
    from datasets import Dataset

    dataset = Dataset.from_list([{"translation": {"en": " Hello. ", "zh": "你好。"}},
                                 {"translation": {"en": "Bye.", "zh": ""}}])
    result = bitext.from_hub(dataset, options={"columns": ["en", "zh"]}, label="spec.yaml")
    assert result.frame.to_dicts() == [{KEY: "0", "en": "Hello.", "zh": "你好。"},
                                       {KEY: "1", "en": "Bye.", "zh": ""}]


# --- douban -----------------------------------------------------------------------------------

def read_douban(path, **options):
    return douban.read([path], fmt="douban", encoding="utf-8", options=options, label="spec.yaml")


def test_douban_groups_a_session_into_one_row_per_positive(tmp_path):
    path = write(tmp_path / "test.txt", "\n".join([
        "1\t烟台 十一 哪 好玩\t养马岛 不错\t谢谢 ！",
        "0\t烟台 十一 哪 好玩\t养马岛 不错\t明天 加班",
        "0\t柯基 掉毛 吗\t周末 见",
        "1\t柯基 掉毛 吗\t掉 ， 要 勤 梳毛",
        "1\t柯基 掉毛 吗\t会 掉 的",
        "0\t柯基 掉毛 吗\t这 本书 一般",
    ]) + "\n")
    result = read_douban(path)
    rows = result.frame.to_dicts()
    assert [(r[KEY], r[GROUP], r["history"], r["response"], r["candidates"]) for r in rows] == [
        ("1", "test.txt:1", ["烟台 十一 哪 好玩", "养马岛 不错"], "谢谢 ！", ["谢谢 ！", "明天 加班"]),
        ("4", "test.txt:3", ["柯基 掉毛 吗"], "掉 ， 要 勤 梳毛",
         ["掉 ， 要 勤 梳毛", "周末 见", "这 本书 一般"]),
        ("5", "test.txt:3", ["柯基 掉毛 吗"], "会 掉 的", ["会 掉 的", "周末 见", "这 本书 一般"]),
    ]
    assert result.dropped == {}


def test_douban_counts_sessions_and_lines_it_cannot_use(tmp_path):
    path = write(tmp_path / "train.txt", "\n".join([
        "1\t你好\t你好 呀",
        "0\t你好\t天气 不错",
        "0\t没 人 回\t路过",                      # no positive in the session
        "1\t只有 正例\t好 的",                     # no negative in the session
        "1\t只有 一列",                           # too few columns
        "2\t标签 不对\t回复",                      # label not 0/1
        "1\t上文\t\t回复",                         # empty context turn
    ]) + "\n")
    result = read_douban(path)
    assert result.frame[KEY].to_list() == ["1"]
    assert result.dropped == {"no_positive_response": 1, "no_negative_response": 1,
                              "too_few_columns": 1, "invalid_label": 1, "empty_turn": 1}
    assert {(r["reason"], r["line"]) for r in result.rejects} == {
        ("too_few_columns", 5), ("invalid_label", 6), ("empty_turn", 7),
        ("no_positive_response", 3), ("no_negative_response", 4)}


def test_douban_file_of_another_shape_fails_on_its_first_line(tmp_path):
    path = write(tmp_path / "train.txt", '{"history": "你好", "response": "嗨"}\n')
    with pytest.raises(SourceError) as error:
        read_douban(path)
    assert str(error.value) == (f"{path}: line 1: 1 tab-separated cells; expected label TAB "
                                "utterance TAB ... TAB response, label 0 or 1, at least one context "
                                "utterance")


def test_douban_segmented_option_joins_digits_and_ascii_punctuation(tmp_path):
    path = write(tmp_path / "train.txt", "1\t预算 5000 以内 ?\t有 2 个 iPhone 12\n0\t预算 5000 以内 ?\t不 知道\n")
    row = read_douban(path, segmented=True).frame.to_dicts()[0]
    assert row["history"] == ["预算5000以内?"]
    assert row["response"] == "有2个 iPhone 12"                  # CJK-CJK spaces: join_cjk_spaces
    assert douban.tidy_segmented("我 有 2 个 孩子") == "我 有2个 孩子"


# --- kdconv -----------------------------------------------------------------------------------

def kdconv_file(tmp_path, document, domain="music", split="train"):
    return write(tmp_path / "data" / domain / f"{split}.json", json.dumps(document, ensure_ascii=False))


def test_kdconv_one_row_per_response_turn_with_its_knowledge(tmp_path):
    path = kdconv_file(tmp_path, [{"name": "十年", "messages": [
        {"message": "听过《十年》吗？"},
        {"message": "听过，林夕作词。", "attrs": [{"name": "十年", "attrname": "作词", "attrvalue": "林夕"}]},
        {"message": "还有粤语版？", "attrs": []},
        {"message": "对，叫《明年今日》。",
         "attrs": [{"attrname": "Information", "attrvalue": "粤语版为《明年今日》。", "name": "十年"}]},
    ]}])
    result = kdconv.read([path], fmt="kdconv", encoding="utf-8", options={}, label="spec.yaml")
    rows = result.frame.to_dicts()
    assert [(r[KEY], r[GROUP], r["domain"], r["topic"]) for r in rows] == [
        ("music/train:0:1", "music/train:0", "music", "十年")] + [
        (f"music/train:0:{t}", "music/train:0", "music", "十年") for t in (2, 3)]
    assert [r["history"] for r in rows] == [["听过《十年》吗？"], ["听过《十年》吗？", "听过，林夕作词。"],
                                            ["听过《十年》吗？", "听过，林夕作词。", "还有粤语版？"]]
    assert [r["knowledge"] for r in rows] == [["（十年，作词，林夕）"], [],
                                              ["（十年，简介，粤语版为《明年今日》。）"]]


def test_kdconv_wrong_shape_names_file_and_json_path(tmp_path):
    path = kdconv_file(tmp_path, [{"name": "故宫", "messages": [
        {"message": "门票多少？"},
        {"message": "60元。", "attrs": [{"name": "故宫", "attrname": "门票"}]},
    ]}], domain="travel")
    with pytest.raises(SourceError) as error:
        kdconv.read([path], fmt="kdconv", encoding="utf-8", options={}, label="spec.yaml")
    assert str(error.value) == (
        f'{path}: $[0].messages[1].attrs[0]: not an object with "name", "attrname" and "attrvalue" '
        f'strings; expected {kdconv.SHAPE}')


def test_kdconv_top_level_must_be_an_array(tmp_path):
    path = kdconv_file(tmp_path, {"name": "x", "messages": []}, domain="film")
    with pytest.raises(SourceError) as error:
        kdconv.read([path], fmt="kdconv", encoding="utf-8", options={}, label="spec.yaml")
    assert str(error.value) == f"{path}: $: the top level is not an array; expected {kdconv.SHAPE}"


def test_kdconv_hub_rows_with_parallel_lists():
    hub_row = {"name": "西湖", "domain": "travel", "messages": {
        "message": ["西湖在哪？", "在杭州。"],
        "attrs": [{"attrname": [], "attrvalue": [], "name": []},
                  {"attrname": ["地址"], "attrvalue": ["杭州市西湖区"], "name": ["西湖"]}]}}
    rows = kdconv.from_hub([hub_row], options={}, label="spec.yaml").frame.to_dicts()
    assert [(r[KEY], r["domain"], r["history"], r["response"], r["knowledge"]) for r in rows] == [
        ("travel/hub:0:1", "travel", ["西湖在哪？"], "在杭州。", ["（西湖，地址，杭州市西湖区）"])]


# --- persona_chat -----------------------------------------------------------------------------

def persona_file(tmp_path, *records):
    return write(tmp_path / "Persona_train.txt",
                 "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_persona(path, **options):
    return persona_chat.read([path], fmt="persona_chat", encoding="utf-8", options=options,
                             label="spec.yaml")


def test_persona_chat_rows_carry_the_repliers_persona(tmp_path):
    path = persona_file(tmp_path, {
        "p1_persona": ["我 有 2个 孩子"], "p2_persona": ["我 是 一名 陆军"],
        "conversation": ["p1 : 你好 ！", "p2 : 你好 ， 你 做 什么 的 ？", "p1 : 我 是 教练 。"]})
    rows = read_persona(path, segmented=True).frame.to_dicts()
    assert rows == [
        {KEY: "1:1", GROUP: "Persona_train.txt:1", "persona": ["我 是 一名 陆军"],
         "partner_persona": ["我 有2个 孩子"], "history": ["你好 ！"], "response": "你好 ， 你 做 什么 的 ？"},
        {KEY: "1:2", GROUP: "Persona_train.txt:1", "persona": ["我 有2个 孩子"],
         "partner_persona": ["我 是 一名 陆军"], "history": ["你好 ！", "你好 ， 你 做 什么 的 ？"],
         "response": "我 是 教练 。"},
    ]


@pytest.mark.parametrize(("record", "what"), [
    ({"p1_persona": ["a"], "conversation": ["p1 : x", "p2 : y"]},
     '"p2_persona" is missing or not a list of strings'),
    ({"p1_persona": ["a"], "p2_persona": ["b"], "conversation": ["p1 : x", "你好"]},
     "conversation[1] '你好' does not start with 'p1 :' or 'p2 :'"),
    ({"p1_persona": ["a"], "p2_persona": ["b"], "conversation": ["p1 : x", "p1 : y"]},
     "conversation[1] is a second turn in a row by p1"),
])
def test_persona_chat_other_shapes_fail_loudly(tmp_path, record, what):
    path = persona_file(tmp_path, record)
    with pytest.raises(SourceError) as error:
        read_persona(path)
    assert str(error.value) == f"{path}: line 1: {what}; expected {persona_chat.SHAPE}"


def test_persona_chat_line_that_is_not_json(tmp_path):
    path = write(tmp_path / "Persona_train.txt", "p1 : 你好\n")
    with pytest.raises(SourceError, match=r"Persona_train\.txt: line 1: not valid JSON"):
        read_persona(path)
