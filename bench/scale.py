"""A whole build at scale: every task's bundled sample expanded to millions of source rows.

    python bench/scale.py --rows 50000000            # records; source rows default to rows / 10

The real pipeline runs end to end (read -> normalise -> decontaminate -> near-dedup -> quotas ->
render -> check -> exact dedup -> zstd parquet shards -> manifest, card, report) with a mixture
policy (--mixture, default mixtures/openba.yaml: OpenBA's shares, the specs' caps lifted), except
that ``total`` is --rows (and ``max_repeat`` --max-repeat, when given). Each task's
sample is read through its real reader once, then replicated: every copy gets its own row key and
a numbered suffix on its longest text column, so copies are distinct records.

The build runs on the executor the CLI would choose on this machine (``process`` when more than
one core is free; ``--executor`` overrides). Printed, all measured in this process: each task's realised share against its target (delta in
percentage points; OpenBA's policy realises every task within one point when it has the rows),
wall time and rows/s per stage, peak memory (PSS) of the process and its workers, overall and
by stage, their CPU time, the render rate
against jinja2-in-datasets.map on the same machine, the build time against writing its records
alone, and a no-change rebuild against the full build.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import flanzh.build.pipeline as pipeline  # noqa: E402
from flanzh.project import Project  # noqa: E402
from flanzh.read.readers import GROUP, KEY, ReadResult  # noqa: E402
from flanzh.spec.mixture import Mixture, load_mixture, target_shares  # noqa: E402
from flanzh.spec.specs import load_tasks  # noqa: E402

# The expanded reader reaches pool workers through this variable: a spawned worker imports this
# file again (as __mp_main__) with the driver's environment, and installs the same reader.
ROWS_ENV = "FLANZH_SCALE_ROWS_FOR"

STAGES = ("read", "decontaminate", "near-dedup", "render", "exact-dedup", "write", "report")


def expanded_reader(rows_for: dict[str, int]):
    """A stand-in for pipeline.read_split that replicates each task's train rows."""
    original = pipeline.read_split

    def read_split(project, task, split, mode):
        read = original(project, task, split, mode)
        if split not in task.train_splits or read.frame.height == 0:
            return read
        copies = max(1, math.ceil(rows_for[task.id] / (read.frame.height + sum(read.dropped.values()))))
        frame = read.frame
        # only columns feeding a text field (never a label) get the suffix
        sources = {task.fields[name].source.split(".")[0] for name in task.text_fields}
        text = [c for c, t in frame.schema.items() if t == pl.Utf8 and c in sources]
        longest = max(text, key=lambda c: frame[c].str.len_chars().mean() or 0) if text else None
        lists = [c for c, t in frame.schema.items() if t == pl.List(pl.Utf8)]
        # a list holding the suffixed value (a choices field: Douban's candidates hold the reply)
        # gets the same suffix on that element, so the answer stays one of the choices
        values = frame[longest].to_list() if longest else []
        positions = {c: [(o or []).index(v) if v in (o or []) else -1
                         for v, o in zip(values, frame[c].to_list())] for c in lists if longest}
        holders = [c for c, where in positions.items() if any(i >= 0 for i in where)]
        if holders:
            frame = frame.with_columns(pl.Series(f"__at_{c}", positions[c], dtype=pl.Int64)
                                       for c in holders)
        copy = pl.int_range(0, copies, eager=True).alias("__copy").to_frame()
        big = copy.join(frame, how="cross")
        suffix = [pl.lit("（编号"), pl.col("__copy"), pl.lit("）")]
        columns = [pl.concat_str([pl.col(KEY), pl.lit("#"), pl.col("__copy")]).alias(KEY)]
        if GROUP in frame.columns:
            columns.append(pl.concat_str([pl.col(GROUP), pl.lit("#"), pl.col("__copy")]).alias(GROUP))
        if longest:
            columns.append(pl.concat_str([pl.col(longest), *suffix]).alias(longest))
        for c in holders:
            at = pl.col(f"__at_{c}")
            columns.append(pl.when(at >= 0).then(pl.concat_list([
                pl.col(c).list.slice(0, at), pl.concat_str([pl.col(longest), *suffix]),
                pl.col(c).list.slice(at + 1)])).otherwise(pl.col(c)).alias(c))
        # a list text field (a dialogue's history) gets the suffix on its last element too, so
        # templates that do not show the suffixed column still render distinct copies
        for c in lists:
            if c in sources and c not in holders:
                n = pl.col(c).list.len()
                columns.append(pl.when(n > 0).then(pl.concat_list([
                    pl.col(c).list.slice(0, n - 1),
                    pl.concat_str([pl.col(c).list.last(), *suffix])])).otherwise(pl.col(c)).alias(c))
        big = big.with_columns(columns).drop(["__copy", *(f"__at_{c}" for c in holders)])
        dropped = type(read.dropped)({r: n * copies for r, n in read.dropped.items()})
        return ReadResult(big, dropped, read.rejects)

    return read_split


if os.environ.get(ROWS_ENV):
    pipeline.read_split = expanded_reader(json.loads(os.environ[ROWS_ENV]))


def _pss_kib(pid: int, rss: int) -> int:
    """A process's proportional set size: its resident pages, each page shared with other
    processes (the libraries every worker maps) counted in part. RSS if the kernel has no PSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return rss


class TreeRss:
    """Peak resident memory of this process and its children together (a process pool's workers
    hold their own copies of what they work on), and their CPU time, sampled every 0.2 s from
    /proc; ``stage`` names what runs now, so each stage's peak is known too."""

    def __init__(self):
        import threading

        self.peak = 0
        self.stage = "start"
        self.by_stage: dict[str, int] = {}
        self.driver_by_stage: dict[str, int] = {}         # this process alone
        self.driver = 0
        self.children: list[int] = []
        self.at_peak: tuple[str, int, list[int]] = ("start", 0, [])
        self._cpu: dict[int, float] = {}        # pid -> its latest utime + stime, in seconds
        self._tick = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree_kib(self) -> int:
        me, parents, rss = os.getpid(), {}, {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                    stat = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(name)
            parents[pid] = int(fields.get("PPid", "0").strip())
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
            cpu = (int(stat[11]) + int(stat[12])) / self._tick
            if pid in self._cpu or pid == me or parents[pid] == me:
                self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)
        total, children = 0, []
        for pid in rss:
            walk = pid
            while walk and walk != me:
                walk = parents.get(walk, 0)
            if walk == me:
                pss = _pss_kib(pid, rss[pid])
                total += pss
                if pid == me:
                    self.driver = pss
                else:
                    children.append(pss)
                self._cpu.setdefault(pid, 0.0)
        self.children = sorted(children, reverse=True)
        return total

    def _sample(self) -> None:
        now = self._tree_kib()
        if now > self.peak:            # who held what at the peak, and during which stage
            self.at_peak = (self.stage, self.driver, self.children)
        self.peak = max(self.peak, now)
        self.by_stage[self.stage] = max(self.by_stage.get(self.stage, 0), now)
        self.driver_by_stage[self.stage] = max(self.driver_by_stage.get(self.stage, 0),
                                               self.driver)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> tuple[float, float]:
        """(the peak in MiB, CPU seconds of the process and its workers)."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak / 1024, sum(self._cpu.values())


def share_deltas(manifest: dict) -> list[str]:
    """Per task: target and realised share, their difference in percentage points, OpenBA's share;
    a task below its quota (too few rows, or rows lost to dedup) is marked ``short``."""
    lines = [f"{'task':<28} {'target':>8} {'realised':>9} {'delta pp':>9} {'OpenBA':>7}  "
             f"{'written':>10} / quota"]
    worst = {"all": 0.0, "full": 0.0}
    for task_id, t in sorted(manifest["tasks"].items()):
        target, realised = t.get("target_share") or 0.0, t["realised_share"]
        delta = 100 * (realised - target)
        short = t["quota"] is not None and t["rows_written"] < t["quota"]
        worst["all"] = max(worst["all"], abs(delta))
        if not short:
            worst["full"] = max(worst["full"], abs(delta))
        openba = "—" if t.get("openba_share") is None else f"{t['openba_share']:g}%"
        lines.append(f"{task_id:<28} {100 * target:7.3f}% {100 * realised:8.3f}% {delta:+9.3f} "
                     f"{openba:>7}  {t['rows_written']:>10,} / {t['quota'] or 0:,}"
                     + ("  short" if short else ""))
    lines.append(f"largest |delta|: {worst['full']:.3f} pp over tasks that reached their quota, "
                 f"{worst['all']:.3f} pp over all tasks (target <= 1 pp)")
    return lines


def peak_rss_mib() -> float:
    """This process's peak RSS (pool workers still running are not among its reaped children)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records to build")
    parser.add_argument("--source-rows", type=int, default=None,
                        help="source rows across all tasks (default: rows / max-repeat)")
    parser.add_argument("--max-repeat", type=int, default=None,
                        help="default: the policy's max_repeat")
    parser.add_argument("--mixture", type=Path, default=ROOT / "mixtures" / "openba.yaml",
                        help="policy (default: mixtures/openba.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--executor", choices=("serial", "process"), default=None,
                        help="default: what the CLI would choose on this machine now")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if args.executor is None:
        from flanzh.executors import default_executor, free_cores

        args.executor = default_executor(free_cores())

    project = Project(ROOT)
    tasks = load_tasks(project)
    base = load_mixture(args.mixture, str(args.mixture))
    max_repeat = args.max_repeat or base.policy["max_repeat"]
    policy = {**base.policy, "total": args.rows, "max_repeat": max_repeat}
    mixture = Mixture(policy, base.path)
    source_rows = args.source_rows or args.rows // max_repeat
    shares = target_shares(mixture, tasks, {t.id: 1 for t in tasks})
    # over the share: bad sample rows, the exemplar pool (10%) and dedup must not leave a task short
    rows_for = {tid: math.ceil(1.3 * source_rows * s) for tid, s in shares.items()}
    pipeline.read_split = expanded_reader(rows_for)
    os.environ[ROWS_ENV] = json.dumps(rows_for)          # for the workers of a process pool
    sample_costs = pipeline.read_costs
    # the pool starts the largest reads first: here a task's rows are its sample's, replicated
    pipeline.read_costs = lambda project, tasks, mode, mix: [
        cost * rows_for.get(t.id, 1) for t, cost in zip(tasks, sample_costs(project, tasks, mode,
                                                                             mix))]

    render_seconds: dict[str, tuple[float, int]] = {}
    original_render = pipeline.render_task

    def timed_render(result, *a, **k):
        t0 = time.perf_counter()
        original_render(result, *a, **k)
        render_seconds[result.task.id] = (time.perf_counter() - t0, len(result.hashes))

    # per-task render times are taken in this process, so only when it renders every task
    if args.executor == "serial":
        pipeline.render_task = timed_render
    work = Path(tempfile.mkdtemp(prefix="flanzh-scale-")) if args.out is None else args.out
    out = work / "out"
    spent: dict[str, float] = defaultdict(float)
    last = [time.perf_counter()]

    def on_step(label: str) -> None:
        now = time.perf_counter()
        spent[label.split(": ")[-1]] += now - last[0]
        last[0] = now
        memory.stage = f"after {label.split(': ')[-1]}"

    print(f"building ~{args.rows:,} records from ~{source_rows:,} source rows, 44 tasks, "
          f"policy {args.mixture.name}, max_repeat {max_repeat}, executor {args.executor}"
          + (f" ({args.workers or os.cpu_count()} workers)" if args.executor != "serial" else ""),
          flush=True)
    memory = TreeRss()
    start = time.perf_counter()
    manifest = pipeline.build(project, out, mixture=mixture, on_step=on_step,
                              executor=args.executor, workers=args.workers)
    wall = time.perf_counter() - start
    tree_peak, cpu = memory.stop()
    totals = manifest["totals"]
    written = totals["rows_written"]
    print(f"built: {totals['rows_read']:,} source rows read, {written:,} records written, "
          f"{totals['rows_dropped']:,} dropped, in {wall:,.1f} s = {written / wall:,.0f} records/s")
    for stage in STAGES:
        print(f"  {stage:<14} {spent.get(stage, 0):8.1f} s")
    print(f"peak memory {tree_peak:,.0f} MiB, this process and its workers together (PSS: "
          f"pages they share counted once; this process alone: RSS {peak_rss_mib():,.0f} "
          f"MiB); CPU time {cpu:,.1f} s = "
          f"{cpu / wall:.2f} cores busy on average")
    stage, driver, children = memory.at_peak
    print(f"  at the peak ({stage.removeprefix('after ')} done): this process {driver / 1024:,.0f} "
          f"MiB, its workers " + " + ".join(f"{kib / 1024:,.0f}" for kib in children if kib > 10240)
          + " MiB")
    print("  peak memory by stage (MiB, all / this process): " + ", ".join(
        f"{stage} {kib / 1024:,.0f} / {memory.driver_by_stage.get(stage, 0) / 1024:,.0f}"
        for stage, kib in memory.by_stage.items()))
    print("shares, realised against target:")
    for line in share_deltas(manifest):
        print("  " + line)
    slowest = sorted(render_seconds.items(), key=lambda kv: -kv[1][0])[:6]
    if slowest:
        print("slowest tasks to render: " + ", ".join(
            f"{tid} {sec:.1f} s ({n / max(sec, 1e-9):,.0f}/s)" for tid, (sec, n) in slowest))

    # Writing the same records alone: the finished shards read back and written again.
    shards = [out / s for t in manifest["tasks"].values() for s in t["shards"]]
    sample = shards[:: max(1, len(shards) // 20)]
    rows = 0
    t_write = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, shard in enumerate(sample):
            frame = pl.read_parquet(shard)
            rows += frame.height
            t0 = time.perf_counter()
            frame.write_parquet(Path(tmp) / f"{i}.parquet", compression="zstd")
            t_write += time.perf_counter() - t0
    write_rate = rows / t_write
    print(f"writing alone  {write_rate:>10,.0f} records/s ({rows:,} records of {len(sample)} "
          f"shards)   build / write-alone time {wall / (written / write_rate):5.2f}x "
          "(target <= 1.5x)")

    from bench import baseline_render_check, synthetic_rows
    from flanzh.spec.specs import load_task

    task = load_task(project, "sim_afqmc")
    raw = synthetic_rows(args.baseline_rows)
    t0 = time.perf_counter()
    baseline_render_check(task, raw)
    base_rate = args.baseline_rows / (time.perf_counter() - t0)
    render_rate = written / max(spent.get("render", 0), 1e-9)
    print(f"render stage   {render_rate:>10,.0f} records/s   baseline (datasets.map + jinja per "
          f"row) {base_rate:>10,.0f} rows/s   ratio {render_rate / base_rate:5.2f}x (target >= 10x)")
    print(f"whole build    {written / wall:>10,.0f} records/s   ratio to the baseline render alone "
          f"{written / wall / base_rate:5.2f}x (target >= 4x end to end)")

    t0 = time.perf_counter()
    pipeline.build(project, out, mixture=mixture, executor=args.executor, workers=args.workers)
    again = time.perf_counter() - t0
    print(f"no-change rebuild {again:6.2f} s = {100 * again / wall:5.2f}% of the full build "
          "(target < 5%)")
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(work.parent / f".{work.name}.cache", ignore_errors=True)


if __name__ == "__main__":
    main()
