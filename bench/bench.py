"""Throughput benchmark: flanzh's steps against straightforward baselines, in one process.

    python bench/bench.py --rows 1000000

Rows are synthetic AFQMC-like pairs of ~100 Chinese characters each (~200 per row), expanded
from the bundled sample with a seeded generator. Every figure is printed next to its baseline as
a ratio, measured side by side in this run (never compared with numbers from another machine).
Decontamination also prints precision and recall on planted cases (bench/planted.py).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flanzh.build.pipeline import render_task  # noqa: E402
from flanzh.build.unit import TaskResult  # noqa: E402
from flanzh.build.writer import PARQUET_OPTIONS  # noqa: E402
from flanzh.corpus.decontaminate import EvalIndex, decontaminate  # noqa: E402
from flanzh.corpus.near_dedup import near_duplicate_flags  # noqa: E402
from flanzh.project import Project  # noqa: E402
from flanzh.read.normalise import normalise  # noqa: E402
from flanzh.read.readers import KEY  # noqa: E402
from flanzh.read.textnorm import normalise_texts  # noqa: E402
from flanzh.render.checks import check_records  # noqa: E402
from flanzh.render.templates import compile_templates, render_frame  # noqa: E402
from flanzh.spec.mixture import load_mixture  # noqa: E402
from flanzh.spec.specs import load_task  # noqa: E402
from planted import flattened, planted_cases, precision_recall  # noqa: E402

COMMON = "花呗借呗余额宝账单额度还款分期利息逾期提前手续费银行卡绑定冻结解除自动扣款失败原因怎么办可以吗为什么"


def synthetic_rows(n: int, seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    chars = list(COMMON + "的了是我你他在有和就不人都一上也很到说要去会着没看好自己这")

    def sentence() -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(80, 120)))

    return pl.DataFrame({KEY: [str(i) for i in range(n)],
                         "sentence1": [sentence() for _ in range(n)],
                         "sentence2": [sentence() for _ in range(n)],
                         "label": [rng.choice("01") for _ in range(n)]})


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return result, seconds


def baseline_render_check(task, frame: pl.DataFrame):
    """jinja2 render(**row) inside datasets.map, plus the same record checks per row; returns
    the mapped dataset (inputs, targets, ok)."""
    import datasets

    datasets.disable_progress_bars()
    compiled = compile_templates(task)
    choices = set(task.choices)
    label_map = task.fields["label"].label_map

    def one(row):
        template = compiled[hash(row[KEY]) % len(compiled)]
        context = {"sentence1": row["sentence1"], "sentence2": row["sentence2"],
                   "label": label_map[row["label"]], "options": list(task.choices)}
        inputs = template.input.render(**context).strip()
        targets = template.target.render(**context).strip()
        ok = (bool(inputs) and bool(targets) and "{{" not in inputs
              and (not template.spec.target_in_choices or targets in choices)
              and len(inputs) <= 1000 and len(targets) <= 50)
        return {"inputs": inputs, "targets": targets, "ok": ok}

    dataset = datasets.Dataset.from_polars(frame)
    return dataset.map(one, remove_columns=dataset.column_names, keep_in_memory=True)


def baseline_pipeline(task, frame: pl.DataFrame, folder: Path) -> int:
    """The straightforward pipeline end to end: render and check per row in datasets.map, exact
    dedup with a Python set, then the kept rows written as zstd parquet."""
    out = baseline_render_check(task, frame)
    seen, keep = set(), []
    for i, (inputs, targets, ok) in enumerate(zip(out["inputs"], out["targets"], out["ok"])):
        if ok and (inputs, targets) not in seen:
            seen.add((inputs, targets))
            keep.append(i)
    pl.from_arrow(out.select(keep).data.table).write_parquet(folder / "baseline.parquet",
                                                             compression="zstd")
    return len(keep)


def decontam_baseline(texts: list[str], eval_texts: list[str], n: int) -> int:
    """Every n-gram of every row looked up in a Python set of the evaluation n-grams."""
    grams = {t[i:i + n] for t in normalise_texts(eval_texts) for i in range(len(t) - n + 1)}
    hits = 0
    for norm in normalise_texts(texts):
        hits += any(norm[i:i + n] in grams for i in range(len(norm) - n + 1))
    return hits


def policy_index(n: int) -> EvalIndex:
    """An index with the repository mixture policy's decontamination settings."""
    policy = load_mixture(ROOT / "mixture.yaml").decontamination
    return EvalIndex(n, max_eval_items=policy["boilerplate"]["eval_items"],
                     max_source_rows=policy["boilerplate"]["source_rows"], whole=True,
                     min_chars=policy["whole_min_chars"])


def EvalIndex_matches(eval_texts: list[str], texts: list[str]) -> list[str]:
    index = EvalIndex(13)
    index.add("eval", eval_texts)
    return [o for o in index.matches(texts) if o is not None]


FLAT_TASKS = ("sim_afqmc", "nli_cmnli", "cls_tnews")
# Zero-shot only, exact dedup; no near dedup (issue 18's setup). Decontamination stays on.
FLAT_POLICY = """total: null
weights: openba
temperature: 1.0
max_repeat: 1
formats: {weights: {zs_opt: 0.5, zs_noopt: 0.5}, max_exemplars: 3, exemplar_pool: 0.1}
tasks: {}
dedup: {exact: true, near: {enabled: false, threshold: 0.85, ngram: 5, num_perm: 128, exempt: []}}
decontamination: {enabled: true, ngram: 13, extra: []}
"""


def flat_sources(work: Path, rows: int) -> tuple[Path, Path, list[Path]]:
    """A copy of the project with the flat tasks' caps lifted, and raw JSON-lines files for them
    (DIR/<task>/train.json, ~rows in all): each bundled sample row repeated, every copy made
    distinct by a numbered suffix on its longest text field. Returns (project, data dir, the
    train files)."""
    import re
    import shutil

    project = work / "project"
    for folder in ("task_specs", "templates", "samples"):
        shutil.copytree(ROOT / folder, project / folder)
    data, trains = work / "raw", []
    for task_id in FLAT_TASKS:
        spec = project / "task_specs" / f"{task_id}.yaml"
        spec.write_text(re.sub(r"cap: \d+, ", "", spec.read_text("utf-8")), "utf-8")
        sample = pl.read_ndjson(ROOT / "samples" / task_id / "train.json")
        text = max((c for c, t in sample.schema.items() if t == pl.Utf8 and "label" not in c),
                   key=lambda c: sample[c].str.len_chars().mean())
        copies = -(-rows // len(FLAT_TASKS) // sample.height)
        big = pl.int_range(0, copies, eager=True).alias("__copy").to_frame().join(
            sample, how="cross")
        big = big.with_columns(pl.concat_str([pl.col(text), pl.lit("（编号"), pl.col("__copy"),
                                              pl.lit("）")]).alias(text)).drop("__copy")
        (data / task_id).mkdir(parents=True)
        big.write_ndjson(data / task_id / "train.json")
        shutil.copy(ROOT / "samples" / task_id / "dev.json", data / task_id / "dev.json")
        trains.append(data / task_id / "train.json")
    (work / "flat.yaml").write_text(FLAT_POLICY, "utf-8")
    return project, data, trains


def flanzh_cli(*args: str) -> float:
    """Seconds for one `flanzh ...` run in a fresh process, as a user runs it."""
    import subprocess

    command = Path(sys.executable).parent / "flanzh"     # the installed entry point
    start = time.perf_counter()
    subprocess.run([str(command), *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def whole_builds(flat_rows: int) -> None:
    """The CLI on flat sources against its I/O floor, and the small default build."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project, data, trains = flat_sources(work, flat_rows)
        raw_rows = sum(pl.scan_ndjson(t).select(pl.len()).collect().item() for t in trains)
        from flanzh.executors import default_executor, free_cores

        print(f"free cores {free_cores()}: the CLI's default executor is "
              f"{default_executor(free_cores())}")
        t_build = flanzh_cli("--root", str(project), "build", "--data-dir", str(data),
                             "--tasks", ",".join(FLAT_TASKS), "--mixture", str(work / "flat.yaml"),
                             "--out", str(work / "out"))
        _, t_read = timed("read", lambda: [pl.read_ndjson(t) for t in trains])
        shards = sorted((work / "out" / "data").rglob("*.parquet"))
        records = pl.concat([pl.read_parquet(s) for s in shards])
        _, t_write = timed("write", lambda: records.write_parquet(work / "again.parquet",
                                                                  **PARQUET_OPTIONS))
        floor = t_read + t_write
        print(f"whole CLI build, flat sources: {raw_rows:,} raw rows ({', '.join(FLAT_TASKS)}; "
              f"caps lifted, zero-shot, exact dedup) -> {records.height:,} records in "
              f"{t_build:.1f} s")
        print(f"               I/O floor: polars reads the raw files in {t_read:.2f} s + writes "
              f"the finished records in {t_write:.2f} s = {floor:.2f} s   build / floor "
              f"{t_build / floor:5.2f}x (target <= 3x)")
        t_small = flanzh_cli("build", "--out", str(work / "small"))
        print(f"small default build (`flanzh build` on the bundled samples): {t_small:.1f} s "
              "(target < 20 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--eval-rows", type=int, default=50_000)
    parser.add_argument("--near-rows", type=int, default=50_000)
    parser.add_argument("--flat-rows", type=int, default=1_500_000,
                        help="raw rows for the whole CLI build of flat sources")
    parser.add_argument("--only", choices=("steps", "builds"), default=None,
                        help="run only the per-step comparisons, or only the whole builds")
    args = parser.parse_args()
    if args.only != "steps":
        whole_builds(args.flat_rows)
    if args.only == "builds":
        return

    task = load_task(Project(ROOT), "sim_afqmc")
    raw = synthetic_rows(args.rows)
    print(f"rows: {args.rows:,} (~{raw['sentence1'].str.len_chars().mean() * 2:.0f} chars each)")

    normalised, t_norm = timed("normalise", lambda: normalise(task, raw, "train")[0])
    (rendered, _), t_render = timed("render", lambda: render_frame(task, normalised, seed=1))
    (checked, _), t_check = timed("check", lambda: check_records(task, rendered))
    ours = t_render + t_check
    _, t_base = timed("baseline", lambda: baseline_render_check(task, raw))
    print(f"render+check   flanzh {args.rows / ours:>10,.0f} rows/s   baseline (datasets.map + "
          f"jinja per row) {args.rows / t_base:>10,.0f} rows/s   ratio {t_base / ours:5.2f}x "
          "(target >= 15x)")

    with tempfile.TemporaryDirectory() as tmp:
        # flanzh's own path: normalise, then the build's render_task (plan, render, check,
        # exact dedup, records written as zstd parquet parts)
        def ours_pipeline():
            rows = normalise(task, raw, "train")[0]
            result = TaskResult(task, rows, rows_read=rows.height)
            render_task(result, 1, load_mixture(None), quota=None, folder=Path(tmp) / "ours")
            return result
        result, t_e2e = timed("e2e", ours_pipeline)
        records = pl.concat([pl.read_parquet(p) for p in result.parts])
        _, t_write = timed("write", lambda: records.write_parquet(Path(tmp) / "again.parquet",
                                                                  **PARQUET_OPTIONS))
        _, t_base_e2e = timed("baseline e2e", lambda: baseline_pipeline(task, raw, Path(tmp)))
    print(f"end to end     flanzh {args.rows / t_e2e:>10,.0f} rows/s   baseline pipeline "
          f"{args.rows / t_base_e2e:>10,.0f} rows/s   ratio {t_base_e2e / t_e2e:5.2f}x (target >= 4x)")
    print(f"               writing the {records.height:,} finished records alone "
          f"{records.height / t_write:>10,.0f} rows/s   whole / write-alone time "
          f"{t_e2e / t_write:5.2f}x (target <= 1.5x)")

    eval_texts = synthetic_rows(args.eval_rows, seed=99)["sentence1"].to_list()
    texts = (raw["sentence1"] + "\n" + raw["sentence2"]).to_list()

    def ours_decontam():
        index = EvalIndex(13)
        index.add("eval", eval_texts)
        return decontaminate(raw, pl.Series(texts), index)

    (_, dropped), t_ours = timed("decontam", ours_decontam)
    base_texts = texts[:args.near_rows]        # the baseline is slow: time it on fewer rows
    base_hits, t_base = timed("decontam-base",
                              lambda: decontam_baseline(base_texts, eval_texts, 13))
    ours_hits = sum(1 for o in EvalIndex_matches(eval_texts, base_texts))
    assert ours_hits == base_hits, "decontamination differs from the baseline"
    assert sum(dropped.values()) == base_hits, "decontamination differs from the baseline"
    ours_rate, base_rate = len(texts) / t_ours, len(base_texts) / t_base
    print(f"decontaminate  flanzh {ours_rate:>10,.0f} rows/s   baseline (set lookup) "
          f"{base_rate:>10,.0f} rows/s   ratio {ours_rate / base_rate:5.2f}x (target >= 60k rows/s; "
          f"{sum(dropped.values())} rows matched)")

    # the build's policy: each field a text, boilerplate left out, whole texts and items matched
    def policy_decontam():
        index = policy_index(13)
        index.add("eval", eval_texts)
        fields = pl.concat([raw["sentence1"], raw["sentence2"]])
        rows = np.concatenate([np.arange(raw.height)] * 2)
        order = np.argsort(rows, kind="stable")
        return decontaminate(raw, fields.gather(order), index, rows[order])

    (_, dropped), t_policy = timed("decontam-policy", policy_decontam)
    print(f"               with the build's policy (2 fields a row, boilerplate, whole texts) "
          f"{raw.height / t_policy:>10,.0f} rows/s (target >= 60k rows/s; "
          f"{sum(dropped.values())} rows matched)")
    eval_items, train, leaked = planted_cases(seed=1)
    plain = EvalIndex(13)
    plain.add("dev", ["\n".join(item) for item in eval_items])
    before = [o is not None for o in plain.matches(["\n".join(row) for row in train])]
    index = policy_index(13)
    index.add("dev", *flattened(eval_items))
    after = (index.owner_ids(*flattened(train), len(train)) >= 0).tolist()
    (p0, r0), (p1, r1) = precision_recall(before, leaked), precision_recall(after, leaked)
    print(f"planted cases  {len(train):,} rows, {sum(leaked)} leaked: 13-gram set lookup on joined "
          f"rows precision {p0:.2f} recall {r0:.2f}; the build's policy precision {p1:.2f} "
          f"recall {r1:.2f}")

    near = texts[:args.near_rows]
    _, t_near = timed("near", lambda: near_duplicate_flags(
        {"a": near[: len(near) // 2], "b": near[len(near) // 2:]}, threshold=0.85, ngram=5,
        num_perm=128, exempt=[]))
    print(f"near-dedup     flanzh {len(near) / t_near:>10,.0f} rows/s (target >= 17k rows/s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
