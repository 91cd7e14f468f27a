"""Each export layout loaded the way its consumer loads it (datasets' JSON builder, with the
columns and roles LLaMA-Factory, axolotl and trl expect, as docs/export.md configures them); tasks
without records skipped; parquet text as arrow `string` (issue 16)."""

import json
import re

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO
from flanzh.build.pipeline import build
from flanzh.cli import app
from flanzh.errors import BuildError
from flanzh.publish.export import export

from test_corpus import clone_task

SYSTEM = "你是一个认真回答中文问题的助手。"
DOCS = (REPO / "docs" / "export.md").read_text("utf-8")


@pytest.fixture
def folder(mini_project, tmp_path):
    """sim_afqmc (30 records) and cls_empty, a task whose source has no rows (sorted first)."""
    clone_task(mini_project, "cls_empty", [])
    out = tmp_path / "out"
    manifest = build(mini_project, out, shard_rows=7)
    assert manifest["tasks"]["cls_empty"]["rows_written"] == 0
    return out


def load_json(path):
    """What LLaMA-Factory, axolotl and trl do with a local JSON-lines file or folder."""
    files = sorted(str(p) for p in path.glob("*.jsonl")) if path.is_dir() else str(path)
    return datasets.load_dataset("json", data_files=files, split="train")


def code_block(language: str, index: int = 0) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOCS, re.S)[index]


def test_per_task_skips_tasks_without_records(folder, tmp_path):
    out = tmp_path / "per-task"
    result = export(folder, "messages", out, per_task=True)
    assert sorted(p.name for p in out.iterdir()) == ["sim_afqmc.jsonl"]       # no 0-byte file
    assert result.rows == {"sim_afqmc": 30} and result.skipped == ["cls_empty"]
    assert load_json(out).num_rows == 30


def test_cli_summary_counts_only_tasks_with_records(folder, tmp_path):
    target = tmp_path / "m.jsonl"
    result = CliRunner().invoke(app, ["export", str(folder), "--format", "messages",
                                      "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output == (f"wrote {target}\nskipped 1 tasks without records: cls_empty\n"
                             "30 records from 1 tasks as messages\n")


def test_messages_is_trl_conversational_with_openai_roles(folder, tmp_path):
    plain = load_json(export(folder, "messages", tmp_path / "a.jsonl").files[0])
    assert plain.column_names == ["messages"]
    for example in plain:
        assert [m["role"] for m in example["messages"]] == ["user", "assistant"]
        assert all(set(m) == {"role", "content"} and m["content"] for m in example["messages"])
    with_system = load_json(export(folder, "messages", tmp_path / "b.jsonl", system=SYSTEM).files[0])
    for example, bare in zip(with_system, plain):
        assert example["messages"][0] == {"role": "system", "content": SYSTEM}
        assert example["messages"][1:] == bare["messages"]


def test_prompt_completion_is_trl_standard(folder, tmp_path):
    loaded = load_json(export(folder, "prompt-completion", tmp_path / "p.jsonl").files[0])
    assert loaded.column_names == ["prompt", "completion"]
    assert loaded.features["prompt"].dtype == "string"
    assert loaded.features["completion"].dtype == "string"
    with pytest.raises(BuildError) as caught:
        export(folder, "prompt-completion", tmp_path / "q.jsonl", system=SYSTEM)
    assert str(caught.value) == ("--system: the prompt-completion layout has no place for a "
                                 "system prompt; use alpaca, sharegpt, messages")


def test_alpaca_and_sharegpt_carry_the_system_prompt(folder, tmp_path):
    alpaca = load_json(export(folder, "alpaca", tmp_path / "a.jsonl", system=SYSTEM).files[0])
    assert alpaca.column_names == ["instruction", "input", "output", "system"]
    assert set(alpaca["system"]) == {SYSTEM}
    sharegpt = load_json(export(folder, "sharegpt", tmp_path / "s.jsonl", system=SYSTEM).files[0])
    for example in sharegpt:
        assert [t["from"] for t in example["conversations"]] == ["system", "human", "gpt"]
        assert example["conversations"][0]["value"] == SYSTEM


def test_llamafactory_entries_match_the_exports(folder, tmp_path):
    """Every column and tag each dataset_info.json entry in the docs names is in the export."""
    entries = json.loads(code_block("json"))
    assert set(entries) == {"flanzh_messages", "flanzh_prompt_completion", "flanzh_alpaca",
                            "flanzh_sharegpt"}
    for name, entry in entries.items():
        fmt = {"flanzh_prompt_completion": "prompt-completion"}.get(name, name.split("_", 1)[1])
        per_task = not entry["file_name"].endswith(".jsonl")
        written = export(folder, fmt, tmp_path / entry["file_name"], per_task=per_task,
                         system=SYSTEM if fmt in ("messages", "sharegpt") else None)
        assert written.files
        loaded = load_json(tmp_path / entry["file_name"])
        columns = entry["columns"]
        assert set(columns.values()) <= set(loaded.column_names), name
        if entry["formatting"] == "sharegpt":
            tags = entry["tags"]
            for example in loaded:
                turns = example[columns["messages"]]
                assert all(set(t) == {tags["role_tag"], tags["content_tag"]} for t in turns)
                assert [t[tags["role_tag"]] for t in turns] == [
                    tags["system_tag"], tags["user_tag"], tags["assistant_tag"]]


def test_axolotl_datasets_match_the_exports(folder, tmp_path):
    config = yaml.safe_load(code_block("yaml"))
    for entry in config["datasets"]:
        fmt = entry["path"].removeprefix("out-").removesuffix(".jsonl")
        export(folder, fmt, tmp_path / entry["path"], system=SYSTEM if fmt == "sharegpt" else None)
        loaded = load_json(tmp_path / entry["path"])
        assert entry["ds_type"] == "json"
        if entry["type"] == "chat_template":
            mapping = entry["message_property_mappings"]
            roles = entry.get("roles", {"user": ["user"], "assistant": ["assistant"],
                                        "system": ["system"]})
            known = {alias for aliases in roles.values() for alias in aliases}
            for example in loaded:
                turns = example[entry["field_messages"]]
                assert all(set(t) == {mapping["role"], mapping["content"]} for t in turns)
                assert {t[mapping["role"]] for t in turns} <= known
                assert turns[-1][mapping["role"]] in roles["assistant"]
        elif entry["type"] == "alpaca":
            assert {"instruction", "input", "output"} <= set(loaded.column_names)
        else:
            custom = entry["type"]
            assert {custom["field_instruction"], custom["field_output"]} <= set(loaded.column_names)


def test_parquet_text_is_string_and_mixes_with_any_dataset(folder):
    shard = next((folder / "data" / "sim_afqmc").glob("*.parquet"))
    schema = pq.read_schema(shard)
    assert str(schema.field("inputs").type) == "string"
    assert not any("large" in str(f.type) for f in schema)
    built = datasets.load_dataset(str(folder), "sim_afqmc", split="train")
    assert built.features["inputs"] == datasets.Value("string")
    ordinary = datasets.Dataset.from_dict({"inputs": ["问：一加一等于几？"], "targets": ["二"]})
    pair = built.select_columns(["inputs", "targets"])
    assert datasets.concatenate_datasets([pair, ordinary]).num_rows == 31
    mixed = datasets.interleave_datasets([pair, ordinary], stopping_strategy="all_exhausted")
    assert "问：一加一等于几？" in mixed["inputs"]
