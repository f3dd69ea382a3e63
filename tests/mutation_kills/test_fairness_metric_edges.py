"""Edge cases of the MetricFrame's metrics (engine/fairness/metrics.py) that the mutation run showed untested.

References: scikit-learn's `roc_auc_score`, ECE from its definition on rows repeated by multiplicity,
and hand-computed ratios. Covers ties, labels of exactly 0.5, the 0/1 boundaries of every guard (one
row, one positive, one negative, a resample drawing nobody), students without rows, chunked resamples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.fairness.metrics import ONE, AUCMetric, Block, ECEMetric, RatioMetric


def test_auc_with_tied_scores_and_weights_equals_sklearn() -> None:
    rng = np.random.default_rng(4)
    student = np.repeat(np.arange(20), 6)
    p = rng.integers(0, 4, student.size) / 4  # only four distinct scores: many ties, each counted as one half
    y = np.where(rng.random(student.size) < p, 1.0, 0.0)
    y[::7] = 0.5  # a score of exactly 0.5 is a positive label
    metric = AUCMetric()
    state = metric.prepare(Block(student, 20, {"y": y, "p": p}))
    weights = rng.integers(0, 3, size=(3, 20)).astype(float)
    got = metric.evaluate(state, weights)
    for row, w in zip(got, weights):
        assert row == pytest.approx(roc_auc_score(y >= 0.5, p, sample_weight=w[student]), rel=1e-12)


def _reference_auc(y: np.ndarray, p: np.ndarray, multiplicity: np.ndarray) -> float:
    """scikit-learn's AUC with each row weighted by its student's multiplicity (NaN for one class)."""
    present = multiplicity > 0
    labels = y[present] >= 0.5
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, p[present], sample_weight=multiplicity[present]))


def test_auc_chunks_of_resamples_cover_every_resample(monkeypatch: pytest.MonkeyPatch) -> None:
    """More resamples than one chunk holds, and more resamples than students: each must equal sklearn's AUC.

    MAX_CELLS is lowered so that a 12-row block is evaluated two resamples at a time (the real bound,
    4e6 cells, would need millions of rows to reach the same code path)."""
    import engine.fairness.metrics as metrics

    monkeypatch.setattr(metrics, "MAX_CELLS", 24)
    rng = np.random.default_rng(7)
    student = np.repeat(np.arange(3), 4)
    y = np.array([1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0], dtype=float)
    p = rng.random(student.size)
    metric = AUCMetric()
    state = metric.prepare(Block(student, 3, {"y": y, "p": p}))
    weights = np.array([[1, 1, 1], [2, 0, 1], [0, 1, 2], [1, 2, 0], [3, 1, 1], [1, 0, 3], [2, 2, 1]], dtype=float)
    got = metric.evaluate(state, weights)
    expected = [_reference_auc(y, p, w[student]) for w in weights]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_auc_with_a_single_positive_or_a_single_negative_is_defined() -> None:
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    p = np.array([0.6, 0.1, 0.5, 0.9, 0.8, 0.4, 0.2, 0.3])
    student = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    metric = AUCMetric()
    state = metric.prepare(Block(student, 2, {"y": y, "p": p}))
    got = metric.evaluate(state, np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert got[0] == pytest.approx(2 / 3)  # student 0 alone: one positive (0.6) above negatives 0.1, 0.5
    assert got[1] == pytest.approx(2 / 3)  # student 1 alone: one negative (0.3) below positives 0.8, 0.4
    assert got[0] == pytest.approx(roc_auc_score(y[:4], p[:4]))
    assert got[1] == pytest.approx(roc_auc_score(y[4:], p[4:]))


def test_auc_of_a_one_class_resample_is_nan_without_warnings() -> None:
    """Bootstraps draw thousands of resamples; a one-class one is NaN, silently (no RuntimeWarning)."""
    student = np.array([0, 0, 1, 1])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    metric = AUCMetric()
    state = metric.prepare(Block(student, 2, {"y": y, "p": np.array([0.9, 0.2, 0.4, 0.1])}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = metric.evaluate(state, np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))
    assert np.isnan(got[:3]).all()
    assert got[3] == pytest.approx(0.75)  # 0.9 above both negatives, 0.2 above 0.1 only: 3 of 4 pairs


def test_ratio_metric_counts_a_student_without_rows_as_nothing() -> None:
    """A block may hold students with no rows (n_students > largest index + 1); they add 0 / 0."""
    metric = RatioMetric("rate", numerator="hit")
    block = Block(np.array([0, 0, 1]), 3, {"hit": np.array([1.0, 0.0, 1.0]), ONE: np.ones(3)})
    got = metric.evaluate(metric.prepare(block), np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 5.0], [0.0, 0.0, 4.0]]))
    assert got[0] == pytest.approx(2 / 3)
    assert got[1] == pytest.approx(1.0)  # student 1's one hit, twice
    assert np.isnan(got[2])  # only the row-less student drawn: no rows, no rate


def test_ratio_metric_boundaries_of_the_denominator() -> None:
    """One row (denominator exactly 1), a fractional denominator below 1, and a resample with none."""
    metric = RatioMetric("weighted_mean", numerator="num", denominator="den")
    block = Block(np.array([0, 1, 1]), 2, {"num": np.array([0.7, 0.1, 0.2]), "den": np.array([1.0, 0.25, 0.25])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = metric.evaluate(metric.prepare(block), np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    assert got[0] == pytest.approx(0.7)  # 0.7 / 1
    assert got[1] == pytest.approx(0.6)  # (0.1 + 0.2) / 0.5
    assert np.isnan(got[2])


def _reference_ece(y: np.ndarray, p: np.ndarray, multiplicity: np.ndarray, n_bins: int = 10) -> float:
    """ECE from its definition on the rows repeated by multiplicity: bins [k/n, (k+1)/n), the last one closed."""
    yy, pp = np.repeat(y, multiplicity.astype(int)), np.repeat(p, multiplicity.astype(int))
    if yy.size == 0:
        return float("nan")
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for k in range(n_bins):
        inside = (pp >= edges[k]) & ((pp < edges[k + 1]) if k < n_bins - 1 else (pp <= 1.0))
        if inside.any():
            total += inside.sum() * abs(yy[inside].mean() - pp[inside].mean())
    return total / yy.size


def test_ece_of_several_resamples_each_equals_the_definition() -> None:
    """Several resamples at once (each normalised by its own row count), with p = 1 rows in the last bin."""
    rng = np.random.default_rng(11)
    student = np.repeat(np.arange(4), 5)
    p = rng.random(student.size)
    p[[4, 19]] = 1.0  # a certainty in the last student's rows and in another's: bin 10 of 10, not beyond
    y = (rng.random(student.size) < p).astype(float)
    metric = ECEMetric()
    state = metric.prepare(Block(student, 4, {"y": y, "p": p}))
    weights = np.array([[1, 1, 1, 1], [2, 0, 1, 0], [0, 3, 0, 1], [1, 0, 0, 0]], dtype=float)
    got = metric.evaluate(state, weights)
    np.testing.assert_allclose(got, [_reference_ece(y, p, w[student]) for w in weights], rtol=1e-12)


def test_ece_of_one_row_and_of_an_empty_resample() -> None:
    """One row: ECE = |y - p|. No rows drawn: a float NaN, without warnings."""
    metric = ECEMetric()
    state = metric.prepare(Block(np.array([0, 1, 1]), 2, {"y": np.array([1.0, 0.0, 1.0]), "p": np.array([0.3, 0.5, 0.6])}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = metric.evaluate(state, np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert got.dtype == np.float64
    assert got[0] == pytest.approx(0.7)
    assert np.isnan(got[1])
