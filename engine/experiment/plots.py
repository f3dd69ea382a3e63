"""Calibration and ROC curves: the numbers (JSON-ready) and small standalone SVG charts (no plotting library)."""

from __future__ import annotations

from html import escape

import numpy as np
from sklearn.metrics import roc_curve

from engine.evaluation.metrics import reliability_curve

SIZE, PAD = 360, 48
COLORS = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057", "#a05195")


def curves(y: np.ndarray, p: np.ndarray, n_bins: int = 10, max_points: int = 200) -> dict[str, list[float]]:
    """Reliability curve (equal-width bins) and ROC curve (thinned to at most `max_points` points)."""
    pred, obs, count = reliability_curve(y, p, n_bins)
    labels = np.asarray(y) >= 0.5
    out: dict[str, list[float]] = {"calibration_predicted": pred.tolist(), "calibration_observed": obs.tolist(),
                                   "calibration_count": count.astype(int).tolist(), "roc_fpr": [], "roc_tpr": []}
    if labels.any() and not labels.all():
        fpr, tpr, _ = roc_curve(labels, p)
        if fpr.size > max_points:
            keep = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
            fpr, tpr = fpr[keep], tpr[keep]
        out["roc_fpr"], out["roc_tpr"] = fpr.tolist(), tpr.tolist()
    return out


def _xy(x: float, y: float) -> str:
    return f"{PAD + x * (SIZE - 2 * PAD):.1f},{SIZE - PAD - y * (SIZE - 2 * PAD):.1f}"


def line_chart(title: str, xlabel: str, ylabel: str, series: dict[str, tuple[list[float], list[float]]]) -> str:
    """A square [0,1]x[0,1] chart with the diagonal, one polyline per series, and a legend."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" font-family="sans-serif">',
             f'<text x="{SIZE / 2}" y="18" font-size="13" text-anchor="middle">{escape(title)}</text>',
             f'<rect x="{PAD}" y="{PAD}" width="{SIZE - 2 * PAD}" height="{SIZE - 2 * PAD}" fill="none" stroke="#999"/>',
             f'<polyline points="{_xy(0, 0)} {_xy(1, 1)}" fill="none" stroke="#bbb" stroke-dasharray="4 3"/>']
    for t in (0.0, 0.5, 1.0):
        x, y = _xy(t, 0).split(",")
        parts.append(f'<text x="{x}" y="{SIZE - PAD + 14}" font-size="10" text-anchor="middle">{t:g}</text>')
        x, y = _xy(0, t).split(",")
        parts.append(f'<text x="{PAD - 6}" y="{float(y) + 3:.1f}" font-size="10" text-anchor="end">{t:g}</text>')
    parts.append(f'<text x="{SIZE / 2}" y="{SIZE - 10}" font-size="11" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(f'<text x="14" y="{SIZE / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {SIZE / 2})">{escape(ylabel)}</text>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        if xs:
            points = " ".join(_xy(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)) for x, y in zip(xs, ys))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        parts.append(f'<text x="{PAD + 6}" y="{PAD + 14 + 13 * i}" font-size="11" fill="{color}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def calibration_svg(per_model: dict[str, dict[str, list[float]]]) -> str:
    return line_chart("Calibration (test responses)", "mean predicted P(correct)", "observed correct rate",
                      {m: (c["calibration_predicted"], c["calibration_observed"]) for m, c in per_model.items()})


def roc_svg(per_model: dict[str, dict[str, list[float]]]) -> str:
    return line_chart("ROC (test responses)", "false positive rate", "true positive rate",
                      {m: (c["roc_fpr"], c["roc_tpr"]) for m, c in per_model.items()})
