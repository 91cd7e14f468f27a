"""The quality report of a built folder: per-task and per-category tables (``flanzh stats``), and
plots the dataset card embeds: the realised mixture (categories -> tasks, like OpenBA's figure)
and per-task input/target length distributions."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import polars as pl

from .plots import box_stats, lengths_svg, mixture_svg

REPORT_DIR = "report"
MIXTURE_PLOT = "mixture.svg"
LENGTHS_PLOT = "lengths.svg"


def category_table(manifest: dict) -> list[dict]:
    """Per category: tasks, rows written, realised share, target share (when a total was set)."""
    totals = manifest["totals"]["rows_written"] or 1
    grouped: dict[str, dict] = defaultdict(lambda: {"tasks": 0, "rows": 0, "target": None,
                                                    "openba": None})
    for entry in manifest["tasks"].values():
        row = grouped[entry["category"]]
        row["tasks"] += 1
        row["rows"] += entry["rows_written"]
        if entry.get("target_share") is not None:
            row["target"] = (row["target"] or 0.0) + entry["target_share"]
        if entry.get("openba_share") is not None:
            row["openba"] = (row["openba"] or 0.0) + entry["openba_share"] / 100
    return [{"category": c, "tasks": r["tasks"], "rows": r["rows"],
             "realised_share": r["rows"] / totals, "target_share": r["target"],
             "openba_share": r["openba"]}
            for c, r in sorted(grouped.items())]


def _share(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _openba(task: dict) -> str:
    """OpenBA's share of this task (its spec's ``mixture.openba_share``, in percent)."""
    share = task.get("openba_share")
    return "—" if share is None else f"{share:g}%"


def stats_text(manifest: dict) -> str:
    """The tables ``flanzh stats`` prints and the report embeds (markdown): per task and per
    category, the policy's target share, the realised share and OpenBA's share (its figure, as
    the specs record it), so a build can be held against OpenBA's composition."""
    lines = ["| task | category | rows | target | realised | OpenBA | templates used | formats | "
             "gold labels |", "|---|---|---|---|---|---|---|---|---|"]
    for task_id, t in sorted(manifest["tasks"].items()):
        formats = ", ".join(f"{k} {v}" for k, v in t["formats"].items()) or "—"
        answers = ", ".join(f"{k} {v}" for k, v in (t.get("answers") or {}).items()) or "—"
        lines.append(f"| {task_id} | {t['category']} | {t['rows_written']} | "
                     f"{_share(t.get('target_share'))} | {_share(t['realised_share'])} | "
                     f"{_openba(t)} | {t['templates_used']}/{t['templates']} | {formats} | {answers} |")
    lines += ["", "| category | tasks | rows | target | realised | OpenBA |", "|---|---|---|---|---|---|"]
    for row in category_table(manifest):
        lines.append(f"| {row['category']} | {row['tasks']} | {row['rows']} | "
                     f"{_share(row['target_share'])} | {_share(row['realised_share'])} | "
                     f"{_share(row['openba_share'])} |")
    lines += ["", "| task | read | repeated | written | dropped by reason |", "|---|---|---|---|---|"]
    for task_id, t in sorted(manifest["tasks"].items()):
        drops = ", ".join(f"{k} {v}" for k, v in t["dropped"].items()) or "none"
        lines.append(f"| {task_id} | {t['rows_read']} | {t['rows_repeated']} | "
                     f"{t['rows_written']} | {drops} |")
    for extra in (decontamination_lines(manifest), benchmark_lines(manifest)):
        if extra:
            lines += [""] + extra
    return "\n".join(lines) + "\n"


def _top_matches(entry: dict) -> str:
    return "; ".join(f"{m['kind']} `{m['match']}` ({m['rows']})"
                     for m in entry.get("top", [])) or "—"


def decontamination_lines(manifest: dict) -> list[str]:
    """Per evaluation set: its items, the source rows it removed and the matches (n-grams, whole
    texts, whole items) that removed the most; then what was left out as boilerplate."""
    decon = manifest.get("decontamination") or {}
    if not decon.get("enabled"):
        return []
    removed = decon.get("removed") or {}
    lines = ["| evaluation set | rows | source rows removed | what removed the most rows |",
             "|---|---|---|---|"]
    for name, size in sorted((decon.get("eval_sets") or {}).items()):
        entry = removed.get(name) or {}
        lines.append(f"| {name} | {size} | {entry.get('rows', 0)} | {_top_matches(entry)} |")
    boiler = decon.get("boilerplate") or {}
    if boiler:
        examples = ", ".join(f"{e['kind']} `{e['match']}` ({e['eval_items']} items)"
                             for e in boiler.get("examples", [])[:5])
        lines += ["", f"Boilerplate is never a match: {boiler.get('ngrams', 0)} n-grams, "
                  f"{boiler.get('texts', 0)} whole texts and {boiler.get('items', 0)} whole items "
                  f"found in more than {boiler.get('eval_items')} evaluation items were left out"
                  + (f" (most common: {examples})" if examples else "")
                  + f", and a match found in more than {boiler.get('source_rows')} distinct rows "
                  "of the task being checked removes none of them."]
    return lines


def benchmark_lines(manifest: dict) -> list[str]:
    """Which benchmark splits the build kept out of training, or trained on."""
    bench = manifest.get("benchmark_splits") or {}
    tasks = bench.get("tasks") or {}
    if not tasks:
        return []
    listed = ", ".join(f"{tid} ({', '.join(b['splits'])})" for tid, b in sorted(tasks.items()))
    if bench.get("policy") == "include":
        return [f"Benchmark splits trained on (benchmark_splits: include, as OpenBA did): {listed}; "
                "their records' source_split reads benchmark:<split>."]
    return [f"Benchmark splits kept out of training (benchmark_splits: exclude; they are "
            f"evaluation sets for decontamination instead): {listed}."]


def _plot_mixture(manifest: dict, path: Path) -> None:
    tasks = sorted(manifest["tasks"].items(), key=lambda kv: (kv[1]["category"], kv[0]))
    tasks = [(tid, t["category"], t["rows_written"]) for tid, t in tasks if t["rows_written"] > 0]
    categories = [c for c in category_table(manifest) if c["rows"] > 0]
    path.write_text(mixture_svg(categories, tasks), "utf-8")


def _plot_lengths(folder: Path, manifest: dict, path: Path, known: dict | None) -> None:
    rows = []
    for tid, task in sorted(manifest["tasks"].items()):
        if task["rows_written"] <= 0:
            continue
        known_stats = (known or {}).get(tid)
        rows.append((tid, *(known_stats or _lengths_from_shards(folder, task))))
    path.write_text(lengths_svg(rows), "utf-8")


def _lengths_from_shards(folder: Path, task: dict) -> tuple[dict, dict]:
    """Box statistics of a task's input and target lengths, read from its shards (only the
    lengths are held: the streaming engine reads the text a row group at a time)."""
    lengths = pl.scan_parquet([folder / s for s in task["shards"]]).select(
        pl.col("inputs").str.len_chars(), pl.col("targets").str.len_chars()
    ).collect(engine="streaming")
    return box_stats(lengths["inputs"].to_numpy()), box_stats(lengths["targets"].to_numpy())


def write_report(folder: Path, manifest: dict, lengths: dict | None = None) -> list[str]:
    """Write ``report/`` (tables and the two plots) into a built folder; return its files.
    ``lengths``: per task, box_stats of its written records' input and target lengths, when the
    build knows them; other tasks' lengths are read from their shards."""
    report = Path(folder) / REPORT_DIR
    report.mkdir(exist_ok=True)
    _plot_mixture(manifest, report / MIXTURE_PLOT)
    _plot_lengths(Path(folder), manifest, report / LENGTHS_PLOT, lengths)
    (report / "report.md").write_text(
        "# flanzh build report\n\n"
        f"![mixture]({MIXTURE_PLOT})\n\n![lengths]({LENGTHS_PLOT})\n\n" + stats_text(manifest),
        "utf-8")
    return [f"{REPORT_DIR}/{name}" for name in (MIXTURE_PLOT, LENGTHS_PLOT, "report.md")]
