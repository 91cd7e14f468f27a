"""The report's two plots, written as SVG text: the realised mixture as two rings (categories
inside, tasks outside, like OpenBA's figure) and per-task length box plots on a log axis.

Plain SVG needs no plotting library (importing and drawing with one took longer than the rest of
a small build), is the same bytes for the same manifest, and renders on the hub and in any
browser."""

from __future__ import annotations

import html
import math

import numpy as np


def escape(text: str) -> str:
    """&, < and > as entities (xml.sax.saxutils.escape, which imports ssl through urllib)."""
    return html.escape(text, quote=False)


# Tableau's 20-colour categorical palette: neighbouring categories stay distinguishable.
PALETTE = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
           "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
           "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5")
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" '
            f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" {FONT}>\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")


def _text(x: float, y: float, text: str, size: float = 11, anchor: str = "start",
          extra: str = "") -> str:
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" '
            f'text-anchor="{anchor}"{extra}>{escape(text)}</text>')


def _wedge(cx: float, cy: float, inner: float, outer: float, start: float, end: float,
           colour: str, opacity: float = 1.0) -> str:
    """A ring segment from angle ``start`` to ``end`` (radians, clockwise from 12 o'clock)."""
    if end - start >= 2 * math.pi - 1e-9:          # a whole ring: two halves (one arc is empty)
        middle = start + math.pi
        return (_wedge(cx, cy, inner, outer, start, middle, colour, opacity) + "\n"
                + _wedge(cx, cy, inner, outer, middle, end, colour, opacity))

    def point(radius: float, angle: float) -> str:
        return f"{_num(cx + radius * math.sin(angle))} {_num(cy - radius * math.cos(angle))}"

    large = 1 if end - start > math.pi else 0
    path = (f"M {point(outer, start)} A {_num(outer)} {_num(outer)} 0 {large} 1 {point(outer, end)} "
            f"L {point(inner, end)} A {_num(inner)} {_num(inner)} 0 {large} 0 {point(inner, start)} Z")
    fade = "" if opacity == 1.0 else f' fill-opacity="{_num(opacity)}"'
    return f'<path d="{path}" fill="{colour}"{fade} stroke="white" stroke-width="1"/>'


def mixture_svg(categories: list[dict], tasks: list[tuple[str, str, int]]) -> str:
    """``categories``: rows of report.category_table with rows > 0, in order; ``tasks``:
    (task id, category, rows written > 0), grouped by category in the same order."""
    cx, cy, radius = 330.0, 330.0, 240.0
    body = [_text(cx, 28, "Realised mixture: categories (inner) and tasks (outer)", 14, "middle")]
    colours = {c["category"]: PALETTE[i % len(PALETTE)] for i, c in enumerate(categories)}
    total = sum(c["rows"] for c in categories)
    if total:
        angle = 0.0
        for c in categories:
            sweep = 2 * math.pi * c["rows"] / total
            body.append(_wedge(cx, cy, 0.3 * radius, 0.65 * radius, angle, angle + sweep,
                               colours[c["category"]]))
            angle += sweep
        angle = 0.0
        for task_id, category, rows in tasks:
            sweep = 2 * math.pi * rows / total
            body.append(_wedge(cx, cy, 0.65 * radius, radius, angle, angle + sweep,
                               colours[category], 0.85))
            middle = angle + sweep / 2
            x = cx + 1.04 * radius * math.sin(middle)
            y = cy - 1.04 * radius * math.cos(middle) + 3
            body.append(_text(x, y, task_id, 8, "start" if math.sin(middle) >= 0 else "end"))
            angle += sweep
        for i, c in enumerate(categories):
            y = 80 + 18 * i
            body.append(f'<rect x="720" y="{y - 10}" width="12" height="12" '
                        f'fill="{colours[c["category"]]}"/>')
            body.append(_text(738, y, f"{c['category']} ({100 * c['realised_share']:.1f}%)", 10))
    return _svg(960, 680, body)


def box_stats(values: np.ndarray) -> dict:
    """Median, quartiles and whiskers (the furthest values within 1.5 IQR of the box)."""
    if not len(values):
        return {}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    reach = 1.5 * (q3 - q1)
    low = values[values >= q1 - reach].min()
    high = values[values <= q3 + reach].max()
    return {"q1": float(q1), "median": float(median), "q3": float(q3), "low": float(low),
            "high": float(high)}


def lengths_svg(rows: list[tuple[str, dict, dict]]) -> str:
    """``rows``: (task id, box_stats of input lengths, box_stats of target lengths)."""
    name_width = 12 + 5.2 * max((len(task_id) for task_id, _, _ in rows), default=0)
    panel, gap, row_height, top = 380.0, 30.0, 18.0, 40.0
    height = top + row_height * max(len(rows), 1) + 40
    width = name_width + 2 * panel + gap + 20
    body = []
    for column, title in enumerate(("inputs length (characters)",
                                    "targets length (characters)")):
        left = name_width + column * (panel + gap)
        stats = [row[1 + column] for row in rows if row[1 + column]]
        low = max(1.0, min((s["low"] for s in stats), default=1.0))
        high = max(low * 10, max((s["high"] for s in stats), default=10.0))
        lo_exp, hi_exp = math.floor(math.log10(low)), math.ceil(math.log10(high))
        span = max(hi_exp - lo_exp, 1)

        def x_of(value: float, left=left, lo_exp=lo_exp, span=span) -> float:
            return left + panel * (math.log10(max(value, 1.0)) - lo_exp) / span

        bottom = top + row_height * max(len(rows), 1)
        body.append(_text(left + panel / 2, 24, title, 12, "middle"))
        body.append(f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(panel)}" '
                    f'height="{_num(bottom - top)}" fill="none" stroke="#333"/>')
        for exp in range(lo_exp, lo_exp + span + 1):
            x = x_of(10.0 ** exp)
            body.append(f'<line x1="{_num(x)}" y1="{_num(top)}" x2="{_num(x)}" '
                        f'y2="{_num(bottom)}" stroke="#ddd"/>')
            body.append(_text(x, bottom + 14, f"{10 ** exp:g}" if exp < 6 else f"1e{exp}",
                              9, "middle"))
        for i, row in enumerate(rows):
            y = top + row_height * (i + 0.5)
            if column == 0:
                body.append(_text(name_width - 6, y + 3, row[0], 8, "end"))
            s = row[1 + column]
            if not s:
                continue
            q1, q3 = x_of(s["q1"]), x_of(s["q3"])
            body.append(f'<line x1="{_num(x_of(s["low"]))}" y1="{_num(y)}" x2="{_num(q1)}" '
                        f'y2="{_num(y)}" stroke="#333"/>')
            body.append(f'<line x1="{_num(q3)}" y1="{_num(y)}" x2="{_num(x_of(s["high"]))}" '
                        f'y2="{_num(y)}" stroke="#333"/>')
            body.append(f'<rect x="{_num(q1)}" y="{_num(y - 5)}" width="{_num(max(q3 - q1, 1))}" '
                        f'height="10" fill="{PALETTE[1]}" stroke="#333"/>')
            median = x_of(s["median"])
            body.append(f'<line x1="{_num(median)}" y1="{_num(y - 5)}" x2="{_num(median)}" '
                        f'y2="{_num(y + 5)}" stroke="{PALETTE[2]}" stroke-width="2"/>')
    return _svg(width, height, body)
