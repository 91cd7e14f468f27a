"""Corpus-level mechanisms on small data with known answers: formats, mixture, dedup,
decontamination (issue: the corpus as a whole)."""

import json

import polars as pl
import pytest
import yaml

from conftest import PROJECT, REPO
from flanzh.build.pipeline import build
from flanzh.errors import SpecError
from flanzh.render.formats import few_shot_prompt
from flanzh.spec.mixture import load_mixture


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def clone_task(project, new_id, rows, dev_rows=None):
    """Copy sim_afqmc under another id with the given train rows."""
    spec = yaml.safe_load((project.specs_dir / "sim_afqmc.yaml").read_text("utf-8"))
    spec["id"] = new_id
    (project.specs_dir / f"{new_id}.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    templates = yaml.safe_load((project.templates_dir / "sim_afqmc.yaml").read_text("utf-8"))
    templates["task"] = new_id
    (project.templates_dir / f"{new_id}.yaml").write_text(
        yaml.safe_dump(templates, allow_unicode=True), "utf-8")
    folder = project.samples_dir / new_id
    folder.mkdir(parents=True, exist_ok=True)
    write_rows(folder / "train.json", rows)
    write_rows(folder / "dev.json", dev_rows or [])


def policy(tmp_path, **changes):
    document = yaml.safe_load((REPO / "mixture.yaml").read_text("utf-8"))
    document["dedup"]["near"]["exempt"] = []    # names tasks a test project does not have
    document.update(changes)
    path = tmp_path / "mixture.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return load_mixture(path)


def rows_of(out, manifest, task_id):
    return pl.concat([pl.read_parquet(out / s) for s in manifest["tasks"][task_id]["shards"]])


LONG = "我想了解一下花呗分期付款之后如果提前把剩下的钱全部还清的话手续费会不会退还给我"


def test_planted_near_duplicate_across_tasks_is_removed_and_counted(mini_project, tmp_path):
    clone_task(mini_project, "sim_copy", [
        # punctuation, width and one extra character apart from a sim_afqmc row
        {"sentence1": "我想了解一下，花呗分期付款之后如果提前把剩下的钱全部还清的话，手续费会不会退还给我？",
         "sentence2": "花呗分期提前还款手续费退吗呀", "label": "1"},
        {"sentence1": "完全无关的另一个很长很长的问题：借呗的年化利率到底是怎么计算出来的",
         "sentence2": "借呗利率怎么算", "label": "1"}])
    write_rows(mini_project.samples_dir / "sim_afqmc" / "train.json",
               [{"sentence1": LONG, "sentence2": "花呗分期提前还款手续费退吗", "label": "1"}] +
               [{"sentence1": f"花呗第{i}个问题", "sentence2": f"借呗第{i}个问题", "label": "0"}
                for i in range(5)])
    mixture = policy(tmp_path, formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    assert manifest["tasks"]["sim_copy"]["dropped"] == {"near_duplicate": 1}
    assert manifest["tasks"]["sim_afqmc"]["dropped"] == {}
    kept = rows_of(tmp_path / "out", manifest, "sim_copy")
    assert kept["source_key"].to_list() == ["1"]


def test_planted_contaminated_row_is_removed_and_counted_per_eval_set(mini_project, tmp_path):
    dev = mini_project.samples_dir / "sim_afqmc" / "dev.json"
    write_rows(dev, [{"sentence1": "请问花呗分期付款以后能不能提前一次性全部还清剩余的欠款",
                      "sentence2": "x", "label": "1"}])
    train = mini_project.samples_dir / "sim_afqmc" / "train.json"
    rows = [json.loads(l) for l in train.read_text("utf-8").splitlines()]
    # Same 13+ characters, but full-width punctuation and spaces differ: still caught.
    rows[3]["sentence2"] = "花呗分期付款以后，能不能 提前一次性全部还清？"
    write_rows(train, rows)
    extra = tmp_path / "ceval_dev.jsonl"
    write_rows(extra, [{"question": "借呗额度为什么突然降低了，是不是因为我最近逾期了", "answer": "A"}])
    rows[7]["sentence1"] = "借呗额度为什么突然降低了？是不是因为我"
    write_rows(train, rows)
    mixture = policy(tmp_path, formats={"weights": {"zs_opt": 1}},
                     decontamination={"enabled": True, "ngram": 13, "extra": [str(extra)]})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    entry = manifest["tasks"]["sim_afqmc"]
    assert entry["dropped"] == {"contaminated:sim_afqmc/validation": 1,
                                "contaminated:extra/ceval_dev.jsonl": 1}
    assert manifest["decontamination"]["eval_sets"] == {"extra/ceval_dev.jsonl": 1,
                                                        "sim_afqmc/validation": 1}
    keys = rows_of(tmp_path / "out", manifest, "sim_afqmc")["source_key"].to_list()
    assert "3" not in keys and "7" not in keys and len(keys) == 28


def test_task_below_quota_is_repeated_with_distinct_templates(mini_project, tmp_path):
    mixture = policy(tmp_path, total=70, max_repeat=3, weights="examples",
                     dedup={"exact": True, "near": {"enabled": False}},
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    entry = manifest["tasks"]["sim_afqmc"]
    # 29 of the sample's 30 rows: one repeats a dev question (contaminated)
    assert entry["quota"] == 70 and entry["rows_written"] == 70
    assert entry["rows_repeated"] == 41
    frame = rows_of(tmp_path / "out", manifest, "sim_afqmc")
    per_row = frame.group_by("source_key").agg(pl.col("template_id"), pl.len())
    assert per_row["len"].max() == 3
    for templates in per_row["template_id"].to_list():
        assert len(set(templates)) == len(templates)         # never the same template twice
    assert frame.select("inputs", "targets").n_unique() == 70  # no byte-identical records


def test_repeats_stop_at_max_repeat(mini_project, tmp_path):
    mixture = policy(tmp_path, total=1000, max_repeat=2, weights="examples",
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    entry = build(mini_project, tmp_path / "out", mixture=mixture)["tasks"]["sim_afqmc"]
    assert entry["rows_written"] == 58 and entry["quota"] == 58     # 29 clean rows, twice each


def test_task_above_quota_is_sampled_deterministically(mini_project, tmp_path):
    clone_task(mini_project, "sim_small", [
        {"sentence1": f"借呗问题{i}号怎么处理", "sentence2": f"花呗问题{i}号", "label": "0"} for i in range(10)])
    mixture = policy(tmp_path, total=20, max_repeat=1,
                     weights={"tasks": {"sim_afqmc": 3, "sim_small": 1}},
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    first = build(mini_project, tmp_path / "a", mixture=mixture)
    second = build(mini_project, tmp_path / "b", mixture=mixture)
    a = first["tasks"]["sim_afqmc"]
    assert a["quota"] == 15 and a["rows_written"] == 15
    assert a["dropped"] == {"over_quota": 14, "contaminated:sim_afqmc/validation": 1}
    assert first["tasks"]["sim_small"]["rows_written"] == 5
    keys = rows_of(tmp_path / "a", first, "sim_afqmc")["source_key"]
    assert keys.n_unique() == 15                              # without replacement
    assert keys.to_list() == rows_of(tmp_path / "b", second, "sim_afqmc")["source_key"].to_list()
    # realised shares match the targets within one row's worth
    for task_id, target in (("sim_afqmc", 0.75), ("sim_small", 0.25)):
        assert first["tasks"][task_id]["target_share"] == target
        assert abs(first["tasks"][task_id]["realised_share"] - target) <= 1 / 20


def test_few_shot_exemplars_come_from_a_disjoint_pool(mini_project, tmp_path):
    mixture = policy(tmp_path, formats={"weights": {"fs_opt": 1, "fs_noopt": 1}, "max_exemplars": 2,
                                        "exemplar_pool": 0.3})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    entry = manifest["tasks"]["sim_afqmc"]
    frame = rows_of(tmp_path / "out", manifest, "sim_afqmc")
    pool = entry["dropped"]["held_for_exemplars"]
    assert pool >= 1 and frame.height == 30 - 1 - pool      # one train row is contaminated
    assert set(frame["format"]) <= {"fs_opt", "fs_noopt"} and frame["exemplars"].min() >= 1
    sample = [json.loads(l) for l in
              (mini_project.samples_dir / "sim_afqmc" / "train.json").read_text("utf-8").splitlines()]
    queries = set(frame["source_key"].to_list())
    for inputs, key in zip(frame["inputs"], frame["source_key"]):
        shown = {str(i) for i, r in enumerate(sample) if r["sentence1"] in inputs}
        assert key in shown and shown - {key}, inputs
        assert not (shown - {key}) & queries              # exemplars are never queries


def test_few_shot_respects_length_by_dropping_whole_exemplars():
    shots = [("问一" * 10, "答一"), ("问二" * 10, "答二")]
    prompt, kept = few_shot_prompt(shots, "最后的问题", max_chars=50)
    assert kept == 1 and prompt == "问一" * 10 + "\n答一\n\n最后的问题"
    prompt, kept = few_shot_prompt(shots, "最后的问题" * 20, max_chars=50)
    assert kept == 0 and prompt == "最后的问题" * 20


def test_exact_duplicates_are_removed_across_tasks(mini_project, tmp_path):
    rows = [json.loads(l) for l in (mini_project.samples_dir / "sim_afqmc" / "train.json")
            .read_text("utf-8").splitlines()]
    extra = [{"sentence1": "借呗可以提前还吗", "sentence2": "花呗怎么开通", "label": "0"},
             {"sentence1": "花呗的额度怎么查", "sentence2": "怎么看花呗还剩多少额度", "label": "1"}]
    clone_task(mini_project, "sim_twin", rows + extra)
    # both tasks keep one template without options, so the twin renders every row byte for byte
    # as sim_afqmc does (with all templates, duplicates would depend on the hashes' draws)
    for task_id in ("sim_afqmc", "sim_twin"):
        path = mini_project.templates_dir / f"{task_id}.yaml"
        document = yaml.safe_load(path.read_text("utf-8"))
        document["templates"] = [t for t in document["templates"] if t["id"] == "sim_afqmc_02"]
        path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    mixture = policy(tmp_path, dedup={"exact": True, "near": {"enabled": False}},
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    manifest = build(mini_project, tmp_path / "out", mixture=mixture)
    twin = manifest["tasks"]["sim_twin"]
    # sim_afqmc's last row repeats a sim_afqmc dev question: contaminated in both tasks
    assert twin["dropped"] == {"duplicate": 29, "contaminated:sim_afqmc/validation": 1}
    assert twin["rows_written"] == 2
    both = pl.concat([rows_of(tmp_path / "out", manifest, t) for t in ("sim_afqmc", "sim_twin")])
    assert both.select("inputs", "targets").n_unique() == both.height


def test_build_with_the_repo_mixture_is_deterministic(tmp_path):
    mixture = load_mixture(REPO / "mixture.yaml")
    a = build(PROJECT, tmp_path / "a", mixture=mixture)
    b = build(PROJECT, tmp_path / "b", mixture=mixture)
    assert a == b
    for shard in (tmp_path / "a").rglob("*.parquet"):
        assert shard.read_bytes() == (tmp_path / "b" / shard.relative_to(tmp_path / "a")).read_bytes()
    for entry in a["tasks"].values():
        assert entry["rows_read"] + entry["rows_repeated"] == \
            entry["rows_written"] + sum(entry["dropped"].values())


def test_mixture_schema_errors_are_all_reported(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("total: -5\ntemperature: 0\nformats: {weights: {zs_maybe: 1}}\n", "utf-8")
    with pytest.raises(SpecError) as error:
        load_mixture(path, "mix.yaml")
    assert error.value.problems == [
        "mix.yaml: $.formats.weights: Additional properties are not allowed ('zs_maybe' was unexpected)",
        "mix.yaml: $.temperature: 0 is less than or equal to the minimum of 0",
        "mix.yaml: $.total: -5 is less than the minimum of 1",
    ]


def test_decontamination_removes_exactly_what_a_plain_set_lookup_removes():
    """The hashed, vectorised lookup against the straightforward one on random text with many
    real 13-gram overlaps (a 2-letter alphabet makes them common)."""
    import random

    from flanzh.corpus.decontaminate import EvalIndex
    from flanzh.read.textnorm import normalise_texts

    rng = random.Random(5)
    alphabet = "花呗"

    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 40)))

    eval_texts = [text() for _ in range(300)]
    corpus = [text() for _ in range(3000)] + [eval_texts[7][3:20] + "，另外的话"]
    index = EvalIndex(13)
    index.add("dev", eval_texts)
    grams = {t[i:i + 13] for t in normalise_texts(eval_texts) for i in range(len(t) - 12)}
    expected = [any(t[i:i + 13] in grams for i in range(len(t) - 12)) for t in normalise_texts(corpus)]
    got = [owner is not None for owner in index.matches(corpus)]
    assert got == expected
    assert 100 < sum(expected) < len(corpus) - 100        # both kinds are well represented
    assert got[-1]


def test_an_unlabelled_evaluation_split_still_decontaminates(mini_project, tmp_path):
    write_rows(mini_project.samples_dir / "sim_afqmc" / "dev.json",
               [{"sentence1": "我想问一下花呗分期付款后能否提前全部还清", "sentence2": "测试集没有标签"}])
    train = mini_project.samples_dir / "sim_afqmc" / "train.json"
    rows = [json.loads(l) for l in train.read_text("utf-8").splitlines()]
    rows[2]["sentence1"] = "花呗分期付款后能否提前全部还清呢"
    write_rows(train, rows)
    manifest = build(mini_project, tmp_path / "out", mixture=policy(tmp_path))
    assert manifest["tasks"]["sim_afqmc"]["dropped"]["contaminated:sim_afqmc/validation"] == 1
    assert manifest["decontamination"]["eval_sets"] == {"sim_afqmc/validation": 1}


def test_an_evaluation_only_task_builds_with_no_records(mini_project, tmp_path):
    spec_path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(spec_path.read_text("utf-8"))
    spec["splits"] = {"train": [], "eval": ["validation"]}
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    manifest = build(mini_project, tmp_path / "out", mixture=policy(tmp_path))
    entry = manifest["tasks"]["sim_afqmc"]
    assert (entry["rows_read"], entry["rows_written"]) == (0, 0)
    assert manifest["decontamination"]["eval_sets"] == {"sim_afqmc/validation": 5}
