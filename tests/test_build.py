"""The whole build on the bundled samples: layout, manifest, determinism, atomic writes."""

import json

import polars as pl
import pytest

from conftest import PROJECT, TASK_IDS
from flanzh.build.pipeline import build
from flanzh.errors import BuildError, SourceError
from flanzh.read.sources import SourceMode
from flanzh.render.records import RECORD_SCHEMA


def test_layout_and_manifest(built):
    out, manifest = built
    assert (out / "README.md").is_file()
    on_disk = json.loads((out / "manifest.json").read_text("utf-8"))
    assert on_disk == json.loads(json.dumps(manifest))
    assert sorted(manifest["tasks"]) == TASK_IDS
    for task_id, entry in manifest["tasks"].items():
        assert entry["rows_read"] == entry["rows_written"] + sum(entry["dropped"].values()), task_id
        rows = sum(pl.read_parquet(out / shard).height for shard in entry["shards"])
        assert rows == entry["rows_written"], task_id
        assert all(s.startswith(f"data/{task_id}/train-") for s in entry["shards"])
        assert len(entry["spec_sha256"]) == 64 and len(entry["templates_sha256"]) == 64
    assert manifest["seed"] == 20230918
    assert {"datasets", "polars", "jinja2", "pyarrow"} <= set(manifest["versions"])


def test_shards_follow_the_record_contract(built):
    out, manifest = built
    for task_id, entry in manifest["tasks"].items():
        if not entry["shards"]:
            continue
        frame = pl.read_parquet(out / entry["shards"][0])
        assert dict(frame.schema) == RECORD_SCHEMA, task_id
        assert (frame["task"] == task_id).all()
        assert set(frame["format"].unique()) <= {"zs_opt", "zs_noopt"}
    import pyarrow.parquet as pq

    shard = next(out.glob("data/*/*.parquet"))
    assert pq.ParquetFile(shard).metadata.row_group(0).column(0).compression == "ZSTD"


def test_folder_loads_with_datasets_as_is(built):
    from datasets import load_dataset

    out, manifest = built
    everything = load_dataset(str(out), split="train")
    assert everything.num_rows == manifest["totals"]["rows_written"]
    for task_id, entry in manifest["tasks"].items():
        if entry["rows_written"]:            # evaluation-only tasks have no shard and no config
            assert load_dataset(str(out), task_id, split="train").num_rows == entry["rows_written"]
        else:
            assert entry["shards"] == []


def test_two_builds_are_byte_identical(built, tmp_path):
    """A second build, from a copy of the project in another folder, gives the same bytes."""
    import shutil

    from flanzh.project import Project

    out, _ = built
    copy = tmp_path / "elsewhere"
    for folder in ("task_specs", "templates", "samples"):
        shutil.copytree(PROJECT.root / folder, copy / folder)
    again = tmp_path / "again"
    build(Project(copy), again)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_seed_changes_template_choice(tmp_path):
    a = build(PROJECT, tmp_path / "a", task_ids=["sim_afqmc"], seed=1)
    b = build(PROJECT, tmp_path / "b", task_ids=["sim_afqmc"], seed=2)
    ta = pl.read_parquet(tmp_path / "a" / a["tasks"]["sim_afqmc"]["shards"][0])["template_id"]
    tb = pl.read_parquet(tmp_path / "b" / b["tasks"]["sim_afqmc"]["shards"][0])["template_id"]
    assert ta.to_list() != tb.to_list()


def test_failed_build_leaves_previous_output_intact(mini_project, tmp_path):
    out = tmp_path / "out"
    build(mini_project, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (mini_project.samples_dir / "sim_afqmc" / "train.json").unlink()
    with pytest.raises(SourceError):
        build(mini_project, out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")] == []
    assert not (tmp_path / "out.lock").exists()


def test_refuses_to_replace_a_folder_it_did_not_build(mini_project, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BuildError) as error:
        build(mini_project, out)
    assert str(error.value) == (f"{out} exists and is not a flanzh output folder (no manifest.json); "
                                "choose another --out or remove it")
    assert (out / "notes.txt").read_text() == "mine"


def test_eval_splits_never_enter_the_corpus(built):
    out, manifest = built
    for task_id, entry in manifest["tasks"].items():
        for shard in entry["shards"]:
            frame = pl.read_parquet(out / shard)
            assert set(frame["source_split"].unique()) <= set(entry["splits"]), task_id


def test_data_dir_mode_reads_the_same_layout(mini_project, tmp_path):
    manifest = build(mini_project, tmp_path / "out",
                     mode=SourceMode("data_dir", mini_project.samples_dir))
    assert manifest["tasks"]["sim_afqmc"]["rows_written"] == 30
    assert manifest["source_mode"] == "downloaded raw files"
