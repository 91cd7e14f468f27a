"""Group D readers on their awkward cases and error messages: the luge sentiment TSVs
(ChnSentiCorp, NLPCC14-SC), the CCF BDCI 2019 news CSVs joined by id, and the NLPCC 2014 news
categorization blocks."""

import csv

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import KEY, bdci2019, luge_senti_tsv, nlpcc2014_news


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def read_tsv(files, **kw):
    return luge_senti_tsv.read(files, fmt="luge_senti_tsv", encoding=kw.get("encoding", "utf-8"),
                               options={}, label="spec")


# ---- luge_senti_tsv ------------------------------------------------------------------------


def test_tsv_train_file_quotes_tabs_and_short_lines(tmp_path):
    path = write(tmp_path / "train.tsv",
                 "label\ttext_a\r\n"
                 '1\t"物有所值"，推荐\r\n'            # a leading quote is an ordinary character
                 "0\t散热差\t玩一会儿就烫\r\n"        # a tab inside the review stays in the text
                 "\r\n"
                 "只有文字没有标签\r\n"               # fewer fields than the header
                 " 1 \t还不错\n")
    result = read_tsv([path])
    assert result.frame.to_dicts() == [
        {KEY: "2", "label": "1", "text_a": '"物有所值"，推荐'},
        {KEY: "3", "label": "0", "text_a": "散热差\t玩一会儿就烫"},
        {KEY: "6", "label": "1", "text_a": "还不错"},
    ]
    assert result.dropped == {"missing_columns": 1}
    assert result.rejects == [{"reason": "missing_columns", "file": str(path), "line": 5,
                               "excerpt": "只有文字没有标签"}]


def test_tsv_dev_and_test_headers_key_by_qid(tmp_path):
    dev = write(tmp_path / "dev.tsv", "qid\tlabel\ttext_a\n0\t1\t好\n1\t0\t差\n1\t0\t重复的编号\n")
    result = read_tsv([dev])
    assert [(r[KEY], r["label"], r["text_a"]) for r in result.frame.to_dicts()] == [
        ("0", "1", "好"), ("1", "0", "差")]
    assert result.dropped == {"duplicate_key": 1}
    test = write(tmp_path / "test.tsv", "qid\ttext_a\n7\t没有标签的测试句\n")
    frame = read_tsv([test]).frame
    assert frame.columns == [KEY, "qid", "text_a"] and frame[KEY].to_list() == ["7"]


def test_tsv_several_files_prefix_line_keys(tmp_path):
    a = write(tmp_path / "a.tsv", "label\ttext_a\n1\t甲\n")
    b = write(tmp_path / "b.tsv", "label\ttext_a\n0\t乙\n")
    assert read_tsv([a, b]).frame[KEY].to_list() == ["a.tsv:2", "b.tsv:2"]


def test_tsv_unexpected_header_fails_with_shape(tmp_path):
    path = write(tmp_path / "train.tsv", "text\tlabel\n好\t1\n")
    with pytest.raises(SourceError) as error:
        read_tsv([path])
    assert str(error.value) == (
        f"{path}: line 1: header is 'text\\tlabel', without text_a as its last column; expected "
        "a tab-separated file whose first line is a header such as 'label<TAB>text_a' (train), "
        "'qid<TAB>label<TAB>text_a' (dev) or 'qid<TAB>text_a' (test), text_a last")


def test_tsv_unknown_column_and_mixed_headers_fail(tmp_path):
    path = write(tmp_path / "train.tsv", "label\tscore\ttext_a\n1\t5\t好\n")
    with pytest.raises(SourceError, match=r"line 1: header is 'label\\tscore\\ttext_a': "
                                          "unexpected or repeated columns; expected"):
        read_tsv([path])
    a = write(tmp_path / "a.tsv", "label\ttext_a\n1\t甲\n")
    b = write(tmp_path / "b.tsv", "qid\ttext_a\n3\t乙\n")
    with pytest.raises(SourceError) as error:
        read_tsv([a, b])
    assert str(error.value).startswith(
        f"{b}: line 1: header ['qid', 'text_a'] differs from the split's first file "
        "(['label', 'text_a']); expected")


def test_tsv_wrong_encoding_names_byte_and_fix(tmp_path):
    path = write(tmp_path / "train.tsv", "label\ttext_a\n1\t酒店很好\n", encoding="gb18030")
    with pytest.raises(SourceError) as error:
        read_tsv([path])
    assert str(error.value).startswith(f"{path}: byte 15: cannot decode as utf-8")
    assert str(error.value).endswith("try source.encoding: gb18030")
    frame = read_tsv([path], encoding="gb18030").frame
    assert frame["text_a"].to_list() == ["酒店很好"]


def test_tsv_from_hub_shapes_like_the_raw_file():
    from datasets import Dataset

    dataset = Dataset.from_dict({"text": ["很好", "很差", "测试"], "label": [1, 0, -1]})
    frame = luge_senti_tsv.from_hub(dataset, options={}, label="spec").frame
    assert frame.to_dicts() == [
        {KEY: "0", "text_a": "很好", "label": "1"},
        {KEY: "1", "text_a": "很差", "label": "0"},
        {KEY: "2", "text_a": "测试", "label": None},
    ]


# ---- bdci2019 ------------------------------------------------------------------------------


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def read_bdci(files):
    return bdci2019.read(files, fmt="bdci2019", encoding="utf-8", options={}, label="spec")


def test_bdci_joins_news_and_labels_and_counts_the_odd_ones(tmp_path):
    data = write_csv(tmp_path / "Train_DataSet.csv", [
        ["id", "title", "content"],
        ["a1", "地铁开通", "今天上午，地铁三号线开通。\n市民出行更方便了。"],   # two lines
        ["b2", "", '"暴雨"致多处积水'],
        ["c3", "无标签的新闻", "正文"],
        ["a1", "重复", "重复的编号"],
        ["d4", "标签冲突", "正文"],
        ["e5", "只有两列"],
    ])
    labels = write_csv(tmp_path / "Train_DataSet_Label.csv", [
        ["id", "label"], ["a1", "0"], ["b2", "2"], ["b2", "2"], ["d4", "1"], ["d4", "2"],
        ["z9", "1"], ["e5", "1"]])
    result = read_bdci({"data": data, "labels": labels})
    assert result.frame.to_dicts() == [
        {KEY: "a1", "title": "地铁开通", "content": "今天上午，地铁三号线开通。\n市民出行更方便了。",
         "label": "0"},
        {KEY: "b2", "title": "", "content": '"暴雨"致多处积水', "label": "2"},
    ]
    assert result.dropped == {"unlabeled": 1, "duplicate_id": 1, "conflicting_labels": 1,
                              "malformed_row": 1, "label_without_text": 1}
    where = {r["reason"]: (r["file"], r["line"]) for r in result.rejects}
    assert where["unlabeled"] == (str(data), 5)              # a1 spans lines 2-3
    assert where["malformed_row"] == (str(data), 8)
    assert where["label_without_text"] == (str(labels), 7)


def test_bdci_unlabelled_split_keeps_rows_with_null_label(tmp_path):
    data = write_csv(tmp_path / "Test_DataSet.csv", [["id", "title", "content"], ["t1", "标题", "正文"]])
    frame = read_bdci({"data": data}).frame
    assert frame.to_dicts() == [{KEY: "t1", "title": "标题", "content": "正文", "label": None}]


def test_bdci_wrong_header_and_wrong_parts_fail(tmp_path):
    data = write_csv(tmp_path / "Train_DataSet.csv", [["id", "text"], ["a", "b"]])
    with pytest.raises(SourceError) as error:
        read_bdci({"data": data})
    assert str(error.value) == (
        f"{data}: line 1: header is 'id,text', not id,title,content; expected named parts data "
        "(CSV with header id,title,content) and labels (CSV with header id,label), joined by id")
    with pytest.raises(SourceError) as error:
        read_bdci([data])
    assert str(error.value) == (
        "spec: format 'bdci2019' takes named parts 'data' and optionally 'labels' (e.g. "
        "{data: Train_DataSet.csv, labels: Train_DataSet_Label.csv}); got a file list")


# ---- nlpcc2014_news ------------------------------------------------------------------------


def read_news(files, encoding="utf-8"):
    return nlpcc2014_news.read(files, fmt="nlpcc2014_news", encoding=encoding, options={},
                               label="spec")


NEWS = """<?xml version="1.0" encoding="utf-8"?>
<doc id="1" category="体育">
<title>主队逆转取胜</title>
昨晚主队以三比一取胜。

主教练赛后表示满意。
</doc>
<doc category="经济" id="2">
A&B公司与R&amp;D中心签约。
</doc>

<doc id="3">
没有类别的测试新闻。
</doc>
<doc id="1" category="体育">
重复的编号。
</doc>
"""


def test_news_blocks_titles_entities_and_duplicates(tmp_path):
    path = write(tmp_path / "train.txt", NEWS)
    result = read_news([path])
    assert result.frame.to_dicts() == [
        {KEY: "1", "title": "主队逆转取胜", "content": "昨晚主队以三比一取胜。\n主教练赛后表示满意。",
         "category": "体育"},
        {KEY: "2", "title": None, "content": "A&B公司与R&D中心签约。", "category": "经济"},
        {KEY: "3", "title": None, "content": "没有类别的测试新闻。", "category": None},
    ]
    assert result.dropped == {"duplicate_id": 1}
    assert (result.rejects[0]["line"], result.rejects[0]["file"]) == (15, str(path))


def test_news_gb18030_file(tmp_path):
    path = write(tmp_path / "train.txt", '<doc id="9" category="教育">\n新学期开学。\n</doc>\n',
                 encoding="gb18030")
    assert read_news([path], encoding="gb18030").frame["content"].to_list() == ["新学期开学。"]


SHAPE = ('expected blocks <doc id="N" category="类别"> / optional <title>…</title> / body lines / '
         '</doc>, tags on lines of their own, no root element')


@pytest.mark.parametrize("text, message", [
    ("正文在块外面\n", "line 1: '正文在块外面' outside a <doc> block"),
    ('<doc id="1" category="体育">\n正文\n', "line 1: <doc> block is not closed before the end "
                                           "of the file"),
    ('<doc id="1">\n<doc id="2">\n</doc>\n', "line 2: unexpected tag in the <doc> block opened on "
                                            "line 1: '<doc id=\"2\">'"),
    ('<doc category="体育">\n正文\n</doc>\n', "line 1: <doc> without an id attribute"),
    ("<docs>\n<doc id=\"1\">\n正文\n</doc>\n</docs>\n", "line 1: '<docs>' outside a <doc> block"),
])
def test_news_other_layouts_fail_with_file_line_and_shape(tmp_path, text, message):
    path = write(tmp_path / "train.txt", text)
    with pytest.raises(SourceError) as error:
        read_news([path])
    assert str(error.value) == f"{path}: {message}; {SHAPE}"
