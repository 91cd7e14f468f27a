"""The dataset card: generated from the manifest, and nothing but the manifest; merging into a
card on the hub keeps what people wrote there."""

import re
import shutil

import pytest
import yaml

from conftest import REPO
from flanzh.build.card import (BEGIN, END, build_command, merge_card, render_card, size_category,
                               split_card)
from flanzh.build.pipeline import build
from flanzh.project import Project
from flanzh.spec.licences import commercial_use, hf_license
from flanzh.spec.mixture import load_mixture

TASKS = ("sim_afqmc", "cls_tnews")


@pytest.fixture
def two_task_build(tmp_path):
    """sim_afqmc and cls_tnews with the repo's mixture policy (decontamination and near-dedup on),
    one validation row planted in sim_afqmc's train file, sim_afqmc in three shards."""
    root = tmp_path / "project"
    for task in TASKS:
        for folder in ("task_specs", "templates"):
            (root / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / folder / f"{task}.yaml", root / folder / f"{task}.yaml")
        shutil.copytree(REPO / "samples" / task, root / "samples" / task)
    policy = yaml.safe_load((REPO / "mixture.yaml").read_text("utf-8"))
    policy["dedup"]["near"]["exempt"] = []      # names tasks this project does not have
    (root / "mixture.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), "utf-8")
    train, dev = root / "samples/sim_afqmc/train.json", root / "samples/sim_afqmc/dev.json"
    train.write_text(train.read_text("utf-8") + dev.read_text("utf-8").splitlines()[0] + "\n",
                     "utf-8")
    out = tmp_path / "out"
    manifest = build(Project(root), out, shard_rows=10,
                     mixture=load_mixture(root / "mixture.yaml", "mixture.yaml"))
    return out, manifest


def table(body: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with ``header``."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_card_reflects_the_manifest(two_task_build):
    out, manifest = two_task_build
    text = (out / "README.md").read_text("utf-8")
    assert text == render_card(manifest)
    meta, body = split_card(text)
    tasks = manifest["tasks"]
    # the planted row, and the sample's train row that repeats a dev question whole
    assert manifest["tasks"]["sim_afqmc"]["dropped"]["contaminated:sim_afqmc/validation"] == 2
    assert len(tasks["sim_afqmc"]["shards"]) == 3

    # YAML header
    assert meta["language"] == ["zh"]
    assert meta["license"] == sorted({hf_license(t["license"]) for t in tasks.values()}) == ["unknown"]
    assert meta["size_categories"] == [size_category(manifest["totals"]["rows_written"])] == ["n<1K"]
    assert meta["task_categories"] == ["text-classification", "text-generation"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert list(configs) == ["all", *sorted(tasks)]
    assert configs["all"]["default"] is True
    assert configs["all"]["data_files"] == [
        {"split": "train", "path": [s for t in sorted(tasks) for s in tasks[t]["shards"]]}]
    for task_id, entry in tasks.items():
        assert configs[task_id]["data_files"] == [{"split": "train", "path": entry["shards"]}]

    # body: everything between the markers
    assert body.count(BEGIN) == 1 and body.count(END) == 1
    assert body.strip().startswith(BEGIN) and body.strip().endswith(END)
    assert f"- flanzh {manifest['flanzh_version']}, seed {manifest['seed']}" in body
    assert build_command(manifest) == ("flanzh build --out out --mixture mixture.yaml --seed "
                                       "20230918 --tasks cls_tnews,sim_afqmc")
    assert f"```bash\n{build_command(manifest)}\n```" in body
    totals = manifest["totals"]
    assert (f"- rows read {totals['rows_read']}, repeated {totals['rows_repeated']}, written "
            f"{totals['rows_written']}, dropped {totals['rows_dropped']}") in body

    rows = table(body, "| task | name | category |")
    assert [r[0] for r in rows] == sorted(tasks)
    for task_id, name, category, source, license_, written, templates in rows:
        t = tasks[task_id]
        assert (name, category, source, license_) == (t["name_zh"], t["category"], t["source"],
                                                       t["license"])
        assert int(written) == t["rows_written"]
        assert templates == f"{t['templates_used']}/{t['templates']}"

    plots = [path for path in manifest["report"] if path.endswith(".svg")]
    assert plots == ["report/mixture.svg", "report/lengths.svg"]
    for path in plots:
        assert f"]({path})" in body
    categories = table(body, "| category | tasks | rows | share |")
    assert sum(int(r[2]) for r in categories) == totals["rows_written"]

    drops = {}
    for t in tasks.values():
        for reason, n in t["dropped"].items():
            drops[reason] = drops.get(reason, 0) + n
    assert {r[0]: int(r[1]) for r in table(body, "| reason | rows |")} == drops
    assert sum(drops.values()) == totals["rows_dropped"]
    assert "were removed: 3 rows" in body     # 2 of sim_afqmc (above), 1 of cls_tnews's sample
    evalsets = {r[0]: (int(r[1]), int(r[2])) for r in table(body, "| evaluation set |")}
    assert evalsets == {name: (size, drops.get(f"contaminated:{name}", 0))
                        for name, size in manifest["decontamination"]["eval_sets"].items()}
    for task_id, read, repeated, written, con, near, dup, other in table(body, "| task | read |"):
        t = tasks[task_id]
        assert [int(read), int(repeated), int(written)] == [t["rows_read"], t["rows_repeated"],
                                                           t["rows_written"]]
        assert int(con) + int(near) + int(dup) + int(other) == sum(t["dropped"].values())
        assert int(near) == t["dropped"].get("near_duplicate", 0)
        assert int(dup) == t["dropped"].get("duplicate", 0)

    sources = {r[0]: r for r in table(body, "| source | tasks | license |")}
    assert set(sources) == {t["source"] for t in tasks.values()}
    for t in tasks.values():
        assert t["citation"].strip() in body                    # every source is cited
        assert sources[t["source"]][3] == hf_license(t["license"])


def test_every_config_loads_with_datasets_and_matches_the_manifest(two_task_build):
    from datasets import load_dataset

    out, manifest = two_task_build
    meta, _ = split_card((out / "README.md").read_text("utf-8"))
    for config in meta["configs"]:
        name = config["config_name"]
        rows = load_dataset(str(out), name, split="train").num_rows
        expected = (manifest["totals"]["rows_written"] if name == "all"
                    else manifest["tasks"][name]["rows_written"])
        assert rows == expected, name
    assert load_dataset(str(out), split="train").num_rows == manifest["totals"]["rows_written"]


def test_a_stale_shard_in_the_folder_is_not_loaded(two_task_build):
    """The configs list the manifest's shards, not a glob: a shard left by an earlier build
    (locally or on the hub) does not leak into the data."""
    from datasets import load_dataset

    out, manifest = two_task_build
    shard = out / manifest["tasks"]["cls_tnews"]["shards"][0]
    shutil.copy(shard, shard.parent / "train-00000-of-00009.parquet")
    assert load_dataset(str(out), "cls_tnews", split="train").num_rows == \
        manifest["tasks"]["cls_tnews"]["rows_written"]


@pytest.mark.parametrize("text, expected", [
    ("MIT (repository); web-crawled text", "mit"),
    ("Apache-2.0 (OpenDataLab card; n/v upstream)", "apache-2.0"),
    ("Apache License 2.0", "apache-2.0"),
    ("CC BY-SA 4.0 (per the CMRC 2018 site; HF card says unknown)", "cc-by-sa-4.0"),
    ("CC-BY-4.0", "cc-by-4.0"),
    ("cc by 3.0", "cc-by-3.0"),
    ("CC BY-NC 4.0", "cc-by-nc-4.0"),
    ("unknown (CLUE; no licence stated)", "unknown"),
    ("", "unknown"),
    ("research use only, by agreement", "other"),
    ("GPL-3.0", "gpl-3.0"),
    ("CC BY-NC 2.0 (OCNLI README; news premises from LCMC)", "cc-by-nc-2.0"),
    ("CC BY-NC-SA 3.0 (wikiHow content)", "cc-by-nc-sa-3.0"),
    ("CC BY-NC-ND 4.0", "cc-by-nc-nd-4.0"),
    ("CC BY 2.0", "cc-by-2.0"),
    ("BSD-3-Clause", "bsd-3-clause"),
    ("CC BY-NC-ND (TED talks, no version named)", "other"),
    ("千言 dataset terms (luge.ai; n/v)", "other"),
    ("n/v (NLPCC evaluation data)", "unknown"),
])
def test_licences_map_to_hub_ids_where_clear(text, expected):
    assert hf_license(text) == expected


def small_manifest(seed=1):
    return {
        "flanzh_version": "0.1.0", "seed": seed, "source_mode": "bundled samples",
        "mixture": {"file": None, "policy": {}}, "decontamination": {"enabled": False},
        "versions": {}, "report": [],
        "totals": {"tasks": 1, "rows_read": 3, "rows_repeated": 0, "rows_written": 2,
                   "rows_dropped": 1},
        "tasks": {"sim_x": {"category": "text_matching", "name_zh": "相似", "source": "X",
                            "license": "MIT", "citation": "@misc{x, title={X}}",
                            "rows_read": 3, "rows_repeated": 0, "rows_written": 2,
                            "dropped": {"duplicate": 1}, "templates": 2, "templates_used": 2,
                            "shards": ["data/sim_x/train-00000-of-00001.parquet"]}},
    }


def test_merge_keeps_hand_written_text_and_remote_yaml_keys():
    old, new = render_card(small_manifest(1)), render_card(small_manifest(2))
    meta, body = split_card(old)
    meta = {"tags": ["flan"], **meta, "license": ["mit", "other"]}
    remote = ("---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n"
              "# My dataset\n\nHand-written intro.\n\n" + body.strip() + "\n\n## Contact\n\nme\n")
    merged = merge_card(remote, new)
    merged_meta, merged_body = split_card(merged)
    new_meta, new_body = split_card(new)
    assert merged_meta["tags"] == ["flan"]                           # a key flanzh does not set
    assert {k: merged_meta[k] for k in new_meta} == new_meta         # flanzh's keys: the new ones
    assert merged_body.startswith("# My dataset\n\nHand-written intro.\n\n" + BEGIN)
    assert merged_body.endswith(END + "\n\n## Contact\n\nme\n")
    assert new_body.strip() in merged_body and "seed 1" not in merged_body
    assert merge_card(merged, new) == merged                         # stable
    assert merge_card(None, new) == new and merge_card("", new) == new


def test_merge_into_a_card_without_markers_appends_the_section():
    new = render_card(small_manifest())
    merged = merge_card("# Notes\n\nWritten on the hub.\n", new)
    meta, body = split_card(merged)
    assert meta == split_card(new)[0]
    assert body.startswith("# Notes\n\nWritten on the hub.\n\n" + BEGIN)
    assert merge_card(merged, new) == merged


@pytest.mark.parametrize("remote", [
    f"{BEGIN}\nno end\n",
    f"{END}\n{BEGIN}\n",
    f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n",
])
def test_merge_refuses_unbalanced_markers(remote):
    with pytest.raises(ValueError, match="markers; expected one of each"):
        merge_card(remote, render_card(small_manifest()))


def test_merge_refuses_a_broken_yaml_header():
    with pytest.raises(ValueError, match="not valid YAML"):
        merge_card("---\nlicense: [mit\n---\ntext\n", render_card(small_manifest()))


def test_a_task_without_records_gets_no_config():
    """datasets refuses to load a split of empty files, so an evaluation-only task (or one whose
    rows were all dropped) is listed in the card but has no config."""
    manifest = small_manifest()
    manifest["tasks"]["qa_eval_only"] = {
        **manifest["tasks"]["sim_x"], "rows_read": 0, "rows_written": 0, "dropped": {},
        "shards": ["data/qa_eval_only/train-00000-of-00001.parquet"]}
    meta, body = split_card(render_card(manifest))
    assert [c["config_name"] for c in meta["configs"]] == ["all", "commercial", "sim_x"]
    assert meta["configs"][0]["data_files"][0]["path"] == manifest["tasks"]["sim_x"]["shards"]
    assert "| qa_eval_only | 相似 | text_matching | X | MIT | 0 | 2/2 |" in body
    assert "No records, so no config: qa_eval_only" in body


def test_every_spec_licence_gives_card_metadata_the_hub_allows(project):
    """Each metadata value is in the hub's allowed lists (flanzh/spec/schemas/hub_metadata.json, with
    their source), for every licence in the specs; `other` comes with a license_name."""
    from flanzh.spec.licences import HUB_METADATA
    from flanzh.build.card import card_header
    from flanzh.spec.specs import load_tasks

    tasks = load_tasks(project)
    manifest = {"totals": {"rows_written": 60_000_000_000}, "tasks": {
        t.id: {"category": t.category, "license": t.source["license"], "rows_written": 1,
               "shards": [f"data/{t.id}/train-00000-of-00001.parquet"]} for t in tasks}}
    header = card_header(manifest)
    assert set(header["license"]) <= set(HUB_METADATA["license"])
    assert header["size_categories"] == ["10B<n<100B"]
    assert set(header["size_categories"]) <= set(HUB_METADATA["size_categories"])
    assert set(header["multilinguality"]) <= set(HUB_METADATA["multilinguality"])
    assert header["language"] == ["zh", "en"]                 # translation tasks hold English
    assert ("other" in header["license"]) == ("license_name" in header)
    commercial = next(c for c in header["configs"] if c["config_name"] == "commercial")
    names = {p.split("/")[1] for p in commercial["data_files"][0]["path"]}
    assert names and all(commercial_use(hf_license(t.source["license"]))
                         for t in tasks if t.id in names)
    assert "nli_ocnli" not in names                           # CC BY-NC 2.0


def test_records_carry_the_hub_licence_id_and_commercial_flag(built):
    out, manifest = built
    import polars as pl

    for task_id in ("nli_ocnli", "mrc_drcd", "sim_afqmc"):
        shard = manifest["tasks"][task_id]["shards"][0]
        frame = pl.read_parquet(out / shard)
        expected = hf_license(manifest["tasks"][task_id]["license"])
        assert frame["license"].unique().to_list() == [expected]
        assert frame["commercial_use"].unique().to_list() == [commercial_use(expected)]
