"""`flanzh export`: JSON lines for fine-tuning tools, streamed shard by shard."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from flanzh.build.pipeline import build
from flanzh.cli import app
from flanzh.errors import BuildError
from flanzh.publish.export import default_output, export


@pytest.fixture
def folder(mini_project, tmp_path):
    out = tmp_path / "out"
    build(mini_project, out, shard_rows=7)           # 30 records in 5 shards
    return out


def records(folder):
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    shards = [s for t in sorted(manifest["tasks"]) for s in manifest["tasks"][t]["shards"]]
    return pl.concat([pl.read_parquet(folder / s) for s in shards]).to_dicts()


def lines(path):
    text = path.read_text("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_alpaca(folder, tmp_path):
    result = export(folder, "alpaca", tmp_path / "a.jsonl", batch_rows=4)
    expected = [{"instruction": r["inputs"], "input": "", "output": r["targets"]}
                for r in records(folder)]
    assert lines(tmp_path / "a.jsonl") == expected
    assert result.rows == {"sim_afqmc": 30} and result.files == [tmp_path / "a.jsonl"]


def test_sharegpt(folder, tmp_path):
    export(folder, "sharegpt", tmp_path / "s.jsonl")
    expected = [{"conversations": [{"from": "human", "value": r["inputs"]},
                                   {"from": "gpt", "value": r["targets"]}]}
                for r in records(folder)]
    assert lines(tmp_path / "s.jsonl") == expected


def test_jsonl_keeps_every_column(folder, tmp_path):
    export(folder, "jsonl", tmp_path / "r.jsonl")
    assert lines(tmp_path / "r.jsonl") == records(folder)
    assert "\\u" not in (tmp_path / "r.jsonl").read_text("utf-8")     # Chinese as is


def test_per_task_and_default_locations(folder):
    result = export(folder, "alpaca", per_task=True)
    target = default_output(folder, "alpaca", per_task=True)
    assert target == folder.parent / "out-alpaca"
    assert result.files == [target / "sim_afqmc.jsonl"]
    assert len(lines(target / "sim_afqmc.jsonl")) == 30
    result = export(folder, "sharegpt")
    assert result.files == [folder.parent / "out-sharegpt.jsonl"]
    assert not list(folder.parent.glob(".*.tmp-*"))


def test_row_count_must_match_the_manifest(folder, tmp_path):
    shard = folder / "data/sim_afqmc/train-00000-of-00005.parquet"
    pl.read_parquet(shard).head(2).write_parquet(shard)
    target = tmp_path / "a.jsonl"
    target.write_text("previous export\n")
    with pytest.raises(BuildError, match="sim_afqmc has 25 records in its shards but "
                                         "manifest.json says 30; rebuild it"):
        export(folder, "alpaca", target)
    assert target.read_text() == "previous export\n"                 # not half-replaced
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_errors(folder, tmp_path):
    with pytest.raises(BuildError, match="unknown export format 'chatml'; choose one of alpaca, "
                                         "sharegpt, messages, prompt-completion, jsonl"):
        export(folder, "chatml")
    with pytest.raises(BuildError, match="no task nope in manifest.json; it has: sim_afqmc"):
        export(folder, "alpaca", tasks=["nope"])
    with pytest.raises(BuildError, match="no manifest.json"):
        export(tmp_path, "alpaca")


def test_cli(folder, tmp_path):
    target = tmp_path / "x.jsonl"
    result = CliRunner().invoke(app, ["export", str(folder), "--format", "sharegpt",
                                      "--out", str(target), "--tasks", "sim_afqmc"])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {target}\n30 records from 1 tasks as sharegpt\n"
    assert len(lines(target)) == 30
