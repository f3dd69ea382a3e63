"""Tiny inline-SVG charts for the self-contained HTML report (no plotting dependency).

Each function returns one `<svg>` element as text; coordinates are data units mapped onto a fixed
plotting area with axes, ticks and a legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 420, 320, 45
PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057", "#a05195")


def _x(v: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return PAD + (v - lo) / (hi - lo) * (WIDTH - 2 * PAD)


def _y(v: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2 * PAD)


def _axes(xlabel: str, ylabel: str, y_hi: float = 1.0, x_ticks: bool = True) -> list[str]:
    parts = [f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" fill="none" stroke="#999"/>']
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        if x_ticks:
            parts.append(f'<text x="{_x(t):.1f}" y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="middle">{t:g}</text>')
        parts.append(f'<text x="{PAD - 6}" y="{_y(t * y_hi, 0, y_hi) + 3:.1f}" font-size="10" text-anchor="end">{t * y_hi:.3g}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(f'<text x="12" y="{HEIGHT / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {HEIGHT / 2})">{escape(ylabel)}</text>')
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    return [f'<text x="{PAD + 6}" y="{PAD + 14 + 13 * i}" font-size="11" fill="{PALETTE[i % len(PALETTE)]}">{escape(n)}</text>'
            for i, n in enumerate(names)]


def _wrap(title: str, parts: list[str]) -> str:
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
    return head + f'<text x="{WIDTH / 2}" y="16" font-size="12" text-anchor="middle">{escape(title)}</text>' + "".join(parts) + "</svg>"


def roc_chart(title: str, fpr: Sequence[float], curves: dict[str, Sequence[float]], shade: tuple[str, str] | None = None) -> str:
    """ROC curves on a common FPR grid; `shade` = (group, reference) fills the area between them (ABROCA)."""
    parts = _axes("false positive rate", "true positive rate")
    parts.append(f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#ccc" stroke-dasharray="4"/>')
    if shade and all(k in curves and curves[k] for k in shade):
        a, b = curves[shade[0]], curves[shade[1]]
        outline = [(_x(f), _y(t)) for f, t in zip(fpr, a)] + [(_x(f), _y(t)) for f, t in reversed(list(zip(fpr, b)))]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)
        parts.append(f'<polygon points="{points}" fill="#d1495b" fill-opacity="0.25" stroke="none"/>')
    for i, (name, tpr) in enumerate(curves.items()):
        if tpr:
            points = " ".join(f"{_x(f):.1f},{_y(t):.1f}" for f, t in zip(fpr, tpr))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.5"/>')
    return _wrap(title, parts + _legend(list(curves)))


def calibration_chart(title: str, curves: dict[str, tuple[Sequence[float], Sequence[float]]]) -> str:
    """Reliability curves: mean predicted (x) against observed success (y) per group, diagonal = perfect."""
    parts = _axes("mean predicted probability", "observed success rate")
    parts.append(f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#ccc" stroke-dasharray="4"/>')
    for i, (name, (pred, obs)) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{_x(p):.1f},{_y(o):.1f}" for p, o in zip(pred, obs))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts += [f'<circle cx="{_x(p):.1f}" cy="{_y(o):.1f}" r="2.5" fill="{colour}"/>' for p, o in zip(pred, obs)]
    return _wrap(title, parts + _legend(list(curves)))


def bar_chart(title: str, bands: Sequence[str], groups: Sequence[str],
              values: dict[tuple[str, str], tuple[float, float, float]], ylabel: str) -> str:
    """Grouped bars: for each band, one bar per group with its CI whisker; values[(band, group)] = (v, lo, hi)."""
    top = max([hi for _, _, hi in values.values() if hi == hi] + [v for v, _, _ in values.values()] + [1e-9])
    top = min(1.0, top * 1.1) if top <= 1 else top * 1.1
    parts = _axes("", ylabel, y_hi=top, x_ticks=False)
    slot = (WIDTH - 2 * PAD) / max(1, len(bands))
    bar = slot * 0.8 / max(1, len(groups))
    for b, band in enumerate(bands):
        left = PAD + b * slot + slot * 0.1
        parts.append(f'<text x="{left + slot * 0.4:.1f}" y="{HEIGHT - PAD + 26}" font-size="10" text-anchor="middle">{escape(band)}</text>')
        for g, group in enumerate(groups):
            if (band, group) not in values:
                continue
            v, lo, hi = values[(band, group)]
            x = left + g * bar
            colour = PALETTE[g % len(PALETTE)]
            parts.append(f'<rect x="{x:.1f}" y="{_y(v, 0, top):.1f}" width="{bar * 0.9:.1f}" height="{_y(0, 0, top) - _y(v, 0, top):.1f}" fill="{colour}"/>')
            if lo == lo and hi == hi:
                cx = x + bar * 0.45
                parts.append(f'<line x1="{cx:.1f}" y1="{_y(lo, 0, top):.1f}" x2="{cx:.1f}" y2="{_y(hi, 0, top):.1f}" stroke="#333"/>')
    return _wrap(title, parts + _legend(list(groups)))


# ---- small multiples: one small panel per group, the reference drawn in grey in each ----------------------
SMALL = 210
_REF_GREY = "#6b6b6b"
_INK = "#1d3f8f"


def _small(title: str, body: list[str], xlabel: str, ylabel: str) -> str:
    size, pad = SMALL, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{pad}" y="14" font-size="11" font-weight="bold">{escape(title[:34])}</text>',
             f'<rect x="{pad}" y="{pad - 8}" width="{size - pad - 6}" height="{size - 2 * pad + 2}" fill="none" stroke="#999"/>',
             f'<text x="{(size + pad) / 2}" y="{size - 4}" font-size="9" text-anchor="middle">{escape(xlabel)}</text>',
             f'<text x="9" y="{size / 2}" font-size="9" text-anchor="middle" transform="rotate(-90 9 {size / 2})">{escape(ylabel)}</text>']
    return "".join(parts + body) + "</svg>"


def _sx(v: float) -> float:
    return 30 + v * (SMALL - 36)


def _sy(v: float) -> float:
    return SMALL - 36 - v * (SMALL - 58)


def roc_panel(title: str, fpr: Sequence[float], tpr: Sequence[float], reference: Sequence[float] | None,
              reference_name: str | None) -> str:
    """One group's ROC curve (blue) over the reference group's (grey), the area between them (ABROCA) shaded."""
    body = [f'<line x1="{_sx(0)}" y1="{_sy(0)}" x2="{_sx(1)}" y2="{_sy(1)}" stroke="#ccc" stroke-dasharray="3"/>']
    if reference and tpr:
        outline = [(_sx(f), _sy(t)) for f, t in zip(fpr, tpr)] + [(_sx(f), _sy(t)) for f, t in reversed(list(zip(fpr, reference)))]
        body.append('<polygon points="{}" fill="#d1495b" fill-opacity="0.3" stroke="none"/>'.format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)))
    if reference:
        body.append('<polyline points="{}" fill="none" stroke="{}" stroke-width="1.2" stroke-dasharray="4 2"/>'.format(
            " ".join(f"{_sx(f):.1f},{_sy(t):.1f}" for f, t in zip(fpr, reference)), _REF_GREY))
    if tpr:
        body.append('<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"/>'.format(
            " ".join(f"{_sx(f):.1f},{_sy(t):.1f}" for f, t in zip(fpr, tpr)), _INK))
    if reference_name:
        body.append(f'<text x="{_sx(0.98)}" y="{_sy(0.05)}" font-size="9" text-anchor="end" fill="{_REF_GREY}">grey: {escape(reference_name[:22])}</text>')
    return _small(title, body, "false positive rate", "true positive rate")


def calibration_panel(title: str, predicted: Sequence[float], observed: Sequence[float],
                      overall: tuple[Sequence[float], Sequence[float]] | None = None) -> str:
    """One group's reliability curve (blue dots) against the diagonal (perfect calibration) and all students (grey)."""
    body = [f'<line x1="{_sx(0)}" y1="{_sy(0)}" x2="{_sx(1)}" y2="{_sy(1)}" stroke="#ccc" stroke-dasharray="3"/>']
    if overall is not None and len(overall[0]) > 1:
        body.append('<polyline points="{}" fill="none" stroke="{}" stroke-width="1.2" stroke-dasharray="4 2"/>'.format(
            " ".join(f"{_sx(p):.1f},{_sy(o):.1f}" for p, o in zip(*overall)), _REF_GREY))
    if len(predicted) > 1:
        body.append('<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"/>'.format(
            " ".join(f"{_sx(p):.1f},{_sy(o):.1f}" for p, o in zip(predicted, observed)), _INK))
    body += [f'<circle cx="{_sx(p):.1f}" cy="{_sy(o):.1f}" r="2.4" fill="{_INK}"/>' for p, o in zip(predicted, observed)]
    return _small(title, body, "predicted chance of success", "observed success")
