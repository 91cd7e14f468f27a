"""Units of work for tests/test_executors.py. They live in a module of their own, not in the test
file, because the process and Ray executors need functions their workers can import by name."""

import os
import time
from pathlib import Path

from flanzh.errors import BuildError, SpecError


def sleepy(unit):
    """unit = (index, seconds): sleeps, then returns index * 10."""
    index, seconds = unit
    time.sleep(seconds)
    return index * 10


def after_the_driver_saw_unit_1(unit):
    """unit = (index, folder). Unit 0 does not finish until the driver has marked unit 1 done
    (the test's on_done writes folder/seen-1), so the units finish in the order 1, 0."""
    index, folder = unit
    if index == 0:
        deadline = time.monotonic() + 60
        while not (Path(folder) / "seen-1").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("unit 1 was never reported done")
            time.sleep(0.02)
    return index


def scaled(unit, factor):
    return unit * factor


def build_error_for_x(unit):
    if unit == "x":
        raise BuildError(f"task {unit}: boom")
    return unit


def spec_error_for_x(unit):
    if unit == "x":
        raise SpecError(["x.yaml: first problem", "x.yaml: second problem"])
    return unit


def value_error_for_1(unit):
    if unit == 1:
        raise ValueError("bad unit")
    return unit


def env(name):
    return os.environ.get(name)


def pid_then_sleep(unit):
    """unit = (index, folder): writes this worker's pid to folder/<index>.pid, then sleeps."""
    index, folder = unit
    (Path(folder) / f"{index}.pid").write_text(str(os.getpid()))
    time.sleep(120)
    return index


def pid_of_worker(unit):
    """unit = seconds: sleeps (so that both workers take a unit), then returns its process id."""
    time.sleep(unit)
    return os.getpid()


def note_start(unit):
    """unit = (index, folder): appends index to folder/started (one worker runs the units one
    after another, so the file holds the order they started in); returns index * 10."""
    index, folder = unit
    with open(Path(folder) / "started", "a", encoding="ascii") as handle:
        handle.write(f"{index}\n")
    return index * 10


def polars_threads(unit):
    """The size of polars' thread pool in this worker."""
    import polars as pl

    return pl.thread_pool_size()


def module_loaded(name):
    import sys

    return name in sys.modules
