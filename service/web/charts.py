"""Inline SVG charts for the pages (no JavaScript, no external asset): small multiples, one small panel per
group with the all-students line repeated in grey in every panel for reference, instead of many overlapping
curves. Every chart is an `<svg role="img">` with a title; the pages print the same numbers in a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

INK = "#1d3f8f"  # a group's line and intervals (contrast 9.2:1 on white)
REFERENCE = "#5f6368"  # the all-students line (6.3:1)
GRID = "#d0d4da"
BOUND = "#a33a00"  # a policy bound (6.0:1)


def _fmt_tick(value: float, pct: bool) -> str:
    if pct:
        return f"{value * 100:.0f}%"
    return "0" if value == 0 else f"{value:+.3g}"


def nice_ticks(lo: float, hi: float, target: int = 4) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) inside [lo, hi], zero included when in range."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks, t = [], first
    while t <= hi + 1e-12:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _scale(lo: float, hi: float, top: float, bottom: float):  # noqa: ANN202
    span = hi - lo or 1.0
    return lambda v: bottom - (v - lo) / span * (bottom - top)


def _nice_range(values: Sequence[float | None], pct: bool, floor: float | None = None) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if pct:
        return 0.0, 1.0
    lo, hi = (min(finite), max(finite)) if finite else (-0.1, 0.1)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if floor is not None:
        lo, hi = min(lo, -floor), max(hi, floor)
    pad = (hi - lo) * 0.1 or 0.05
    return lo - pad, hi + pad


def panel(title: str, labels: Sequence[str], points: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]] | None,
          *, pct: bool, y_range: tuple[float, float], bound: float | None = None, width: int = 230, height: int = 150) -> str:
    """One small panel: a group's values (dots joined by a line) with interval whiskers, the reference line
    (all students) dashed grey, hidden (suppressed) points marked; x = `labels` (weeks or bands)."""
    left, right, top, bottom = 40, width - 8, 22, height - 26
    y = _scale(*y_range, top, bottom)
    n = max(1, len(labels))
    step = (right - left) / n
    xs = [left + step * (i + 0.5) for i in range(n)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="{left}" y="14" font-size="12" font-weight="600" fill="#1a1a1a">{escape(title)}</text>']
    lo, hi = y_range
    ticks = [0.0, 0.5, 1.0] if pct else nice_ticks(lo, hi)
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{y(t) + 4:.1f}" font-size="10" text-anchor="end" fill="#333">{escape(_fmt_tick(t, pct))}</text>')
    if bound is not None and lo <= bound <= hi:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(bound):.1f}" y2="{y(bound):.1f}" stroke="{BOUND}" '
                     f'stroke-width="1.5" stroke-dasharray="2 3"/>')
    for x, label in zip(xs, labels, strict=True):
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="10" text-anchor="middle" fill="#333">{escape(label)}</text>')
    if reference:
        pts = [(x, r["value"]) for x, r in zip(xs, reference, strict=False) if r.get("value") is not None]
        if len(pts) > 1:
            parts.append('<polyline fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="5 3" points="{}"/>'.format(
                REFERENCE, " ".join(f"{x:.1f},{y(v):.1f}" for x, v in pts)))
        for x, v in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="2" fill="{REFERENCE}"/>')
    shown = [(x, p) for x, p in zip(xs, points, strict=False) if p.get("value") is not None]
    if len(shown) > 1:
        parts.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            INK, " ".join(f"{x:.1f},{y(p['value']):.1f}" for x, p in shown)))
    for x, p in zip(xs, points, strict=False):
        if p.get("value") is not None:
            if p.get("lo") is not None and p.get("hi") is not None:
                parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(max(p["lo"], lo)):.1f}" y2="{y(min(p["hi"], hi)):.1f}" '
                             f'stroke="{INK}" stroke-width="1.5"/>')
            parts.append(f'<circle cx="{x:.1f}" cy="{y(p["value"]):.1f}" r="3.5" fill="{INK}"/>')
        elif p.get("suppressed"):
            parts.append(f'<text x="{x:.1f}" y="{bottom - 4}" font-size="9" text-anchor="middle" fill="#333">hidden</text>')
    parts.append("</svg>")
    return "".join(parts)


def small_multiples(block: dict[str, Any], labels: Sequence[str], *, pct: bool, bound: float | None = None,
                    floor: float | None = None) -> list[dict[str, Any]]:
    """One panel per group of an attribute block (`engine.runtime.equity` series), all on one y range."""
    values = [v for g in block["groups"] for p in g["points"] for v in (p.get("lo"), p.get("hi"), p.get("value"))]
    values += [p.get("value") for p in block["overall"]]
    y_range = _nice_range(values, pct, floor)
    out = [{"group": "all students", "svg": panel("all students", labels, block["overall"], None, pct=pct, y_range=y_range,
                                                  bound=bound), "points": block["overall"]}]
    for g in block["groups"]:
        if all(p.get("value") is None for p in g["points"]):
            continue  # hidden everywhere (or no data): listed by name under the panels, no empty panel
        out.append({"group": g["group"], "svg": panel(g["group"], labels, g["points"], block["overall"], pct=pct,
                                                      y_range=y_range, bound=bound), "points": g["points"]})
    return out


def hidden_groups(block: dict[str, Any]) -> list[str]:
    """Groups of a block with no value shown anywhere (suppressed in every week or band)."""
    return [g["group"] for g in block["groups"] if all(p.get("value") is None for p in g["points"])]


def skill_panels(days: Sequence[float], p: Any, skills: Sequence[tuple[int, str]], threshold: float,
                 width: int = 200, height: int = 92) -> list[dict[str, Any]]:
    """Per practised skill: P(learned) after each day with answers (x: days since the first one), the mastery
    threshold dashed."""
    if not len(days):
        return []
    x0, x1 = days[0], max(days[-1], days[0] + 1e-9)
    left, right, top, bottom = 8, width - 8, 20, height - 8
    out = []
    for j, name in skills:
        ys = [float(p[k][j]) for k in range(len(days))]
        pts = " ".join(f"{left + (d - x0) / (x1 - x0) * (right - left) if x1 > x0 else (left + right) / 2:.1f},"
                       f"{bottom - v * (bottom - top):.1f}" for d, v in zip(days, ys, strict=True))
        title = f"{name}: {ys[0] * 100:.0f}% to {ys[-1] * 100:.0f}%"
        ty = bottom - threshold * (bottom - top)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
               f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
               f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="#f4f6f9" stroke="{GRID}"/>'
               f'<line x1="{left}" x2="{right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{BOUND}" stroke-dasharray="2 3"/>'
               f'<polyline fill="none" stroke="{INK}" stroke-width="2" points="{pts}"/>'
               f'<text x="{left}" y="13" font-size="11" fill="#1a1a1a">{escape(name[:30])} '
               f'<tspan font-weight="600">{ys[-1] * 100:.0f}%</tspan></text></svg>')
        out.append({"name": name, "svg": svg, "start": ys[0], "end": ys[-1]})
    return out


def count_line(days: Sequence[float], counts: Sequence[int], total: int, width: int = 420, height: int = 120) -> str:
    """Skills flagged mastered after each day with answers."""
    if not len(days):
        return ""
    x0, x1 = days[0], max(days[-1], days[0] + 1e-9)
    left, right, top, bottom = 34, width - 8, 10, height - 22
    hi = max(max(counts), 1)
    pts = " ".join(f"{left + (d - x0) / (x1 - x0) * (right - left):.1f},{bottom - c / hi * (bottom - top):.1f}"
                   for d, c in zip(days, counts, strict=True))
    title = f"Skills mastered: {counts[0]} after the first day, {counts[-1]} of {total} now"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{GRID}"/>'
            f'<text x="{left - 4}" y="{bottom + 4}" font-size="10" text-anchor="end">0</text>'
            f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{hi}</text>'
            f'<text x="{left}" y="{height - 6}" font-size="10">first day</text>'
            f'<text x="{right}" y="{height - 6}" font-size="10" text-anchor="end">latest</text>'
            f'<polyline fill="none" stroke="{INK}" stroke-width="2" points="{pts}"/></svg>')
