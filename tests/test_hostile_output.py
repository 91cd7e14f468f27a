"""Hostile and broken conditions around the build's output: its cache, the output folder, the
lock, the final swap, worker processes, a full disk, the command line's options, push and export
failures. Each test pins one case that used to break."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl

from flanzh.build.writer import RecordsFile
import pytest
import yaml

from flanzh.build.pipeline import build
from flanzh.errors import BuildError, PushError, SpecError


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
    shutil.rmtree(tmp_path / ".out.cache")                   # nor a library's own cache
    source.write_text(text, "utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    build(mini_project, out)
    assert "花呗怎么关闭" in texts(out)


def test_flat_files_are_read_from_their_content_not_a_library_cache(tmp_path):
    from flanzh.read.readers import flat

    source = tmp_path / "train.jsonl"
    source.write_text('{"a": "甲"}\n', "utf-8")
    stat = source.stat()
    assert flat.read([source], fmt="jsonl", encoding="utf-8", options={},
                     label="x").frame["a"].to_list() == ["甲"]
    source.write_text('{"a": "乙"}\n', "utf-8")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert flat.read([source], fmt="jsonl", encoding="utf-8", options={},
                     label="x").frame["a"].to_list() == ["乙"]


# the output folder, the lock, the swap --------------------------------------------------------

def test_an_out_that_is_a_symlink_is_built_through_it(mini_project, tmp_path):
    real = tmp_path / "disk" / "corpus"
    real.parent.mkdir()
    link = tmp_path / "out"
    link.symlink_to(real, target_is_directory=True)
    build(mini_project, link)
    assert link.is_symlink() and (real / "manifest.json").is_file()
    build(mini_project, link, seed=5)                        # a rebuild replaces the target
    assert link.is_symlink() and json.loads((real / "manifest.json").read_text())["seed"] == 5
    leftovers = [p.name for p in [*tmp_path.iterdir(), *real.parent.iterdir()]
                 if ".old-" in p.name or ".tmp-" in p.name]
    assert leftovers == []


def test_a_folder_with_an_unrelated_manifest_is_not_replaced(mini_project, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "my app"}')
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BuildError) as error:
        build(mini_project, out)
    assert str(error.value) == (f"{out} exists and is not a flanzh output folder (its "
                                "manifest.json was not written by flanzh); choose another --out "
                                "or remove it")
    assert (out / "notes.txt").read_text() == "mine"


def test_a_flanzh_output_holding_a_user_file_is_not_replaced(mini_project, tmp_path):
    out = tmp_path / "out"
    build(mini_project, out)
    (out / "notes.txt").write_text("mine")
    (out / "data" / "extra").mkdir()
    with pytest.raises(BuildError) as error:
        build(mini_project, out, seed=3)
    assert str(error.value) == (f"{out} holds files flanzh did not write (data/extra, notes.txt); "
                                "move them out of it, or choose another --out")
    assert (out / "notes.txt").read_text() == "mine"


def test_an_empty_lock_file_does_not_let_a_second_build_in(mini_project, tmp_path):
    """A lock is held by an open file with an OS lock on it, not by the pid written into it:
    a build that created the lock file but has not written its pid yet still holds it."""
    out = tmp_path / "out"
    lock = tmp_path / "out.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(lock)!r}, os.O_CREAT | os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock.read_text() == ""
        with pytest.raises(BuildError) as error:
            build(mini_project, out)
        assert str(error.value) == (f"another flanzh build is writing {out}; wait for it to "
                                    f"finish, or delete {lock} if no build is running")
    finally:
        holder.kill()
        holder.wait()
    build(mini_project, out)          # the holder is gone: the OS released its lock
    assert (out / "manifest.json").is_file() and not lock.exists()


def test_an_empty_lock_file_left_by_a_killed_build_is_taken_over(mini_project, tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out.lock").write_text("")
    build(mini_project, out)
    assert (out / "manifest.json").is_file()


KILL_AFTER_CALL = textwrap.dedent("""
    import os, pathlib, signal, sys
    import flanzh.build.writer as writer
    from pathlib import Path
    from flanzh.build.pipeline import build
    from flanzh.project import Project
    root, out, nth, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    calls = [0]
    armed = [False]
    def killing(original):
        def wrapper(*args, **kwargs):
            value = original(*args, **kwargs)
            if armed[0]:
                calls[0] += 1
                if calls[0] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
            return value
        return wrapper
    # every way the writer can rename: killed right after the nth rename of the final swap
    for owner, name in [(os, "rename"), (os, "replace"), (pathlib.Path, "rename"),
                        (pathlib.Path, "replace"), (writer, "_exchange")]:
        if hasattr(owner, name):
            setattr(owner, name, killing(getattr(owner, name)))
    commit = writer.StagedOutput.commit
    def armed_commit(self, manifest):
        armed[0] = True
        return commit(self, manifest)
    writer.StagedOutput.commit = armed_commit
    build(Project(root), out, seed=seed)
    print("finished")
""")


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_kill_9_during_the_final_swap_never_leaves_the_output_missing(mini_project, tmp_path, nth):
    out = tmp_path / "out"
    before = build(mini_project, out, seed=1)
    done = subprocess.run([sys.executable, "-c", KILL_AFTER_CALL, str(mini_project.root), str(out),
                           str(nth), "2"], capture_output=True, text=True)
    assert (out / "manifest.json").is_file(), done.stderr
    seed = json.loads((out / "manifest.json").read_text())["seed"]
    assert seed in (before["seed"], 2)
    manifest = json.loads((out / "manifest.json").read_text())
    for task in manifest["tasks"].values():
        for shard in task["shards"]:
            assert (out / shard).is_file()
    build(mini_project, out, seed=2)                          # and the next build is fine
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir() if ".old-" in p.name or ".tmp-" in p.name] == []


# worker processes -----------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_process_workers_die_with_a_killed_build(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[2])
        import executor_units
        from flanzh.executors import run_units
        run_units(executor_units.pid_then_sleep, [(0, sys.argv[1]), (1, sys.argv[1])],
                  executor="process", workers=2)
    """)
    driver = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(TESTS)])
    deadline = time.time() + 60
    while time.time() < deadline and len(list(tmp_path.glob("*.pid"))) < 2:
        assert driver.poll() is None
        time.sleep(0.1)
    workers = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(workers) == 2 and all(_running(pid) for pid in workers)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    alive = [pid for pid in workers if _running(pid)]
    for pid in alive:                                  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert alive == []


def test_ray_runs_from_the_folder_that_holds_a_checkout_named_flanzh(tmp_path):
    """Ray puts the driver's working folder on its workers' path; a checkout there named
    ``flanzh`` (no __init__.py at its top) must not shadow the installed package."""
    pytest.importorskip("ray")
    (tmp_path / "flanzh" / "flanzh").mkdir(parents=True)        # git clone .../flanzh
    (tmp_path / "flanzh" / "README.md").write_text("a checkout")
    script = textwrap.dedent("""
        from flanzh.build.cache import fingerprint
        from flanzh.executors import run_units
        print(run_units(fingerprint, ["a"], executor="ray", workers=1) == [fingerprint("a")])
    """)
    # run as a file elsewhere, as the flanzh command runs: python -c would put the working folder
    # on the driver's own path too
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "driver.py").write_text(script)
    env = {name: value for name, value in os.environ.items() if name != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, str(tmp_path / "bin" / "driver.py")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "True"


# a full disk ----------------------------------------------------------------------------------

def _usage(free):
    return lambda path: shutil._ntuple_diskusage(10 ** 9, 10 ** 9 - free, free)


def test_a_full_disk_is_named_as_such(mini_project, tmp_path, monkeypatch):
    out = tmp_path / "out"
    build(mini_project, out)
    before = tree(out)
    size = sum(len(b) for b in before.values())

    def no_space(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    # every way a build writes parquet: polars (source rows) and the record parts' writer
    monkeypatch.setattr(pl.DataFrame, "write_parquet", no_space)
    monkeypatch.setattr(RecordsFile, "write", no_space)
    monkeypatch.setattr("shutil.disk_usage", _usage(4096))
    with pytest.raises(BuildError) as error:
        build(mini_project, out, seed=9)
    assert str(error.value) == (
        f"the disk is full: no space left on the device holding {tmp_path} (4.0 KiB free; the "
        f"previous build there takes {size / 1024:.1f} KiB); free some space there, or build "
        "into another --out")
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_a_write_cut_short_by_a_full_disk_is_named_as_such(mini_project, tmp_path, monkeypatch):
    """polars reports a parquet file cut short by a full disk as a damaged file ("Invalid
    thrift"), with no errno: with the output's disk (nearly) full, that is what it says."""
    out = tmp_path / "out"

    def cut_short(self, path, *args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: File out of specification: Invalid thrift: "
                                         "end of file")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", cut_short)
    monkeypatch.setattr("shutil.disk_usage", _usage(0))
    with pytest.raises(BuildError) as error:
        build(mini_project, out)
    assert str(error.value) == (
        f"the disk is full: no space left on the device holding {tmp_path} (0.0 KiB free); free "
        "some space there, or build into another --out (the write failed with: ComputeError: "
        "parquet: File out of specification: Invalid thrift: end of file)")
    monkeypatch.setattr("shutil.disk_usage", _usage(10 ** 9))
    with pytest.raises(BuildError) as error:        # with room on the disk it is not blamed
        build(mini_project, out)
    assert "disk is full" not in str(error.value)


# the command line and the mixture -------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "Invalid value for '--workers': Input should be greater than or equal to 1"),
    (["--max-reject-rate", "2"],
     "Invalid value for '--max-reject-rate': Input should be less than or equal to 1"),
    (["--seed", "abc"], "Invalid value for '--seed': Input should be a valid integer, unable to "
                        "parse string as an integer"),
    (["--bogus"], "No such option: --bogus"),
])
def test_a_bad_option_value_prints_one_error_line(mini_project, tmp_path, monkeypatch, capsys,
                                                   args, message):
    code, captured = run_cli(["--root", str(mini_project.root), "build", "--out",
                              str(tmp_path / "out"), *args], monkeypatch, capsys)
    assert code == 2
    assert len(captured.err.splitlines()) == 1, captured.err
    assert captured.err.startswith(f"Error: {message}")
    assert not (tmp_path / "out").exists()


def test_a_task_named_twice_is_built_once(mini_project, tmp_path, monkeypatch, capsys):
    from flanzh.cli import main

    (mini_project.root / "mixture.yaml").write_text(yaml.safe_dump({      # as the repo's
        "dedup": {"near": {"enabled": True}}, "decontamination": {"enabled": True}}))

    monkeypatch.setattr("sys.argv", ["flanzh", "--root", str(mini_project.root), "build",
                                     "--tasks", "sim_afqmc,sim_afqmc", "--out",
                                     str(tmp_path / "out")])
    main()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert list(manifest["tasks"]) == ["sim_afqmc"]
    from flanzh.spec.mixture import load_mixture
    policy = load_mixture(mini_project.root / "mixture.yaml")
    once = build(mini_project, tmp_path / "once", task_ids=["sim_afqmc"], mixture=policy)
    assert manifest["tasks"] == once["tasks"]
    assert once["tasks"]["sim_afqmc"]["rows_written"] > 0
    again = build(mini_project, tmp_path / "lib", task_ids=["sim_afqmc", "sim_afqmc"],
                  mixture=policy)
    assert again["tasks"] == once["tasks"]


def _mixture(tmp_path, **changes):
    path = tmp_path / "mixture.yaml"
    path.write_text(yaml.safe_dump(changes), "utf-8")
    from flanzh.spec.mixture import load_mixture
    return load_mixture(path, "mixture.yaml")


@pytest.mark.parametrize("changes, problem", [
    ({"tasks": {"sim_afqcm": {"formats": {"max_exemplars": 1}}}},
     "mixture.yaml: $.tasks: no task 'sim_afqcm' in task_specs/; did you mean sim_afqmc?"),
    ({"dedup": {"near": {"enabled": True, "exempt": [["sim_afqmc", "summ_csl"]]}}},
     "mixture.yaml: $.dedup.near.exempt[0][1]: no task 'summ_csl' in task_specs/; known "
     "tasks: sim_afqmc"),
    ({"weights": {"tasks": {"simafqmc": 2.0}}},
     "mixture.yaml: $.weights.tasks: no task 'simafqmc' in task_specs/; did you mean "
     "sim_afqmc?"),
])
def test_a_mixture_naming_an_unknown_task_is_refused(mini_project, tmp_path, changes, problem):
    with pytest.raises(SpecError) as error:
        build(mini_project, tmp_path / "out", mixture=_mixture(tmp_path, **changes))
    assert error.value.problems == [problem]
    assert not (tmp_path / "out").exists()


# push -----------------------------------------------------------------------------------------

from test_push import REPO, folder, hub, run  # noqa: E402,F401  (the stand-in hub's fixtures)


def test_a_failed_commit_after_creating_the_repo_says_what_was_created(hub, folder):
    hub.fail("commit", status=500)
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value) == (
        "the commit failed: HTTP 500: injected failure of commit; nothing was committed, but "
        f"this push created the dataset repo {REPO} (public, empty); run the same push again "
        "to fill it")


def test_a_failed_commit_after_creating_the_branch_says_so(hub, folder):
    run(folder)
    main_head = hub.head(REPO)
    (folder / "rejects.jsonl").write_text("{}\n")
    hub.fail("commit", status=500)
    with pytest.raises(PushError) as error:
        run(folder, revision="next")
    assert str(error.value) == (
        "the commit failed: HTTP 500: injected failure of commit; nothing was committed, but "
        "this push created the branch next (a copy of main); run the same push again to fill it")
    assert hub.head(REPO) == main_head


# export ---------------------------------------------------------------------------------------

def _first_shard(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest["tasks"]["sim_afqmc"]["shards"][0]


@pytest.mark.parametrize("damage, problem", [
    ("truncated", "is not a readable parquet file ({error}); rebuild the folder"),
    ("empty", "is not a readable parquet file ({error}); rebuild the folder"),
    ("missing", "is listed in manifest.json but missing; rebuild the folder"),
    ("directory", "is listed in manifest.json but is not a file; rebuild the folder"),
])
def test_export_names_a_damaged_shard(folder, tmp_path, damage, problem):
    from flanzh.publish.export import export

    shard = _first_shard(folder)
    path = folder / shard
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "missing":
        path.unlink()
    else:
        path.unlink()
        path.mkdir()
    with pytest.raises(BuildError) as error:
        export(folder, "alpaca", tmp_path / "x.jsonl")
    message = str(error.value)
    assert message.startswith(f"{folder / shard}: ")
    if "{error}" in problem:
        head, tail = problem.split("{error}")
        assert head in message and message.endswith(tail)
        assert len(message.splitlines()) == 1
    else:
        assert message == f"{folder / shard}: {problem}"
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("text, problem", [
    ("{not json", "is not valid JSON (line 1, column 2); rebuild the folder"),
    ("[]", "is not a flanzh manifest (no 'tasks' table); rebuild the folder"),
    ('{"tasks": {"sim_afqmc": {"shards": "data/x.parquet", "rows_written": 1}}}',
     "is not a flanzh manifest ($.tasks.sim_afqmc.shards is not a list of paths); rebuild the "
     "folder"),
    ('{"tasks": {"sim_afqmc": {"shards": ["../../etc/passwd"], "rows_written": 1}}}',
     "is not a flanzh manifest ($.tasks.sim_afqmc.shards names '../../etc/passwd', outside the "
     "folder); rebuild the folder"),
    ('{"tasks": {"sim_afqmc": {"shards": [], "rows_written": "many"}}}',
     "is not a flanzh manifest ($.tasks.sim_afqmc.rows_written is not a count); rebuild the "
     "folder"),
])
def test_export_names_an_invalid_manifest(folder, tmp_path, text, problem):
    from flanzh.publish.export import export

    (folder / "manifest.json").write_text(text)
    with pytest.raises(BuildError) as error:
        export(folder, "alpaca", tmp_path / "x.jsonl")
    assert str(error.value) == f"{folder / 'manifest.json'}: {problem}"


@pytest.mark.parametrize("target", ["manifest.json", "README.md", "notes.jsonl", "data"])
def test_export_never_writes_into_the_built_folder(folder, target):
    from flanzh.publish.export import export

    before = tree(folder)
    with pytest.raises(BuildError) as error:
        export(folder, "alpaca", folder / target, per_task=target == "data")
    assert str(error.value) == (f"{folder / target} is inside the built folder {folder}; write the "
                                "export elsewhere (by default it goes beside the folder)")
    assert tree(folder) == before


def test_export_on_a_full_disk_says_so(folder, tmp_path, monkeypatch):
    from flanzh.publish import export as export_module

    def no_space(self, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module._AtomicLines, "write", no_space)
    monkeypatch.setattr("shutil.disk_usage", _usage(0))
    target = tmp_path / "exports" / "x.jsonl"
    with pytest.raises(BuildError) as error:
        export_module.export(folder, "alpaca", target)
    assert str(error.value) == (f"the disk is full: no space left on the device holding "
                                f"{target.parent} (0.0 KiB free); free some space there, or export "
                                "to another --out")
    assert list(target.parent.iterdir()) == []
