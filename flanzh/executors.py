"""Run independent units of work (one per task, or per shard) on a chosen engine.

The units of a build do not depend on one another, so they can run anywhere and in any order;
only their results have to come back in input order. This module owns no scheduler: "serial" is
a plain loop, "process" is the standard library's process pool, and "ray" hands the very same
units to Ray core, which runs them on a local cluster or, when one machine is not enough, on an
existing cluster named by ``RAY_ADDRESS``.

Every engine reports a failing unit the same way: a FlanzhError raised by a unit comes back as
itself (same class, same message); anything else becomes a BuildError naming the unit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .errors import BuildError, FlanzhError

EXECUTORS = ("serial", "process", "ray")

RAY_MISSING = ('--executor ray needs Ray, which is not installed; install it with: '
               'pip install "flanzh[ray]"')

# Set on the driver, so set on every Ray worker too (workers on another machine of a cluster do
# not inherit the driver's environment).
FORWARDED_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def free_cores() -> int:
    """Cores this process may use that the machine is not already busy with: the CPUs it may
    run on, less the other tasks running right now (Linux's count of runnable tasks in
    /proc/loadavg, less this process, the fewest of a few readings). Elsewhere, less the
    one-minute load average.

    Not the load average on Linux: it also counts tasks waiting on the disk, and it trails by a
    minute, so an idle 2-core machine whose kernel threads wait on I/O reads as having one free
    core, and a build started just after another one finished as having none."""
    cpus = _cpus()
    return max(0, min(cpus, int(cpus - _busy())))


def _cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


BUSY_SAMPLES, BUSY_PAUSE = 5, 0.01   # /proc/loadavg read 5 times over 40 ms


def _busy(loadavg: str = "/proc/loadavg") -> float:
    """Other tasks using a CPU now: the fewest seen over a few readings, so a process that is
    just starting or exiting (the previous build's, a shell's) does not count as a busy core. One
    reading once took a build that followed another straight onto the serial executor."""
    try:
        seen = []
        for sample in range(BUSY_SAMPLES):
            if sample:
                time.sleep(BUSY_PAUSE)
            with open(loadavg, encoding="ascii") as handle:
                running = int(handle.read().split()[3].split("/")[0])
            seen.append(max(0, running - 1))            # this process is one of them
        return min(seen)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def default_executor(free: int, units: int | None = None) -> str:
    """``process`` when more than one core is free and more than one unit (task) can use them
    (``units``: None when not known yet), else ``serial``: one task gains nothing from a worker
    process but its start and the copies between processes (a one-task flat build on 2 cores:
    3.3 s serial, 4.2 s on a pool of two workers). Every executor writes the same bytes, so the
    choice changes only the time a build takes."""
    return "process" if free > 1 and (units is None or units > 1) else "serial"


def default_workers(units: int | None = None) -> int:
    """The processes of a pool for ``units`` tasks (None: not known yet): one a CPU, but no more
    than the tasks, so that each worker's polars gets a larger share of the cores (see
    _start_workers) when there are fewer tasks than CPUs."""
    cpus = _cpus()
    return min(cpus, units) if units else cpus


def check_executor(executor: str, workers: int | None = None) -> None:
    """Refuse an unknown engine, a bad worker count or a missing Ray before any work starts."""
    if executor not in EXECUTORS:
        raise BuildError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise BuildError(f"workers must be at least 1, not {workers}")
    if executor == "ray":
        _import_ray()


def run_units(fn: Callable[[Any], Any], units: list, *, executor: str = "serial",
              workers: int | None = None, on_done: Callable[[int, Any], Any] | None = None,
              costs: Sequence[float] | None = None) -> list:
    """``[fn(u) for u in units]``, in input order whatever order the units finish in.

    ``on_done(index, result)`` is called once per finished unit, from the calling thread, as the
    units finish (the caller can go on with a unit's result while others run). For "process" and
    "ray", ``fn`` must be importable by the workers (a top-level function of an installed module)
    and units and results must pickle. ``workers`` is the number of processes ("process")
    or the CPUs of a local Ray cluster this call starts; it defaults to the machine's CPU count.
    ``costs`` (one estimate per unit, any scale) makes "process" and "ray" start the costliest
    units first, so that no long unit starts last and runs on alone while the other workers
    idle; the results are the same whatever the order.
    """
    # Checked before the empty case, so a missing Ray is reported however small the build.
    check_executor(executor, workers)
    units = list(units)
    if not units:
        return []
    if costs is not None and len(costs) != len(units):
        raise ValueError(f"{len(costs)} costs for {len(units)} units")
    if executor == "serial":
        return _run_serial(fn, units, on_done)
    order = (sorted(range(len(units)), key=lambda i: -costs[i]) if costs is not None
             else list(range(len(units))))
    if executor == "process":
        return _run_process(fn, units, workers, on_done, order)
    return _run_ray(_import_ray(), fn, units, workers, on_done, order)


def _unit_error(index: int, unit: Any, error: BaseException) -> FlanzhError:
    """The error to raise for a failed unit: a FlanzhError as it is, anything else wrapped."""
    if isinstance(error, FlanzhError):
        return error
    label = repr(unit)
    if len(label) > 80:
        label = label[:77] + "..."
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return BuildError(f"unit {index} ({label}) failed: {detail}")


def _run_serial(fn, units, on_done) -> list:
    results = []
    for index, unit in enumerate(units):
        try:
            results.append(fn(unit))
        except Exception as error:
            raised = _unit_error(index, unit, error)
            if raised is error:
                raise
            raise raised from error
        if on_done is not None:
            on_done(index, results[-1])
    return results


_UNIT_POOLS: dict[int, ProcessPoolExecutor] = {}     # workers -> the pool kept for this process


def start_pool(workers: int | None = None, preload: Sequence[str] = ()) -> None:
    """Start the pool that process units of this many workers will run on, without waiting for
    it: its workers spawn now and import the modules named in ``preload`` while the caller goes
    on with its own start-up (a build loads its specs and evaluation sets meanwhile). Starting a
    worker and importing flanzh and polars in it takes about half a second."""
    _unit_pool(workers, preload)


def _unit_pool(workers: int | None, preload: Sequence[str] = ()) -> ProcessPoolExecutor:
    """One spawned pool per worker count (default: the CPUs this process may run on), kept for
    the life of the process: a build's read and render steps share its workers instead of each
    paying for starting (and importing flanzh and polars in) processes of its own."""
    workers = workers or default_workers()
    pool = _UNIT_POOLS.get(workers)
    if pool is None or getattr(pool, "_broken", False) or getattr(pool, "_shutdown_thread", False):
        pool = _UNIT_POOLS[workers] = process_pool(workers, preload)
        _start_workers(pool, workers)
    return pool


POLARS_THREADS = "POLARS_MAX_THREADS"


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Spawn the pool's workers now, each with polars' thread pool sized to its share of the CPUs
    (unless POLARS_MAX_THREADS is set): with one worker a core, every worker's polars otherwise
    starts a thread a core too, and they contend (a 12M-record scale build on 2 cores: render
    54.0 -> 52.5 s, CPU time 159.7 -> 152.4 s, peak memory 1,756 -> 1,691 MiB). Polars reads the
    variable once, when it is first imported, so it is set here, where the workers are spawned;
    each executor gives the same bytes whatever the threads. Not waited for: a spawned worker
    has its environment from the moment it is started, inside ``submit``."""
    before = os.environ.get(POLARS_THREADS)
    if before is None:
        os.environ[POLARS_THREADS] = str(max(1, _cpus() // workers))
    try:
        # a pool spawns a worker for each task submitted while none is idle: one task per
        # worker, submitted together, starts them all while the variable is set
        for _ in range(workers):
            pool.submit(int)
    finally:
        if before is None:
            os.environ.pop(POLARS_THREADS, None)


def in_background(fn: Callable[[threading.Event], Any], name: str
                  ) -> tuple[Future, threading.Event]:
    """Run ``fn(stop)`` on a daemon thread of this process: the future of its result, and the
    event that asks it to stop (``fn`` checks it between items). A daemon thread, so a process
    that fails meanwhile exits without waiting for it."""
    future: Future = Future()
    stop = threading.Event()

    def work() -> None:
        try:
            future.set_result(fn(stop))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future, stop


def release_pools(now: bool = False) -> None:
    """Stop the kept pools' workers (a build calls this once its last units are done, so idle
    workers do not hold their memory through the driver's own steps). ``now``: terminate them
    instead of letting them finish what they do (a build that fails before it submits a unit
    need not wait for its workers to finish importing the pipeline)."""
    while _UNIT_POOLS:
        _, pool = _UNIT_POOLS.popitem()
        if now:       # (the executor's own record of its worker processes)
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def return_freed_memory() -> None:
    """Hand memory this process has freed back to the system: glibc keeps freed blocks in its
    arenas, and a build's driver and unit workers free gigabytes at corpus scale. Nothing where
    there is no glibc. (No garbage collection first: a build's frames and arrays are freed when
    their last reference goes, and a full collection over the driver's objects cost 40-60 ms a
    call.)"""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _run_process(fn, units, workers, on_done, order) -> list:
    results: list = [None] * len(units)
    # spawn, not fork: polars runs thread pools, and forking a multithreaded process is unsafe.
    pool = _unit_pool(workers)
    futures: list = []
    try:
        futures = [pool.submit(fn, units[index]) for index in order]     # started in this order
        index_of = {future: index for future, index in zip(futures, order)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=index_of.get):
                index = index_of[future]
                error = future.exception()
                if error is not None:
                    raised = _unit_error(index, units[index], error)
                    if raised is error:
                        raise error
                    raise raised from error
                results[index] = future.result()
                if on_done is not None:
                    on_done(index, results[index])
    finally:
        # On a failure, units not started yet are dropped; running ones are waited for.
        for future in futures:
            future.cancel()
        wait(futures)
    return results


_IN_WORKER = False


def in_worker() -> bool:
    """True in a worker of a pool started here (its work does not start pools of its own)."""
    return _IN_WORKER


def process_pool(workers: int, preload: Sequence[str] = ()) -> ProcessPoolExecutor:
    """A spawned process pool whose workers exit with the process that started them, each
    importing the modules named in ``preload`` as it starts."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(), tuple(preload)))


def _start_worker(parent: int, preload: tuple[str, ...]) -> None:
    """In each pool worker: exit as soon as the build that started it is gone (killed with -9, it
    cannot stop its workers itself, and they would run on, orphaned); then import what its units
    will need."""
    import importlib

    global _IN_WORKER
    _IN_WORKER = True

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="flanzh-parent-watch", daemon=True).start()
    for name in preload:
        importlib.import_module(name)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BuildError(RAY_MISSING) from None
    return ray


def _run_ray(ray, fn, units, workers, on_done, order) -> list:
    started_here = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"env_vars": {"PYTHONPATH": _package_path()}})
        started_here = True
    try:
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        # flanzh itself reaches the workers by being installed (pip install -e . included): on a
        # local cluster they run this interpreter; on a remote one, install flanzh there too.
        options = {"name": getattr(fn, "__qualname__", None) or type(fn).__name__}
        if env:
            options["runtime_env"] = {"env_vars": env}
        # Through a top-level trampoline so that any picklable callable works (functools.partial
        # included, which ray.remote refuses); fn is stored once, not sent with every unit.
        remote = ray.remote(_call).options(**options)
        fn_ref = ray.put(fn)
        index_of = {remote.remote(fn_ref, units[index]): index for index in order}
        results: list = [None] * len(units)
        pending = list(index_of)
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                for ref in finished:
                    index = index_of[ref]
                    results[index] = _ray_get(ray, ref, index, units[index])
                    if on_done is not None:
                        on_done(index, results[index])
        finally:
            for ref in pending:  # only left on a failure (or an interrupt)
                ray.cancel(ref)
        return results
    finally:
        if started_here:
            ray.shutdown()


def _package_path() -> str:
    """PYTHONPATH for a local cluster's workers: the folder holding the flanzh package this
    driver runs first. Ray puts the driver's working folder on its workers' path, and from the
    folder that holds a checkout named ``flanzh`` that folder would otherwise be imported as an
    empty namespace package (``cannot import name '__version__'``): a regular package found
    anywhere on the path wins over a namespace one."""
    from pathlib import Path

    package_parent = str(Path(__file__).resolve().parent.parent)
    return os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))


def _call(fn, unit):
    return fn(unit)


def _ray_get(ray, ref, index, unit):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        # The unit raised: Ray wraps its exception; report the unit's own.
        cause = error.cause if error.cause is not None else error
        raised = _unit_error(index, unit, cause)
        raise raised from error
    except ray.exceptions.RayError as error:
        # The unit never finished: its worker died, ran out of memory, was cancelled, ...
        raise _unit_error(index, unit, error) from error
