"""Hostile and broken conditions around the build's output: its cache, the output folder, the
lock, the final swap, worker processes, a full disk, the command line's options, push and export
failures. Each test pins one case that used to break."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from flanzh.errors import BuildError, PushError, SpecError
from flanzh.pipeline import build
from test_corpus import clone_task


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in Path(folder).rglob("*") if p.is_file()}


def shard_paths(out):
    return sorted((out / "data").rglob("*.parquet"))


def texts(out):
    return "\n".join(pl.read_parquet(shard_paths(out))["inputs"].to_list())


def run_cli(args, monkeypatch, capsys):
    from flanzh.cli import main

    monkeypatch.setattr("sys.argv", ["flanzh", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr()


# the cache ------------------------------------------------------------------------------------

def test_editing_a_shard_in_place_never_reaches_the_cache(mini_project, tmp_path):
    out = tmp_path / "out"
    build(mini_project, out)
    fresh = tree(out)
    shard = shard_paths(out)[0]
    assert shard.stat().st_nlink == 1                      # a copy, not a link into the cache
    with open(shard, "r+b") as handle:                      # edited in place
        handle.truncate(10)
    build(mini_project, out)                                # not "up to date": the shard changed
    assert tree(out) == fresh
    with open(shard_paths(out)[0], "r+b") as handle:
        handle.truncate(10)
    import shutil
    shutil.rmtree(out)
    build(mini_project, out)                                # the cache was never touched
    assert tree(out) == fresh


@pytest.mark.parametrize("damage", ["empty-json", "truncated-parquet", "empty-parquet"])
def test_a_corrupted_cache_entry_is_rebuilt(mini_project, tmp_path, damage):
    out = tmp_path / "out"
    build(mini_project, out)
    fresh = tree(out)
    cache = tmp_path / ".out.cache"
    entries = sorted(cache.rglob("*.json" if damage == "empty-json" else "*.parquet"))
    entries = [e for e in entries if e.name != "build.json"]
    assert entries
    for entry in entries:
        if damage == "truncated-parquet":
            entry.write_bytes(entry.read_bytes()[:-30])
        else:
            entry.write_bytes(b"")
    import shutil
    shutil.rmtree(out)
    build(mini_project, out)
    assert tree(out) == fresh
    build(mini_project, out, seed=7)                         # and every later build works too
    build(mini_project, out)
    assert tree(out) == fresh


def test_a_source_edited_with_the_same_size_and_mtime_is_read_again(mini_project, tmp_path):
    out = tmp_path / "out"
    build(mini_project, out)
    assert "花呗怎么关闭" in texts(out)
    source = mini_project.samples_dir / "sim_afqmc" / "train.json"
    stat = source.stat()
    text = source.read_text("utf-8")
    edited = text.replace("花呗怎么关闭", "借呗怎么关闭")   # same length in bytes
    assert len(edited.encode()) == len(text.encode()) and edited != text
    source.write_text(edited, "utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (source.stat().st_size, source.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    build(mini_project, out)
    assert "借呗怎么关闭" in texts(out) and "花呗怎么关闭" not in texts(out)
    import shutil
    shutil.rmtree(tmp_path / ".out.cache")                   # nor a library's own cache
    source.write_text(text, "utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    build(mini_project, out)
    assert "花呗怎么关闭" in texts(out)


def test_flat_files_are_read_from_their_content_not_a_library_cache(tmp_path):
    from flanzh.readers import flat

    source = tmp_path / "train.jsonl"
    source.write_text('{"a": "甲"}\n', "utf-8")
    stat = source.stat()
    assert flat.read([source], fmt="jsonl", encoding="utf-8", options={},
                     label="x").frame["a"].to_list() == ["甲"]
    source.write_text('{"a": "乙"}\n', "utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert flat.read([source], fmt="jsonl", encoding="utf-8", options={},
                     label="x").frame["a"].to_list() == ["乙"]
