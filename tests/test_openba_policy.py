"""Caps in the mixture policy, and the OpenBA policy (mixtures/openba.yaml): OpenBA's scale and
shares from one file, without editing specs (issue 16)."""

import json

import pytest
import yaml

from conftest import REPO
from flanzh.build.pipeline import build
from flanzh.build.report import stats_text
from flanzh.errors import SpecError
from flanzh.spec.mixture import Mixture, cap_for, load_mixture, quotas, target_shares
from flanzh.spec.specs import load_tasks

from test_corpus import policy, rows_of

OPENBA = REPO / "mixtures" / "openba.yaml"

# OpenBA's Figure 1(c) (arXiv 2309.10706), the slices whose label and value are legible.
FIGURE_1C = {
    "mt_wikititles_en_zh": 13.0, "mt_translation2019zh": 10.5, "mt_wmt19_en_zh": 6.2,
    "mt_multitarget_ted": 3.5, "dlg_douban": 10.5, "dlg_chinese_persona_chat": 7.5,
    "dlg_kdconv": 1.2, "nli_cmnli": 7.8, "nli_cinlid": 2.1, "nli_ocnli": 1.1, "sim_afqmc": 0.8,
    "cloze_chid": 11.2, "summ_csl_title": 7.9, "re_duie2": 3.4, "gen_advertisegen": 2.3,
    "cls_tnews": 1.3, "cls_nlpcc2014_news": 0.9, "qa_chinese_biomedical": 1.8,
    "senti_nlpcc14_sc": 1.2, "mrc_drcd": 0.7, "ner_msra": 0.9,
}
# Slices the figure shows without a legible label or value: the spec says so next to the share.
UNCLEAR = ("mrc_c3", "qg_dureader", "qg_tcm_literature", "summ_wikilingua_zh")


@pytest.fixture(scope="module")
def tasks():
    from conftest import PROJECT

    return load_tasks(PROJECT)


def mixture_with(**policy_changes) -> Mixture:
    base = load_mixture(REPO / "mixture.yaml")
    return Mixture({**base.policy, **policy_changes}, "test policy")


def test_cap_comes_from_task_then_category_then_default_then_spec(tasks):
    afqmc = next(t for t in tasks if t.id == "sim_afqmc")
    tnews = next(t for t in tasks if t.id == "cls_tnews")
    assert cap_for(mixture_with(), afqmc) == 30000                       # the spec's
    caps = {"default": 7, "categories": {"text_matching": 500}, "tasks": {"sim_afqmc": 9}}
    assert cap_for(mixture_with(caps=caps), afqmc) == 9
    assert cap_for(mixture_with(caps={**caps, "tasks": {}}), afqmc) == 500
    assert cap_for(mixture_with(caps=caps), tnews) == 7
    assert cap_for(mixture_with(caps={"default": None}), afqmc) is None   # lifted
    assert cap_for(mixture_with(caps={"default": None, "tasks": {"sim_afqmc": "spec"}}),
                   afqmc) == 30000


def test_policy_caps_replace_the_spec_caps_in_quotas(tasks):
    available = {t.id: 10_000_000 for t in tasks}
    capped = quotas(mixture_with(total=50_000_000), tasks, available)
    assert capped["cloze_chid"] == 200000                                # the spec's cap
    lifted = quotas(mixture_with(total=50_000_000, caps={"default": None}), tasks, available)
    assert lifted["cloze_chid"] > 3_000_000
    every_row = quotas(mixture_with(caps={"categories": {"cloze_test": 1000}}), tasks, available)
    assert every_row["cloze_chid"] == 1000 and every_row["cls_tnews"] == 60000


def test_a_policy_cap_below_the_rows_samples_and_counts_the_rest(mini_project, tmp_path):
    mixture = policy(tmp_path, formats={"weights": {"zs_opt": 1}}, caps={"tasks": {"sim_afqmc": 5}})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    entry = manifest["tasks"]["sim_afqmc"]
    # 30 sample rows, one of them contaminated (it repeats a dev question)
    assert entry["rows_written"] == 5 and entry["dropped"]["over_quota"] == 24


def test_a_policy_lifts_a_spec_cap(mini_project, tmp_path):
    spec_path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(spec_path.read_text("utf-8"))
    spec["mixture"]["cap"] = 4
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    zero_shot = {"weights": {"zs_opt": 1}}
    capped = build(mini_project, tmp_path / "a", mixture=policy(tmp_path, formats=zero_shot))
    assert capped["tasks"]["sim_afqmc"]["rows_written"] == 4
    lifted = build(mini_project, tmp_path / "b",
                   mixture=policy(tmp_path, formats=zero_shot, caps={"default": None}))
    assert lifted["tasks"]["sim_afqmc"]["rows_written"] == 29        # 30 less one contaminated
    assert rows_of(tmp_path / "b", lifted, "sim_afqmc")["source_key"].n_unique() == 29


@pytest.mark.parametrize("caps, message", [
    ({"default": 0}, "$.caps.default"),
    ({"default": "lots"}, "$.caps.default"),
    ({"categories": {"text_matchin": 5}}, "$.caps.categories"),
    ({"total": 5}, "$.caps"),
])
def test_bad_caps_are_refused_by_the_schema(tmp_path, caps, message):
    with pytest.raises(SpecError) as caught:
        policy(tmp_path, caps=caps)
    assert message in str(caught.value)


def test_a_cap_for_an_unknown_task_is_refused_with_the_close_match(mini_project, tmp_path):
    mixture = policy(tmp_path, caps={"tasks": {"sim_afqcm": 5}})
    with pytest.raises(SpecError) as caught:
        build(mini_project, tmp_path / "out", mixture=mixture)
    assert str(caught.value).endswith(
        "$.caps.tasks: no task 'sim_afqcm' in task_specs/; did you mean sim_afqmc?")


def test_specs_record_openba_figure_shares():
    for task_id, share in FIGURE_1C.items():
        spec = yaml.safe_load((REPO / "task_specs" / f"{task_id}.yaml").read_text("utf-8"))
        assert spec["mixture"]["openba_share"] == share, task_id
    for task_id in UNCLEAR:
        text = (REPO / "task_specs" / f"{task_id}.yaml").read_text("utf-8")
        before_share = text[:text.index("openba_share")]
        line = text[text.index("openba_share"):].splitlines()[0]
        assert "unclear" in "".join(before_share.splitlines()[-3:]) + line, task_id


def test_openba_policy_gives_openba_scale_and_shares(tasks):
    mixture = load_mixture(OPENBA)
    assert mixture.total == 50_000_000
    assert mixture.include_benchmarks                                   # as OpenBA did
    assert all(cap_for(mixture, t) is None for t in tasks)              # every spec cap lifted
    available = {t.id: 10_000_000 for t in tasks}
    shares = target_shares(mixture, tasks, available)
    named = {t.id: t.spec["mixture"]["openba_share"] for t in tasks
             if t.spec["mixture"].get("openba_share")}
    total_weight = sum(named.values()) + 0.0526 * (len(tasks) - len(named))
    for task_id, share in named.items():
        assert shares[task_id] == pytest.approx(share / total_weight)
    others = sum(s for tid, s in shares.items() if tid not in named)
    assert others == pytest.approx(0.01, abs=0.0005)                    # "Other datasets" 1.0%
    machine_translation = sum(shares[t.id] for t in tasks if t.category == "machine_translation")
    assert machine_translation == pytest.approx(0.333, abs=0.01)         # the figure's 33.3%
    planned = quotas(mixture, tasks, available)
    assert abs(sum(planned.values()) - 50_000_000) < len(tasks)


def test_stats_show_realised_shares_against_openba(mini_project, tmp_path):
    mixture = policy(tmp_path, total=40, formats={"weights": {"zs_opt": 1}})
    build(mini_project, tmp_path / "out", mixture=mixture)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    assert manifest["tasks"]["sim_afqmc"]["openba_share"] == 0.8
    text = stats_text(manifest)
    assert "| task | category | rows | target | realised | OpenBA |" in text
    assert "| sim_afqmc | text_matching | 40 | 100.0% | 100.0% | 0.8% |" in text
    assert "| text_matching | 1 | 40 | 100.0% | 100.0% | 0.8% |" in text


def test_readme_has_the_one_command_that_builds_openba():
    command = "flanzh build --mixture mixtures/openba.yaml --data-dir DATA --out openba"
    assert command in (REPO / "README.md").read_text("utf-8")
    assert command in OPENBA.read_text("utf-8")
