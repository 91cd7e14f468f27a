"""The report's SVG plots: valid SVG, one ring segment per category and task, box plots whose
statistics match numpy's, the same bytes for the same manifest."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from flanzh.build.plots import box_stats, lengths_svg, mixture_svg

SVG = "{http://www.w3.org/2000/svg}"


def _categories(rows: dict[str, int]) -> list[dict]:
    total = sum(rows.values())
    return [{"category": c, "rows": n, "realised_share": n / total} for c, n in rows.items()]


def test_mixture_has_a_segment_per_category_and_task_and_names_them():
    categories = _categories({"cls": 30, "nli": 70})
    tasks = [("cls_a", "cls", 10), ("cls_b", "cls", 20), ("nli_c", "nli", 70)]
    svg = mixture_svg(categories, tasks)
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}path")) == 2 + 3
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for task_id, _, _ in tasks:
        assert task_id in texts
    assert "cls (30.0%)" in texts and "nli (70.0%)" in texts
    assert mixture_svg(categories, tasks) == svg          # same input, same bytes


def test_a_single_task_is_a_whole_ring_not_an_empty_arc():
    # one SVG arc from a point back to itself draws nothing: a 100% share is two halves
    svg = mixture_svg(_categories({"cls": 5}), [("cls_a", "cls", 5)])
    paths = ET.fromstring(svg).findall(f"{SVG}path")
    assert len(paths) == 4
    for path in paths:
        assert " A " in path.get("d")


def test_an_empty_build_draws_titles_only():
    root = ET.fromstring(mixture_svg([], []))
    assert root.findall(f"{SVG}path") == []
    assert ET.fromstring(lengths_svg([])).tag == f"{SVG}svg"


@pytest.mark.parametrize("values", [[1, 2, 3, 4, 100], [5], [10, 10, 10, 11], list(range(1, 40))])
def test_box_stats_are_quartiles_and_whiskers_within_one_and_a_half_iqr(values):
    array = np.array(values, dtype=float)
    stats = box_stats(array)
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    assert (stats["q1"], stats["median"], stats["q3"]) == (q1, median, q3)
    inside = array[(array >= q1 - 1.5 * (q3 - q1)) & (array <= q3 + 1.5 * (q3 - q1))]
    assert (stats["low"], stats["high"]) == (inside.min(), inside.max())


def test_box_stats_leave_out_an_outlier():
    assert box_stats(np.array([1, 2, 3, 4, 100.0]))["high"] == 4


def test_lengths_plot_has_a_box_per_task_and_panel_on_a_log_axis():
    rows = [("task_a", box_stats(np.array([10, 20, 30.0])), box_stats(np.array([1, 2.0]))),
            ("task_b", box_stats(np.array([100, 2000.0])), box_stats(np.array([5.0])))]
    root = ET.fromstring(lengths_svg(rows))
    boxes = [r for r in root.findall(f"{SVG}rect") if r.get("height") == "10"]
    assert len(boxes) == 4
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"task_a", "task_b", "1", "10", "100", "1000"} <= set(texts)
    # a box's edges sit at the log positions of its quartiles
    # (the inputs panel's axis runs from 10, its lowest whisker's decade, to 1000)
    axis = [t for t in root.iter(f"{SVG}text") if t.text in ("10", "100")][:2]
    x10, x100 = (float(t.get("x")) for t in axis)
    box = boxes[0]                                   # task_a's inputs: quartiles 15 and 25
    assert math.isclose(float(box.get("x")), x10 + (x100 - x10) * math.log10(1.5), abs_tol=0.02)
    width = (x100 - x10) * (math.log10(25) - math.log10(15))
    assert math.isclose(float(box.get("width")), width, abs_tol=0.02)


def test_a_builds_lengths_plot_is_the_plot_of_its_shards(tmp_path, monkeypatch):
    # the build plots the lengths its render steps saved (no second read of every record's
    # text); rewritten from the shards (`flanzh report`), the plot is the same
    from pathlib import Path

    from flanzh.build.pipeline import build
    from flanzh.build.report import LENGTHS_PLOT, REPORT_DIR, write_report
    from flanzh.project import Project

    import flanzh.build.report as report

    project = Project(Path(__file__).resolve().parent.parent)
    with monkeypatch.context() as patch:
        patch.setattr(report, "_lengths_from_shards", None)   # the build must not read them back
        manifest = build(project, tmp_path / "out", task_ids=["sim_afqmc", "mrc_cmrc2018"])
    plot = tmp_path / "out" / REPORT_DIR / LENGTHS_PLOT
    from_build = plot.read_text("utf-8")
    assert from_build.count('height="10"') == 2 * 2                  # a box per task and panel
    plot.unlink()
    write_report(tmp_path / "out", manifest)
    assert plot.read_text("utf-8") == from_build
