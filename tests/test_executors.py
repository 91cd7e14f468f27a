"""flanzh.executors.run_units on each engine: input order, progress callbacks, and failures
reported as flanzh errors. The Ray tests run a real local cluster (started once per module)."""

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import executor_units as units
from flanzh.errors import BuildError, FlanzhError, SpecError
from flanzh.executors import run_units

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_cluster():
    """One local cluster for every Ray test of this module, shut down after the last."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {
            # The workers import executor_units by name, as the process pool's workers do.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
            # Set to what the driver does not have, so that seeing "1" in a worker shows that
            # run_units forwarded the driver's value rather than the worker inheriting it.
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
        }},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(params=["serial", "process", "ray"])
def executor(request):
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


@pytest.fixture(params=["process", "ray"])
def parallel_executor(request):
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


# First in the module, so that it runs before the module's own cluster is up.
def test_ray_starts_and_stops_a_cluster_of_its_own(tmp_path):
    """With no cluster running and no RAY_ADDRESS, run_units starts a local one and shuts it down
    again; its workers import flanzh from the installed package (the folder is not the repo)."""
    pytest.importorskip("ray")
    script = textwrap.dedent("""
        import sys
        import ray
        from flanzh.executors import run_units
        from flanzh.project import find_project

        projects = run_units(find_project, [sys.argv[1]], executor="ray", workers=1)
        print(projects[0].root)
        print(ray.is_initialized())
    """)
    env = {name: value for name, value in os.environ.items() if name != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", script, str(REPO)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(REPO), "False"]


def test_results_come_back_in_input_order(executor):
    done = []
    results = run_units(units.sleepy, [(0, 0.3), (1, 0.2), (2, 0.1), (3, 0.0)],
                        executor=executor, workers=2, on_done=lambda i, r: done.append((i, r)))
    assert results == [0, 10, 20, 30]
    assert sorted(done) == [(0, 0), (1, 10), (2, 20), (3, 30)]    # each unit with its result


def test_units_finishing_out_of_order_still_come_back_in_input_order(parallel_executor, tmp_path):
    done = []

    def on_done(index, result):
        done.append(index)
        (tmp_path / f"seen-{index}").touch()

    results = run_units(units.after_the_driver_saw_unit_1, [(0, str(tmp_path)), (1, str(tmp_path))],
                        executor=parallel_executor, workers=2, on_done=on_done)
    assert done == [1, 0]
    assert results == [0, 1]


def test_costs_start_the_costliest_units_first(tmp_path):
    # one worker: the units run one at a time, in the order they were started
    results = run_units(units.note_start, [(i, str(tmp_path)) for i in range(5)],
                        executor="process", workers=1, costs=[1.0, 5.0, 0.0, 5.0, 3.0])
    assert results == [0, 10, 20, 30, 40]
    assert (tmp_path / "started").read_text("ascii").split() == ["1", "3", "4", "0", "2"]


def test_pool_workers_share_the_cpus_among_their_polars_threads(monkeypatch):
    from flanzh import executors

    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    executors.release_pools()
    try:
        threads = run_units(units.polars_threads, [0, 1], executor="process", workers=2)
    finally:
        executors.release_pools()
    cpus = len(os.sched_getaffinity(0))
    assert threads == [max(1, cpus // 2)] * 2
    assert "POLARS_MAX_THREADS" not in os.environ       # the driver's own setting is untouched


def test_a_started_pool_has_its_workers_import_what_it_was_told():
    from flanzh import executors

    executors.release_pools()
    try:
        executors.start_pool(2, preload=["executor_units_preloaded"])
        # the same two workers run the units: each imported the module when it started
        loaded = run_units(units.module_loaded, ["executor_units_preloaded"] * 4,
                           executor="process", workers=2)
    finally:
        executors.release_pools()
    assert loaded == [True] * 4
    assert "executor_units_preloaded" not in sys.modules       # not in the driver


def test_costs_must_match_the_units(executor):
    with pytest.raises(ValueError, match="^2 costs for 3 units$"):
        run_units(functools.partial(units.scaled, factor=2), [1, 2, 3], executor=executor,
                  costs=[1.0, 2.0])


def test_no_units(executor):
    assert run_units(units.sleepy, [], executor=executor) == []


def test_a_callable_that_is_not_a_plain_function(executor):
    assert run_units(functools.partial(units.scaled, factor=3), [1, 2], executor=executor) == [3, 6]


def test_a_flanzh_error_keeps_its_class_and_message(executor):
    with pytest.raises(BuildError) as error:
        run_units(units.build_error_for_x, ["a", "x", "b"], executor=executor)
    assert type(error.value) is BuildError
    assert str(error.value) == "task x: boom"


def test_a_spec_error_keeps_every_problem(executor):
    with pytest.raises(SpecError) as error:
        run_units(units.spec_error_for_x, ["x"], executor=executor)
    assert type(error.value) is SpecError
    assert error.value.problems == ["x.yaml: first problem", "x.yaml: second problem"]
    assert str(error.value) == "x.yaml: first problem\nx.yaml: second problem"


def test_any_other_error_becomes_a_build_error_naming_the_unit(executor):
    with pytest.raises(BuildError) as error:
        run_units(units.value_error_for_1, [0, 1, 2], executor=executor)
    assert str(error.value) == "unit 1 (1) failed: ValueError: bad unit"


def test_ray_workers_see_the_drivers_offline_settings(ray_cluster, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert run_units(units.env, ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"], executor="ray") == ["1", "1"]
    # A cluster run_units did not start is left running.
    assert ray_cluster.is_initialized()


def test_ray_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(FlanzhError) as error:
        run_units(units.env, ["HF_HUB_OFFLINE"], executor="ray")
    assert str(error.value) == ('--executor ray needs Ray, which is not installed; '
                                'install it with: pip install "flanzh[ray]"')


def test_unknown_executor():
    with pytest.raises(BuildError) as error:
        run_units(units.env, ["HF_HUB_OFFLINE"], executor="dask")
    assert str(error.value) == "unknown executor 'dask'; choose one of: serial, process, ray"


def test_workers_must_be_positive():
    with pytest.raises(BuildError) as error:
        run_units(units.env, ["HF_HUB_OFFLINE"], executor="process", workers=0)
    assert str(error.value) == "workers must be at least 1, not 0"


def test_a_builds_steps_share_one_process_pool():
    # starting workers (each imports flanzh and polars) once per step was a fixed cost per build
    first = set(run_units(units.pid_of_worker, [0.3, 0.3], executor="process", workers=2))
    second = set(run_units(units.pid_of_worker, [0.3, 0.3], executor="process", workers=2))
    assert os.getpid() not in first and len(first) == 2
    assert second == first


def test_the_pool_still_works_after_a_failing_unit():
    with pytest.raises(BuildError):
        run_units(units.build_error_for_x, ["a", "x"], executor="process", workers=2)
    assert run_units(units.build_error_for_x, ["a", "b"], executor="process", workers=2) == ["a", "b"]


def _cli_build(args, monkeypatch):
    """``flanzh build`` in this process, with every pool start it makes (the CLI's, the
    pipeline's) recorded."""
    from flanzh import executors
    from flanzh.build import pipeline
    from flanzh.cli import main

    started = []
    real = executors.start_pool
    for module in (executors, pipeline):
        monkeypatch.setattr(module, "start_pool",
                            lambda *a, **k: (started.append(a), real(*a, **k))[1])
    monkeypatch.setattr("sys.argv", ["flanzh", *args])
    try:
        main()
    except SystemExit as exit_info:
        return exit_info.code, started
    return 0, started


def test_a_first_process_build_starts_its_workers_before_loading_specs_and_stops_them_on_error(
        mini_project, monkeypatch, capsys):
    """Over a folder with no manifest the CLI starts the pool at once, so the workers import the
    pipeline while the specs load; a spec error then terminates them instead of waiting."""
    import multiprocessing

    from flanzh import executors

    out = mini_project.root / "out"
    code, started = _cli_build(["--root", str(mini_project.root), "build", "--tasks", "nope",
                                "--executor", "process", "--workers", "2", "--out", str(out)],
                               monkeypatch)
    assert code == 1 and started == [(2,)]
    assert "Error: task_specs/nope.yaml: no such task spec" in capsys.readouterr().err
    assert executors._UNIT_POOLS == {} and multiprocessing.active_children() == []
    assert not out.exists()


def test_a_build_over_an_up_to_date_output_starts_no_workers(mini_project, monkeypatch):
    from flanzh import executors

    out, root = mini_project.root / "out", ["--root", str(mini_project.root), "build"]
    assert _cli_build([*root, "--out", str(out)], monkeypatch) == (0, [])      # serial
    manifest = (out / "manifest.json").read_bytes()
    assert _cli_build([*root, "--executor", "process", "--out", str(out)], monkeypatch) == (0, [])
    assert (out / "manifest.json").read_bytes() == manifest
    assert executors._UNIT_POOLS == {}


def test_releasing_pools_now_terminates_workers_still_starting():
    """A build that fails before it submits a unit stops its workers at once: terminated while
    still importing (this preload takes a minute), not waited for."""
    import signal

    from flanzh import executors

    executors.release_pools()
    executors.start_pool(2, preload=["executor_units_slow_import"])
    processes = list(executors._UNIT_POOLS[2]._processes.values())
    executors.release_pools(now=True)
    assert executors._UNIT_POOLS == {}
    assert [p.exitcode for p in processes] == [-signal.SIGTERM] * 2


def test_background_work_gives_its_result_or_its_error_and_stops_when_asked():
    import threading

    from flanzh.executors import in_background

    done, _ = in_background(lambda stop: 42, "flanzh-test-background")
    assert done.result(timeout=10) == 42
    failed, _ = in_background(lambda stop: 1 / 0, "flanzh-test-background")
    with pytest.raises(ZeroDivisionError):
        failed.result(timeout=10)
    started = threading.Event()

    def until_stopped(stop):
        started.set()
        while not stop.wait(0.01):
            pass
        return "stopped"

    looping, stop = in_background(until_stopped, "flanzh-test-background")
    started.wait(10)
    assert [t.daemon for t in threading.enumerate() if t.name == "flanzh-test-background"] \
        == [True]                  # a failing build's process need not wait for it
    stop.set()
    assert looping.result(timeout=10) == "stopped"
