"""Tied scores and score-0.5 labels in the MetricFrame's AUC (engine/fairness/metrics.py), against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.fairness.metrics import AUCMetric, Block


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
