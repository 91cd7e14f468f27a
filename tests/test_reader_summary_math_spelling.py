"""Group B raw-format readers on their awkward cases, with the exact text of their errors: CSL
(full TSV and benchmark TSV), WikiLingua (parallel lists), NLPCC 2015 Weibo summarization (doc
blocks), AdvertiseGen (key#value content), Math23K (concatenated objects and JSON arrays) and the
ECSpell multi-domain spelling-check TSV."""

import gzip
import json
from fractions import Fraction

import pytest

from flanzh.errors import SourceError
from flanzh.read.readers import (GROUP, KEY, advertisegen, csl_papers, ecspell, math23k,
                                 nlpcc2015_weibo, wikilingua)


def write(path, text):
    path.write_text(text, "utf-8")
    return path


def read(module, fmt, *paths, options=None):
    return module.read(list(paths), fmt=fmt, encoding="utf-8", options=options or {}, label="x")


# --- CSL ------------------------------------------------------------------------------------

def test_csl_full_and_benchmark_layouts(tmp_path):
    full = write(tmp_path / "csl_camera_readly.tsv",
                 "题目一\t提出了一种方法.结果表明,电导率达到0.97 S/cm\t方法_ 模型 _\t计算机科学与技术\t工学\n"
                 "\n"
                 "题目二\t 摘要写有\"引号\"。\t\t法学\t法学\n")
    bench = write(tmp_path / "dev.tsv", "to title\t本文研究了某问题.\t某问题研究\n")
    rows = read(csl_papers, "csl_tsv", full, bench).frame.to_dicts()
    assert rows[0] == {KEY: "1", "title": "题目一",
                       "abstract": "提出了一种方法。结果表明,电导率达到0.97 S/cm",
                       "keywords": ["方法", "模型"], "discipline": "计算机科学与技术",
                       "category": "工学"}
    assert rows[1][KEY] == "3" and rows[1]["keywords"] == []
    assert rows[1]["abstract"] == "摘要写有\"引号\"。"          # no CSV quoting
    assert rows[2] == {KEY: "1", "title": "某问题研究", "abstract": "本文研究了某问题。",
                       "keywords": None, "discipline": None, "category": None}


def test_csl_sentence_periods_leave_decimals():
    assert csl_papers.sentence_periods("定标.该文(MRP).建立") == "定标。该文(MRP)。建立"
    assert csl_papers.sentence_periods("为1.5和2.5.通过,达0.97 S/cm.研究") == \
        "为1.5和2.5。通过,达0.97 S/cm。研究"
    assert csl_papers.sentence_periods("Eu2+,Dy3+共激活,Sr0.2Ga0.8") == "Eu2+,Dy3+共激活,Sr0.2Ga0.8"


def test_csl_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path / "csl_camera_readly.tsv", "题目\t摘要\t关键词_二\t工学\n")
    with pytest.raises(SourceError) as error:
        read(csl_papers, "csl_tsv", path)
    assert str(error.value) == (
        f"{path}: line 1: 4 tab-separated columns; expected tab-separated lines "
        "'title\\tabstract\\tkw1_kw2_...\\tdiscipline\\tcategory' (csl_camera_readly.tsv) or "
        "'to title\\tabstract\\ttitle' (benchmark/ts/*.tsv)")


def test_csl_benchmark_of_another_task_and_swapped_columns_fail(tmp_path):
    other = write(tmp_path / "dev.tsv", "to keywords\t摘要\t关键词_二\n")
    with pytest.raises(SourceError) as error:
        read(csl_papers, "csl_tsv", other)
    assert str(error.value).startswith(
        f"{other}: line 1: a 3-column benchmark line of task 'to keywords', not the "
        "title-prediction task 'to title'; expected ")
    swapped = write(tmp_path / "csl.tsv", "题目\t摘要\t关键词\t工学\t电气工程\n")
    with pytest.raises(SourceError) as error:
        read(csl_papers, "csl_tsv", swapped)
    assert str(error.value).startswith(
        f"{swapped}: line 1: column 4 holds the category '工学' and column 5 '电气工程' is not "
        "a category; are discipline and category swapped?; expected ")


def test_csl_from_hub_reads_the_neuclir_shape():
    rows = csl_papers.from_hub([{"doc_id": "csl-7", "title": "题目", "abstract": "研究了问题.",
                                 "keywords": ["甲", " "], "category": "工学",
                                 "category_eng": "Engineering", "discipline": "力学",
                                 "discipline_eng": "Mechanics"}], options={}, label="x")
    assert rows.frame.to_dicts() == [{KEY: "csl-7", "title": "题目", "abstract": "研究了问题。",
                                      "keywords": ["甲"], "discipline": "力学",
                                      "category": "工学"}]


# --- WikiLingua ---------------------------------------------------------------------------

def article(url, n, **override):
    lists = {"section_name": [f"第{i}节" for i in range(n)],
             "document": [f"第一步。第二步{i}。" for i in range(n)],
             "summary": ["做第一步。做第二步！" for _ in range(n)],
             "english_url": ["https://www.wikihow.com/X"] * n,
             "english_section_name": [f"Part {i}" for i in range(n)]}
    lists.update(override)
    return {"url": url, "article": lists}


def test_wikilingua_one_row_per_section_keyed_and_grouped_by_url(tmp_path):
    url = "https://zh.wikihow.com/%E5%81%9A%E8%9B%8B%E7%B3%95"
    path = write(tmp_path / "chinese.jsonl", json.dumps(article(url, 2), ensure_ascii=False) + "\n")
    result = read(wikilingua, "wikilingua", path)
    rows = result.frame.to_dicts()
    assert [r[KEY] for r in rows] == [f"{url}:0", f"{url}:1"]
    assert {r[GROUP] for r in rows} == {url}
    assert rows[1]["title"] == "做蛋糕" and rows[1]["section_name"] == "第1节"
    assert rows[1]["document"] == "第一步。第二步1。"
    assert rows[1]["summary_steps"] == ["做第一步。", "做第二步！"]
    assert rows[1]["english_section_name"] == "Part 1"
    assert result.dropped == {}


def test_wikilingua_reads_gzip_and_tolerates_missing_english_lists(tmp_path):
    record = article("https://zh.wikihow.com/Fold-a-Crane", 1)
    del record["article"]["english_url"], record["article"]["english_section_name"]
    path = tmp_path / "chinese.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(record, ensure_ascii=False) + "\n").encode()))
    rows = read(wikilingua, "wikilingua", path).frame.to_dicts()
    assert rows[0]["title"] == "Fold a Crane" and rows[0]["english_url"] is None


def test_wikilingua_counts_empty_articles_and_repeated_urls(tmp_path):
    lines = [article("https://zh.wikihow.com/a", 1), article("https://zh.wikihow.com/b", 0),
             article("https://zh.wikihow.com/a", 1)]
    path = write(tmp_path / "chinese.jsonl",
                 "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n")
    result = read(wikilingua, "wikilingua", path)
    assert result.frame.height == 1
    assert result.dropped == {"article_without_sections": 1, "duplicate_url": 1}
    assert [r["line"] for r in result.rejects] == [2, 3]


def test_wikilingua_lists_of_different_lengths_fail_loudly(tmp_path):
    bad = article("https://zh.wikihow.com/a", 2, summary=["只有一条。"])
    path = write(tmp_path / "chinese.jsonl", "\n" + json.dumps(bad, ensure_ascii=False) + "\n")
    with pytest.raises(SourceError) as error:
        read(wikilingua, "wikilingua", path)
    assert str(error.value) == (
        f"{path}: line 2: parallel lists of different lengths (section_name 2, document 2, "
        "summary 1, english_url 2, english_section_name 2); expected one JSON object per line "
        '{"url": str, "article": {"section_name": [str], "document": [str], "summary": [str], '
        '"english_url": [str], "english_section_name": [str]}} (parallel lists of equal length)')


def test_wikilingua_list_of_sections_is_not_the_expected_shape(tmp_path):
    record = {"url": "https://zh.wikihow.com/a", "article": [{"document": "x", "summary": "y"}]}
    path = write(tmp_path / "chinese.jsonl", json.dumps(record) + "\n")
    with pytest.raises(SourceError) as error:
        read(wikilingua, "wikilingua", path)
    assert str(error.value).startswith(
        f'{path}: line 1: "article" is a list, not an object of parallel lists; expected ')


def test_wikilingua_from_hub_names_the_row():
    bad = article("https://zh.wikihow.com/a", 2, document=["只有一条。"])
    with pytest.raises(SourceError) as error:
        wikilingua.from_hub([article("https://zh.wikihow.com/b", 1), bad], options={}, label="x")
    assert str(error.value).startswith("x hub: row 1: parallel lists of different lengths "
                                       "(section_name 2, document 1, summary 2,")


# --- NLPCC 2015 Weibo summarization ------------------------------------------------------

NLPCC = """<?xml version="1.0" encoding="utf-8"?>
<doc id="1">
<title>“科技&amp;艺术”展开幕</title>
第一段 & 说明。
第二段。
<summary>参考摘要一。</summary>
<summary>参考摘要二。</summary>
</doc>

<doc id="2">
没有标题的正文。
</doc>
<doc id="1">
<summary>重复的编号。</summary>
</doc>
"""


def test_nlpcc2015_blocks_titles_references_and_duplicates(tmp_path):
    path = write(tmp_path / "news.txt", NLPCC)
    result = read(nlpcc2015_weibo, "nlpcc2015_weibo", path)
    rows = result.frame.to_dicts()
    assert rows == [
        {KEY: "1", "title": "“科技&艺术”展开幕", "content": "第一段 & 说明。\n第二段。",
         "summary": "参考摘要一。", "summaries": ["参考摘要一。", "参考摘要二。"]},
        {KEY: "2", "title": None, "content": "没有标题的正文。", "summary": None,
         "summaries": []},
    ]
    assert result.dropped == {"duplicate_id": 1}
    assert result.rejects[0]["line"] == 13


@pytest.mark.parametrize("text, line, what", [
    ("正文在块外。\n", 1, "'正文在块外。' outside a <doc> block"),
    ('<doc id="3">\n正文。\n<summary>摘要。</summary>\n又一段正文。\n</doc>\n', 4,
     "body text after a <summary> in the <doc> block opened on line 1"),
    ('<doc id="3">\n<p>正文</p>\n</doc>\n', 2,
     "unexpected tag in the <doc> block opened on line 1: '<p>正文</p>'"),
    ('<doc id="3">\n正文。\n', 1, "<doc> block is not closed before the end of the file"),
    ("<doc>\n正文。\n</doc>\n", 1, "<doc> without an id attribute"),
])
def test_nlpcc2015_other_layouts_fail_with_file_and_line(tmp_path, text, line, what):
    path = write(tmp_path / "news.txt", text)
    with pytest.raises(SourceError) as error:
        read(nlpcc2015_weibo, "nlpcc2015_weibo", path)
    assert str(error.value) == f"{path}: line {line}: {what}; expected {nlpcc2015_weibo.SHAPE}"


# --- AdvertiseGen ---------------------------------------------------------------------------

def test_advertisegen_groups_repeated_keys_and_counts_malformed_pairs(tmp_path):
    lines = [{"content": "类型#上衣*风格#简约*版型#宽松*风格#休闲*风格#简约*图案#纯色",
              "summary": "文案一"},
             {"content": "类型#裙*显瘦*裙长#连衣裙", "summary": "文案二"},
             {"content": "裙长#连衣裙*材质#", "summary": "文案三"},
             {"content": "材质#雪纺#真丝", "summary": "文案四"}]
    path = write(tmp_path / "train.json",
                 "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n")
    result = read(advertisegen, "advertisegen", path)
    rows = result.frame.to_dicts()
    assert rows[0]["attributes"] == ["类型：上衣", "风格：简约、休闲", "版型：宽松", "图案：纯色"]
    assert rows[0]["attribute_text"] == "类型：上衣；风格：简约、休闲；版型：宽松；图案：纯色"
    assert rows[0]["category"] == "上衣" and rows[0][KEY] == "1"
    assert rows[1] == {KEY: "4", "content": "材质#雪纺#真丝", "attributes": ["材质：雪纺#真丝"],
                       "attribute_text": "材质：雪纺#真丝", "category": None, "summary": "文案四"}
    assert result.dropped == {"malformed_content": 2}
    assert result.rejects[0] == {"reason": "malformed_content", "file": str(path), "line": 2,
                                 "excerpt": "bad pair '显瘦' in 类型#裙*显瘦*裙长#连衣裙"}


def test_advertisegen_content_must_be_a_string(tmp_path):
    path = write(tmp_path / "train.json", '{"content": ["类型#裙"], "summary": "x"}\n')
    with pytest.raises(SourceError) as error:
        read(advertisegen, "advertisegen", path)
    assert str(error.value) == (f'{path}: line 1: "content" is missing or not a string; expected '
                                '{"content": "键#值*键#值*...", "summary": str} per line')


def test_advertisegen_from_hub_keys_rows_by_line_number():
    result = advertisegen.from_hub([{"content": "类型#裤*裤长#九分裤", "summary": "文案"},
                                    {"content": "类型#裤*九分", "summary": "文案"}],
                                   options={}, label="x")
    assert result.frame.to_dicts()[0][KEY] == "1" and result.dropped == {"malformed_content": 1}


# --- Math23K --------------------------------------------------------------------------------

def problem(pid, equation, ans, text="一共有多少个？"):
    return {"id": pid, "original_text": text, "segmented_text": " ".join(text),
            "equation": equation, "ans": ans}


def seven_lines(record):
    body = ",\n".join(f'    "{k}":{json.dumps(v, ensure_ascii=False)}' for k, v in record.items())
    return "{\n" + body + "\n}\n"


PROBLEMS = [problem("1", "x=1-(1/3)-(1/5)", "((7)/(15))"),
            problem("2", "x=(250-200)/200", "25%"),
            problem("3", "x=270/3千米/小时", "90"),
            problem("4", "x=2(1/3)/7", "(1/3)"),
            problem("5", "x=10/3", "3.33"),
            problem("6", "x=60*15", "960"),          # answer does not follow
            problem("7", "x+25=83", "58"),           # not x=...
            problem("1", "x=1+1", "2")]              # id seen before


def test_math23k_concatenated_objects_and_json_array_read_alike(tmp_path):
    concatenated = write(tmp_path / "Math_23K.json", "".join(seven_lines(p) for p in PROBLEMS))
    array = write(tmp_path / "testset.json", json.dumps(PROBLEMS, ensure_ascii=False, indent=4))
    first = read(math23k, "math23k", concatenated)
    second = read(math23k, "math23k", array)
    assert first.frame.equals(second.frame)
    rows = first.frame.to_dicts()
    assert [(r["id"], r["equation"], r["answer"]) for r in rows] == [
        ("1", "x=1-(1/3)-(1/5)", "7/15"), ("2", "x=(250-200)/200", "25%"),
        ("3", "x=270/3", "90"), ("4", "x=2(1/3)/7", "1/3"), ("5", "x=10/3", "3.33")]
    assert rows[3]["calculator"] == "(2+1÷3)÷7" and rows[3]["expression"] == "2(1/3)/7"
    assert first.dropped == {"answer_differs_from_equation": 1, "equation_not_x": 1,
                             "duplicate_id": 1}
    assert [(r["reason"], r["line"]) for r in first.rejects] == [
        ("answer_differs_from_equation", 36), ("equation_not_x", 43), ("duplicate_id", 50)]


def test_math23k_computes_fractions_percentages_and_written_precision():
    assert math23k.compute("480/(1-20%)*20%") == 120
    assert math23k.compute("2(1/3)+3.14*(6/2)^2") == Fraction(7, 3) + Fraction("28.26")
    assert math23k.answer_matches(Fraction(10, 3), "3.33")
    assert not math23k.answer_matches(Fraction(10, 3), "3.34")
    assert math23k.answer_matches(Fraction(1, 2), "50%")
    assert not math23k.answer_matches(Fraction(50, 12), "5")
    assert math23k.readable_answer(6.0) == "6" and math23k.readable_answer("2(1/3)") == "2又1/3"
    with pytest.raises(math23k.Unverifiable):
        math23k.compute("x*3")


def test_math23k_numeric_and_unverifiable_answers_are_kept(tmp_path):
    path = write(tmp_path / "testset.json", json.dumps([
        problem("1", "x=3*4", 12.0), problem("2", "x=sqrt(16)", "4")]))
    rows = read(math23k, "math23k", path).frame.to_dicts()
    assert [(r["answer"], r["expression"]) for r in rows] == [("12", "3*4"), ("4", "sqrt(16)")]


def test_math23k_from_hub_needs_the_raw_columns():
    rows = math23k.from_hub([problem("9", "x=2*3", "6")], options={}, label="x").frame.to_dicts()
    assert rows[0]["answer"] == "6"
    with pytest.raises(SourceError) as error:
        math23k.from_hub([{"question": "题", "answer": "6"}], options={}, label="x")
    assert str(error.value).startswith("x hub: row 0: not a Math23K problem (got question, "
                                       "answer); expected ")


@pytest.mark.parametrize("text, what", [
    ('{\n    "id":"1",\n    "original_text":"题",\n    "equation":"x=1"\n}\n',
     "line 1: not a Math23K problem (got id, original_text, equation)"),
    ('[\n  {"id": "1", "original_text": "题", "equation": "x=1", "ans": "1"}\n',
     "line 3: the JSON array is not closed with ']'"),
    ('{"id": "1", "original_text": "题",\n "equation": x=1, "ans": "1"}\n',
     "line 2: not valid JSON (Expecting value)"),
    ('[{"id": "1", "original_text": "题", "equation": "x=1", "ans": "1"}\n'
     ' {"id": "2", "original_text": "题", "equation": "x=2", "ans": "2"}]',
     "line 2: array elements not separated by ','"),
])
def test_math23k_bad_shapes_fail_with_file_and_line(tmp_path, text, what):
    path = write(tmp_path / "Math_23K.json", text)
    with pytest.raises(SourceError) as error:
        read(math23k, "math23k", path)
    assert str(error.value) == f"{path}: {what}; expected {math23k.SHAPE}"


# --- ECSpell multi-domain spelling check ----------------------------------------------------

def test_ecspell_pairs_corrections_and_domain_from_file_name(tmp_path):
    law = write(tmp_path / "law.train",
                "1\t这是程序正档原则的要求\t这是程序正当原则的要求\n"
                "0\t依据合同法，下列正确的是?\t依据合同法，下列正确的是?\n"
                "1\t由公安机关衣法送交监狱执形\t由公安机关依法送交监狱执行\n"
                "1\t以法律为依据\t以法律和行政法规为依据\n")
    result = read(ecspell, "ecspell", law)
    rows = result.frame.to_dicts()
    assert rows[0] == {KEY: "law:1", "source": "这是程序正档原则的要求",
                       "target": "这是程序正当原则的要求", "domain": "法律", "has_error": True,
                       "corrections": ["档→当"], "n_errors": 1}
    assert rows[1]["has_error"] is False and rows[1]["corrections"] == []
    assert rows[2]["corrections"] == ["衣→依", "形→行"] and rows[2]["n_errors"] == 2
    assert result.dropped == {"length_mismatch": 1}
    assert result.rejects[0]["line"] == 4


def test_ecspell_unknown_stem_takes_the_domain_option(tmp_path):
    path = write(tmp_path / "fin.train", "0\t资产负债表\t资产负债表\n")
    rows = read(ecspell, "ecspell", path, options={"domain": "金融"}).frame.to_dicts()
    assert rows[0]["domain"] == "金融" and rows[0][KEY] == "fin:1"


@pytest.mark.parametrize("line, what", [
    ("这是程序正档原则的要求\t这是程序正当原则的要求", "2 tab-separated columns"),
    ("一\t程序正档\t程序正当", "first column '一' is not an error count"),
])
def test_ecspell_bad_lines_fail_with_file_and_line(tmp_path, line, what):
    path = write(tmp_path / "med.test", "0\t甲\t甲\n" + line + "\n")
    with pytest.raises(SourceError) as error:
        read(ecspell, "ecspell", path)
    assert str(error.value) == (f"{path}: line 2: {what}; expected "
                                "'<error count>\\t<sentence>\\t<corrected sentence>' per line")
