"""Prediction metrics of the KT protocol: AUC, RMSE, log-loss, accuracy and expected calibration error.

`y` may hold fractional scores in [0, 1] (e.g. OULAD); RMSE and log-loss use them as they are, AUC and
accuracy use the label `y >= 0.5`.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

EPS = 1e-7


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    labels = np.asarray(y) >= 0.5
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, p))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def response_logloss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(n,) each response's log-loss, p clipped to [EPS, 1 - EPS] (what `logloss` averages)."""
    q = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    y = np.asarray(y, dtype=float)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q))


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(response_logloss(y, p)))


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(y) >= 0.5) == (np.asarray(p) >= 0.5)))


def reliability_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width bins of p: (mean predicted, mean observed, count) per non-empty bin."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    pred = np.bincount(bins, weights=p, minlength=n_bins)
    obs = np.bincount(bins, weights=y, minlength=n_bins)
    keep = count > 0
    return pred[keep] / count[keep], obs[keep] / count[keep], count[keep]


def ece(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: count-weighted mean |observed - predicted| over equal-width bins."""
    pred, obs, count = reliability_curve(y, p, n_bins)
    return float(np.sum(count * np.abs(obs - pred)) / np.sum(count)) if count.size else float("nan")


def score(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """All protocol metrics at once."""
    return {"auc": auc(y, p), "rmse": rmse(y, p), "logloss": logloss(y, p), "accuracy": accuracy(y, p), "ece": ece(y, p)}
