"""Lint rules for records a fine-tuner would reject (flanzh/contrib/quality.py), each shown failing on the
template the corpus review quoted, and the length policy that drops instead of cutting."""

import shutil

import polars as pl
import pytest
import yaml

from conftest import REPO
from flanzh.contrib.lint import lint_task
from flanzh.project import Project
from flanzh.read.normalise import normalise
from flanzh.read.readers import KEY
from flanzh.spec.specs import load_task


@pytest.fixture
def copy_task(tmp_path):
    def copy(task_id: str) -> Project:
        for folder in ("task_specs", "templates"):
            (tmp_path / folder).mkdir(exist_ok=True)
            shutil.copy(REPO / folder / f"{task_id}.yaml", tmp_path / folder / f"{task_id}.yaml")
        shutil.copytree(REPO / "samples" / task_id, tmp_path / "samples" / task_id)
        return Project(tmp_path)
    return copy


def set_template(project: Project, task_id: str, template_id: str, **fields) -> None:
    path = project.templates_dir / f"{task_id}.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    template = next(t for t in document["templates"] if t["id"] == template_id)
    for key, value in fields.items():
        if value is None:
            template.pop(key, None)
        else:
            template[key] = value
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def messages(project: Project, task_id: str) -> list[str]:
    return [p.message for p in lint_task(project, task_id)]


def test_input_switching_on_the_gold_label_is_refused(copy_task):
    # wsc_cluewsc2020_08 as the review found it: the negative branch always answered 不正确
    project = copy_task("wsc_cluewsc2020")
    set_template(project, "wsc_cluewsc2020", "wsc_cluewsc2020_08",
                 input="{{ marked }}\n{% if label == '是' %}\n【】中的“{{ pronoun }}”指的是谁？\n"
                       "{% else %}\n有人说“{{ pronoun }}”指的是“{{ noun }}”，这种说法正确吗？\n{% endif %}\n",
                 target="{% if label == '是' %}{{ noun }}{% else %}不正确{% endif %}")
    assert messages(project, "wsc_cluewsc2020") == [
        "the input's wording switches on label, which the answer is made from, so the question "
        "gives the answer away; ask the same question of every row"]


def test_input_switching_on_entities_is_refused_but_a_shown_optional_field_is_not(copy_task):
    project = copy_task("ner_msra")
    set_template(project, "ner_msra", "ner_msra_10",
                 input="{% if entities %}\n“{{ entities[0].text }}”是人名、地名还是机构名？\n{{ text }}\n"
                       "{% else %}\n这句话中是否包含人名、地名或机构名？\n{{ text }}\n{% endif %}\n",
                 target="{{ entities[0].type if entities else '不包含' }}")
    assert "the input's wording switches on entities" in messages(project, "ner_msra")[0]
    # summ_nlpcc2015_weibo_05 tests whether the title is there and prints it: no secret
    assert messages(copy_task("summ_nlpcc2015_weibo"), "summ_nlpcc2015_weibo") == []


def test_inverted_template_may_take_the_label_but_not_give_a_fixed_verdict(copy_task):
    project = copy_task("kw_csl_keyword")
    set_template(project, "kw_csl_keyword", "kw_csl_keyword_04", inverted=True,
                 target_in_choices=None,
                 input="{% if label == '是' %}\n请为摘要提炼关键词。\n{{ abst }}\n{% else %}\n"
                       "关键词：{{ keyword | join('、') }}。\n{{ abst }}\n能直接使用吗？\n{% endif %}\n",
                 target="{% if label == '是' %}{{ keyword | join('、') }}{% else %}不能{% endif %}")
    assert "switches on label" in messages(project, "kw_csl_keyword")[0]
    # a pure inverted template (write a review of the given polarity) is fine: the repo has one
    assert messages(copy_task("cls_chnsenticorp_htl"), "cls_chnsenticorp_htl") == []


def test_asking_for_one_of_119_labels_without_options_is_refused(copy_task):
    project = copy_task("cls_iflytek")
    set_template(project, "cls_iflytek", "cls_iflytek_02", choices_in_prompt=None,
                 input="{{ sentence }}\n\n读完这段应用介绍，你认为它是哪一类App？只回答类别名。\n")
    assert messages(project, "cls_iflytek") == [
        "asks for one of 119 labels without showing them; a model cannot guess label strings "
        "from so large a set: show the options ({{ options | ... }} with choices_in_prompt: true) "
        "or ask something else"]


def test_a_canned_reason_is_refused(copy_task):
    # dlg_douban_07 as the review found it: the same sentence for every unfit reply
    project = copy_task("dlg_douban")
    set_template(project, "dlg_douban", "dlg_douban_07",
                 target="{% if options[0] == response %}合适，这句话顺着甲刚才说的往下接，是自然的回应。"
                        "{% else %}不合适，这句话和前面聊的内容对不上，像是别的对话里的。{% endif %}")
    [message] = messages(project, "dlg_douban")
    assert message.endswith("get the same target '不合适，这句话和前面聊的内容对不上，像是别的对话里的。': "
                            "a fixed sentence keyed on the answer trains empty justifications; "
                            "answer with the verdict alone, or take the explanation from the data")


def test_options_shown_under_a_no_options_flag_are_refused(copy_task):
    project = copy_task("sim_afqmc")
    set_template(project, "sim_afqmc", "sim_afqmc_01", choices_in_prompt=None)
    assert ("the input shows {{ options }} but choices_in_prompt is false, so its records would "
            "be tagged as having no options; set choices_in_prompt: true"
            ) in messages(project, "sim_afqmc")


def test_a_target_made_from_a_cut_field_is_refused(copy_task):
    project = copy_task("cls_iflytek")
    spec = project.specs_dir / "cls_iflytek.yaml"
    spec.write_text(spec.read_text("utf-8").replace(", on_cut: drop}", "}"), "utf-8")
    assert messages(project, "cls_iflytek") == [
        "the target renders sentence, which the length policy may cut: the record would teach a "
        "truncated text; make the target from a field that is kept whole, or set "
        "truncate.on_cut: drop on the field"]


def test_a_summary_task_that_cuts_its_document_is_refused(copy_task):
    project = copy_task("summ_wikilingua_zh")
    spec = project.specs_dir / "summ_wikilingua_zh.yaml"
    spec.write_text(spec.read_text("utf-8").replace(", on_cut: drop}", "}"), "utf-8")
    found = [str(p) for p in lint_task(project, "summ_wikilingua_zh")]
    assert any(p.startswith("task_specs/summ_wikilingua_zh.yaml:") and p.endswith(
        "$.fields.document.truncate: a summary describes the whole text, so cutting document "
        "leaves targets that say what the input lost; set on_cut: drop") for p in found), found


def test_the_last_turn_of_a_tail_kept_history_is_never_cut(copy_task):
    # dlg_chinese_persona_chat_13 answers with history[-1]; keep: tail never cuts that turn
    assert messages(copy_task("dlg_chinese_persona_chat"), "dlg_chinese_persona_chat") == []


def test_on_cut_drop_removes_the_row_and_counts_it(project):
    task = load_task(project, "summ_wikilingua_zh")
    limit = task.fields["document"].truncate["max_chars"]
    frame = pl.DataFrame({KEY: ["a", "b"], "document": ["短文。" * 3, "很长的一句话。" * limit],
                          "summary": ["摘要一。", "摘要二。"], "summary_steps": [["摘要一"], ["摘要二"]],
                          "section_name": [None, None], "title": ["题一", "题二"]},
                         schema_overrides={"section_name": pl.Utf8})
    out, dropped, truncated = normalise(task, frame, "train")
    assert out[KEY].to_list() == ["a"]
    assert dropped["too_long:document"] == 1
    assert not truncated.get("document")


def test_few_shot_exemplars_are_distinct_documents_other_than_the_query(project, tmp_path):
    """mrc_cmrc2018 asks several questions of one passage: the review found the same passage 2-3
    times in 11 of 12 few-shot prompts. Exemplars are now distinct documents, one row of each."""
    from flanzh.build.pipeline import build
    from flanzh.spec.specs import load_task as load

    path = tmp_path / "mixture.yaml"
    document = yaml.safe_load((REPO / "mixture.yaml").read_text("utf-8"))
    document["formats"] = {"weights": {"fs_opt": 1, "fs_noopt": 1}, "max_exemplars": 3,
                           "exemplar_pool": 0.5}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    from flanzh.spec.mixture import load_mixture
    manifest = build(project, tmp_path / "out", task_ids=["mrc_cmrc2018"],
                     mixture=load_mixture(path), use_cache=False)
    frame = pl.concat([pl.read_parquet(tmp_path / "out" / s)
                       for s in manifest["tasks"]["mrc_cmrc2018"]["shards"]])
    few = frame.filter(pl.col("exemplars") >= 2)
    assert few.height >= 3
    task = load(project, "mrc_cmrc2018")
    from flanzh.read.sources import SourceMode, read_split
    rows = read_split(project, task, "train", SourceMode()).frame
    contexts = [c for c in rows["context"].unique().to_list() if c]
    for inputs in few["inputs"]:
        counts = [inputs.count(c[:40]) for c in contexts]
        assert max(counts) == 1, inputs


def test_exemplar_draws_take_one_row_per_document():
    from flanzh.render.formats import ITEMS_SCHEMA, Plan, exemplar_rows
    from flanzh.read.readers import GROUP

    pool = pl.DataFrame({KEY: [str(i) for i in range(11)],
                         GROUP: ["a", "a", "a", "b", "b", "b", "c", "c", None, "d", "e"]})
    plan = Plan(pool, pool, pl.DataFrame(schema=ITEMS_SCHEMA), {}, 0)
    document = {i: g if g is not None else f"row{i}" for i, g in enumerate(pool[GROUP])}
    seen_rows = set()
    for base in range(2000):
        rows = exemplar_rows(plan, base * 7919, 0, 5)
        assert len({document[r] for r in rows}) == len(rows)
        seen_rows |= set(rows)
    assert seen_rows == set(range(11))      # every row of a document can be shown


def test_a_bitext_file_without_blank_lines_is_not_one_document(tmp_path):
    """WikiTitles: one title pair a line, no article breaks. As one group, the file formed no
    exemplar pool, so OpenBA's largest Chinese share got no few-shot records."""
    from flanzh.read.readers import GROUP, reader_for

    path = tmp_path / "titles.tsv"
    path.write_text("长城\tGreat Wall\n黄河\tYellow River\n泰山\tMount Tai\n", "utf-8")
    frame = reader_for("bitext").read([path], fmt="bitext", encoding="utf-8",
                                      options={"columns": ["zh", "en"]},
                                      label="t").frame
    assert frame[GROUP].n_unique() == 3


@pytest.mark.parametrize("raw, clean", [
    ("嗯,那个,我明天上午过去吧.", "嗯，那个，我明天上午过去吧。"),           # nli_ocnli as found
    ("价格3,000元,10:30出发,版本v1.2.", "价格3,000元，10:30出发，版本v1.2."),  # numbers, Latin kept
    ("Hello, world. 你好!", "Hello, world. 你好！"),
    ("界面简洁。,更新内容：修复错误", "界面简洁。更新内容：修复错误"),            # iflytek's 。,
])
def test_fullwidth_punct(raw, clean):
    from flanzh.read.transforms import fullwidth_punct
    assert fullwidth_punct(raw) == clean


def test_tw2sp_converts_taiwan_usage_and_corner_quotes():
    from flanzh.read.transforms import tw2sp
    assert tw2sp("牠的機車駕照在超商辦的，訊息說六十八公尺遠，「快走」") == \
        "它的摩托车驾照在便利店办的，消息说六十八米远，“快走”"
    assert tw2sp("三輛蒸汽機車") == "三辆蒸汽机车"          # a locomotive stays a locomotive


def test_drop_control_and_debris():
    from flanzh.read.transforms import drop_control, remove_debris
    assert drop_control("价格\t便宜\u200b实惠\x07") == "价格 便宜实惠"
    debris = [{"from": "原标题："}, "（图片来源：网络 侵删）", "点击查看更多>>"]
    assert remove_debris("原标题：平台暴雷\n投资者血本无归（图片来源：网络 侵删）\n点击查看更多>>",
                         debris) == "投资者血本无归\n"


def test_cleaning_is_counted_in_the_manifest(built):
    _, manifest = built
    tasks = manifest["tasks"]
    assert tasks["senti_bdci2019"]["cleaned"] == {"debris:content": 1}
    assert tasks["nli_ocnli"]["cleaned"]["fullwidth_punct:sentence1"] > 0
    assert "cleaned" in tasks["sim_afqmc"] and tasks["sim_afqmc"]["cleaned"] == {}


# ---------------------------------------------------------------- item 6: the options flag

def test_biomedical_templates_print_their_options_and_are_tagged_so(project):
    # every qa_chinese_biomedical template prints the row's own options (options_text, ...):
    # the review found all 13 tagged zs_noopt because the task has no `choices`
    from flanzh.render.formats import plan_task
    from flanzh.spec.mixture import FormatPolicy

    task = load_task(project, "qa_chinese_biomedical")
    assert task.option_fields == ("options_text", "options_inline", "option_list")
    assert [t.id for t in task.templates if not t.choices_in_prompt] == []
    frame = pl.DataFrame({KEY: [str(i) for i in range(40)]})
    policy = FormatPolicy(weights={"zs_opt": 1.0, "zs_noopt": 1.0, "fs_opt": 1.0, "fs_noopt": 1.0},
                          max_exemplars=3, exemplar_pool=0.2)
    formats = set(plan_task(task, frame, 0, policy, quota=None).items["format"])
    assert formats == {"zs_opt", "fs_opt"}


def test_options_flag_must_follow_the_rendering_both_ways(copy_task):
    project = copy_task("qa_chinese_biomedical")
    set_template(project, "qa_chinese_biomedical", "qa_chinese_biomedical_04",
                 choices_in_prompt=None)
    assert messages(project, "qa_chinese_biomedical") == [
        "the input shows the options (options_inline) but choices_in_prompt is false, so its "
        "records would be tagged as having no options; set choices_in_prompt: true"]
    # the other way: a template that prints one candidate, not the list
    project = copy_task("sim_afqmc")
    set_template(project, "sim_afqmc", "sim_afqmc_01",
                 input="{{ sentence1 }}\n{{ sentence2 }}\n这两句话的意思是“{{ options[0] }}”吗？\n")
    assert ("choices_in_prompt is true but the input never prints the whole option list (one "
            "candidate such as options[0] is not the list), so its records would be tagged as "
            "having options; print them or set choices_in_prompt: false"
            ) in messages(project, "sim_afqmc")


def test_option_fields_are_checked_against_the_spec(copy_task):
    from flanzh.errors import SpecError

    project = copy_task("qa_chinese_biomedical")
    spec = project.specs_dir / "qa_chinese_biomedical.yaml"
    text = spec.read_text("utf-8")
    spec.write_text(text.replace("option_fields: [options_text, options_inline, option_list]",
                                 "option_fields: [options_txt]"), "utf-8")
    with pytest.raises(SpecError) as error:
        load_task(project, "qa_chinese_biomedical")
    assert ("task_specs/qa_chinese_biomedical.yaml: $.option_fields[0]: 'options_txt' is not a "
            "declared field") in error.value.problems
    # without option_fields (as the task was), choices_in_prompt is refused
    spec.write_text(text.replace("option_fields: [options_text, options_inline, option_list]\n",
                                 ""), "utf-8")
    with pytest.raises(SpecError) as error:
        load_task(project, "qa_chinese_biomedical")
    assert ("templates/qa_chinese_biomedical.yaml: $.templates[0].choices_in_prompt: the task "
            "declares no choices and no option_fields") in error.value.problems


def test_choices_in_prompt_without_an_option_field_fails_to_compile(copy_task):
    from flanzh.errors import TemplateError
    from flanzh.render.templates import compile_templates

    project = copy_task("qa_chinese_biomedical")
    set_template(project, "qa_chinese_biomedical", "qa_chinese_biomedical_02",
                 input="问题：{{ question }}\n请直接写出正确答案的内容。\n")
    with pytest.raises(TemplateError) as error:
        compile_templates(load_task(project, "qa_chinese_biomedical"))
    assert str(error.value) == (
        "templates/qa_chinese_biomedical.yaml: template 'qa_chinese_biomedical_02': "
        "choices_in_prompt is true but the input never prints an option field (options_text, "
        "options_inline, option_list); print one or set choices_in_prompt: false")


def test_a_task_with_choices_and_option_fields_may_show_either(copy_task):
    from flanzh.render.templates import compile_templates

    project = copy_task("sim_afqmc")
    spec = project.specs_dir / "sim_afqmc.yaml"
    text = spec.read_text("utf-8").replace("fields:\n", "fields:\n  laid_out: {from: sentence2}\n", 1)
    spec.write_text(text + "option_fields: [laid_out]\n", "utf-8")
    task = load_task(project, "sim_afqmc")
    # no template prints laid_out; those with choices_in_prompt show {{ options }}, which is
    # showing the options as well
    assert len(compile_templates(task)) == len(task.templates)


# ---------------------------------------------------------------- item 9: one question reworded

def test_templates_that_all_want_the_same_answer_are_refused(copy_task):
    # the four math_math23k templates the review found, each answering with the bare equation
    project = copy_task("math_math23k")
    for template_id, ask in (("math_math23k_05", "设要求的量为 x，应该列出怎样的方程？"),
                             ("math_math23k_10", "方程："),
                             ("math_math23k_13", "请写出得到这个答案的方程。")):
        set_template(project, "math_math23k", template_id,
                     input="{{ problem }}\n" + ask + "\n", target="{{ equation }}")
    assert messages(project, "math_math23k") == [
        "4 templates (math_math23k_01, math_math23k_05, math_math23k_10, math_math23k_13) give "
        "the same target on every sample row: they ask for the same answer in the same form (at "
        "most 3); ask for something else the data holds, or in another form"]


def test_advertisegen_as_it_was_is_refused(copy_task):
    project = copy_task("gen_advertisegen")
    # three more templates reworded as the review found them: each wants the same copy
    for template_id, ask in (("gen_advertisegen_02", "商品信息：{{ attribute_text }}\n广告文案："),
                             ("gen_advertisegen_04", "电商文案生成\n输入（属性表）：{{ content }}"),
                             ("gen_advertisegen_06", "店主：帮我给这件新款写段广告词吧。\n"
                                                     "{{ attribute_text }}\n文案助手：")):
        set_template(project, "gen_advertisegen", template_id, input=ask + "\n",
                     target="{{ summary }}")
    found = messages(project, "gen_advertisegen")
    assert len(found) == 1 and found[0].startswith(
        "6 templates (gen_advertisegen_01, gen_advertisegen_02, gen_advertisegen_03, "
        "gen_advertisegen_04, gen_advertisegen_06, gen_advertisegen_10) give the same target")


def test_same_answer_rule_leaves_tasks_whose_answer_has_one_form(copy_task):
    # seven templates of a translation task give the same translation: that is the task
    from flanzh.contrib.quality import same_answer_findings

    project = copy_task("mt_wmt19_en_zh")
    task = load_task(project, "mt_wmt19_en_zh")
    rows = [{"a": 1}, {"a": 2}]
    assert same_answer_findings(task, rows, lambda template, row: ("问", "同一个答案")) == []
    math = load_task(copy_task("math_math23k"), "math_math23k")
    found = same_answer_findings(math, rows, lambda template, row: ("问", "同一个答案"))
    assert len(found) == 1 and found[0].message.startswith(f"{len(math.templates)} templates")


# ---------------------------------------------------------------- item 8: DuIE in targets

def _duie(tmp_path, rows):
    import json

    from flanzh.read.readers import reader_for

    path = tmp_path / "duie_train.json"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return reader_for("duie").read([path], fmt="duie", encoding="utf-8", options={},
                                   label="spec.yaml")


def _spo(subject, predicate, obj, subject_type="人物", object_type="人物"):
    return {"predicate": predicate, "subject": subject, "subject_type": subject_type,
            "object": {"@value": obj}, "object_type": {"@value": object_type}}


def test_duie_english_types_are_given_in_chinese(tmp_path):
    result = _duie(tmp_path, [{"text": "陈松岩，号松岩居士，生于1902年",
                               "spo_list": [_spo("陈松岩", "号", "松岩居士", object_type="Text")]}])
    assert result.frame["entities"].to_list()[0] == [
        {"text": "陈松岩", "type": "人物"}, {"text": "松岩居士", "type": "文本"}]
    assert "Text" not in str(result.frame.to_dicts())


def test_duie_self_triple_drops_its_row_counted(tmp_path):
    text = "《星河之下》是作家简宁创作的科幻小说，后被改编为同名电视剧"
    result = _duie(tmp_path, [
        {"text": text, "spo_list": [_spo("星河之下", "改编自", "星河之下", "影视作品", "作品"),
                                    _spo("星河之下", "作者", "简宁", "图书作品")]},
        {"text": text, "spo_list": [_spo("星河之下", "作者", "简宁", "图书作品")]}])
    assert result.frame[KEY].to_list() == ["2"]
    assert result.dropped == {"self_triple": 1}
    assert result.rejects[0]["line"] == 1


def test_duie_templates_never_nest_quotes_around_quoted_names(project):
    # DuIE names carry their own “” (香港电影金像奖“最佳女主角”): a template that quotes a name
    # or the sentence would print “香港电影金像奖“最佳女主角””
    import re

    from flanzh.render.templates import compile_templates, render_row

    task = load_task(project, "re_duie2")
    name = "香港电影金像奖“最佳女主角”"
    triple = {"subject": "林青", "subject_type": "娱乐人物", "predicate": "获奖", "object": name,
              "object_type": "奖项", "slots": "时间=1999"}
    row = {KEY: "1", "text": f"林青凭借“《海》”获得{name}", "triples": [triple],
           "triples_text": f"（林青，获奖，{name}，时间=1999）", "triples_json": "[]",
           "predicates": ["获奖"], "pair_subject": "林青", "pair_object": name,
           "pair_predicates": ["获奖"], "entities": [{"text": "林青", "type": "娱乐人物"},
                                                   {"text": name, "type": "奖项"}]}
    nested = re.compile(r"“[^”]*“")
    for template in compile_templates(task):
        inputs, targets = render_row(task, row, 0, template)
        fixed = inputs.replace(row["text"], "").replace(name, "")
        assert not nested.search(fixed), (template.spec.id, inputs)
        assert not re.search(r"“" + re.escape(row["text"]) + "”|“" + re.escape(name) + "”",
                             inputs), template.spec.id
