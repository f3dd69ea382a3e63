"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np

from engine.evaluation.metrics import accuracy, auc, ece, logloss, rmse


def test_auc_counts_correctly_ordered_pairs() -> None:
    # positives at 0.9, 0.4; negatives at 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) -> 3/4
    assert auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1])) == 0.75


def test_auc_of_single_class_is_nan() -> None:
    assert math.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))


def test_rmse_logloss_accuracy_by_hand() -> None:
    y, p = np.array([1.0, 0.0]), np.array([0.8, 0.4])
    assert math.isclose(rmse(y, p), math.sqrt((0.04 + 0.16) / 2))
    assert math.isclose(logloss(y, p), -(math.log(0.8) + math.log(0.6)) / 2)
    assert accuracy(y, p) == 1.0


def test_ece_by_hand() -> None:
    # bin [0.2,0.3): p=0.25 twice, observed 1/2 -> gap 0.25; bin [0.9,1]: p=0.95, observed 1 -> gap 0.05
    y, p = np.array([1.0, 0.0, 1.0]), np.array([0.25, 0.25, 0.95])
    assert math.isclose(ece(y, p), (2 * 0.25 + 1 * 0.05) / 3)
