"""A build killed at any point leaves the previous output intact, and the next build resumes from
the tasks it had finished; two builds into one folder at once are refused."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from flanzh.build.pipeline import build
from flanzh.errors import BuildError
from test_corpus import clone_task


def tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_kill_9_keeps_previous_output_and_next_build_resumes(mini_project, tmp_path, monkeypatch):
    rows = [{"sentence1": f"借呗问题{i}号怎么处理才好", "sentence2": f"花呗问题{i}号", "label": "0"}
            for i in range(25)]
    clone_task(mini_project, "sim_slow", rows)
    out = tmp_path / "out"
    build(mini_project, out, task_ids=["sim_afqmc"])
    before = tree(out)
    script = textwrap.dedent(f"""
        import time, flanzh.build.pipeline as p
        from pathlib import Path
        from flanzh.project import Project
        original = p.render_task
        def slow(result, *args, **kwargs):
            original(result, *args, **kwargs)
            if result.task.id == "sim_slow":
                time.sleep(120)          # killed here: sim_afqmc is finished and cached
        p.render_task = slow
        p.build(Project(Path({str(mini_project.root)!r})), Path({str(out)!r}))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    cached = out.parent / ".out.cache" / "render"
    deadline = time.time() + 240           # generous: a loaded CI machine
    while time.time() < deadline and len(list(cached.glob("sim_slow-*.json"))) == 0:
        assert process.poll() is None, "the build ended before it could be killed"
        time.sleep(0.1)
    assert list(cached.glob("sim_afqmc-*.json")), "the first task never finished"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert tree(out) == before                                   # previous output intact
    assert (tmp_path / "out.lock").read_text() == str(process.pid)   # stale lock left behind

    import flanzh.build.pipeline as pipeline

    reads = []
    original = pipeline.read_split
    monkeypatch.setattr(pipeline, "read_split", lambda project, task, split, mode:
                        reads.append((task.id, split)) or original(project, task, split, mode))
    manifest = build(mini_project, out)
    assert [r for r in reads if r[1] == "train"] == []          # both tasks resumed from cache
    assert sorted(manifest["tasks"]) == ["sim_afqmc", "sim_slow"]
    fresh = tmp_path / "fresh"
    build(mini_project, fresh, use_cache=False)
    assert tree(out) == tree(fresh)                              # resuming changes nothing


def test_changing_one_template_rebuilds_only_that_task(mini_project, tmp_path, monkeypatch):
    clone_task(mini_project, "sim_other", [
        {"sentence1": f"借呗问题{i}号怎么处理才好", "sentence2": f"花呗问题{i}号", "label": "1"}
        for i in range(25)])
    out = tmp_path / "out"
    build(mini_project, out)
    path = mini_project.templates_dir / "sim_other.yaml"
    before = path.read_text("utf-8")
    path.write_text(before.replace("{{ sentence1 }}", "「{{ sentence1 }}」", 1), "utf-8")
    assert path.read_text("utf-8") != before
    import flanzh.build.pipeline as pipeline

    rendered = []
    original = pipeline.render_plan
    monkeypatch.setattr(pipeline, "render_plan", lambda task, *a, **k:
                        rendered.append(task.id) or original(task, *a, **k))
    build(mini_project, out)
    assert rendered == ["sim_other"]


def test_two_builds_into_one_folder_are_refused(mini_project, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "out.lock").write_text(str(holder.pid))
        with pytest.raises(BuildError) as error:
            build(mini_project, out)
        assert str(error.value) == (f"another flanzh build (pid {holder.pid}) is writing {out}; "
                                    f"wait for it to finish, or delete {tmp_path / 'out.lock'} "
                                    "if no build is running")
    finally:
        holder.kill()
        holder.wait()
    build(mini_project, out)          # the holder is gone: its lock is stale and taken over
    assert (out / "manifest.json").is_file() and not (tmp_path / "out.lock").exists()


def test_a_rebuild_with_nothing_changed_writes_nothing(mini_project, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = build(mini_project, out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    import flanzh.build.pipeline as pipeline

    monkeypatch.setattr(pipeline, "StagedOutput", lambda *a: pytest.fail("rebuilt"))
    assert build(mini_project, out) == first
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps
    monkeypatch.undo()
    second = build(mini_project, out, seed=first["seed"] + 1)       # a change rebuilds
    assert second["seed"] == first["seed"] + 1
