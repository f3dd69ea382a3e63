"""Edge cases of the KT protocol metrics (engine/evaluation/metrics.py) that the mutation run showed untested.

Each expected value is computed by hand from the documented conventions: the label is `y >= 0.5`
(so a score of exactly 0.5 is a positive, and a prediction of exactly 0.5 predicts a positive),
log-loss clips predictions to [1e-7, 1 - 1e-7], ECE uses 10 equal-width bins by default.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from engine.evaluation.metrics import accuracy, auc, ece, logloss, reliability_curve, score


def test_a_score_of_one_half_is_a_positive_label_for_auc() -> None:
    # labels: y=0.5 -> positive, y=0.2 -> negative; the positive is ranked above the negative -> AUC 1
    assert auc(np.array([0.5, 0.2]), np.array([0.9, 0.1])) == 1.0


def test_single_class_auc_is_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))
        assert math.isnan(auc(np.zeros(3), np.array([0.1, 0.2, 0.3])))


def test_accuracy_threshold_is_inclusive_on_both_sides() -> None:
    # y=0.5 is label 1; p=0.5 predicts 1; so both rows are correct
    assert accuracy(np.array([0.5, 1.0]), np.array([0.9, 0.5])) == 1.0
    # y=0.5 (label 1) against p=0.4 (predicts 0): wrong
    assert accuracy(np.array([0.5]), np.array([0.4])) == 0.0


def test_logloss_clips_certain_predictions_to_1e_minus_7() -> None:
    eps = 1e-7
    assert logloss(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == -math.log(1 - eps)  # right and certain
    assert math.isclose(logloss(np.array([1.0]), np.array([0.0])), -math.log(eps))  # wrong and certain
    assert math.isclose(logloss(np.array([0.0]), np.array([1.0])), -math.log(eps))


def test_ece_uses_ten_bins_by_default() -> None:
    # p = 0.15 and 0.19 share the bin [0.1, 0.2) of 10 bins: mean p 0.17, observed 1/2 -> ECE 0.33
    # (with 11 bins they would split and give (0.85 + 0.19) / 2 = 0.52)
    y, p = np.array([1.0, 0.0]), np.array([0.15, 0.19])
    assert math.isclose(ece(y, p), 0.33)
    assert math.isclose(ece(y, p, n_bins=11), 0.52)


def test_score_reports_every_protocol_metric_by_hand() -> None:
    # positives 0.8, 0.3; negatives 0.4, 0.1 -> pairs 0.8>0.4, 0.8>0.1, 0.3<0.4, 0.3>0.1 -> AUC 3/4
    y, p = np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.8, 0.3, 0.4, 0.1])
    got = score(y, p)
    assert set(got) == {"auc", "rmse", "logloss", "accuracy", "ece"}
    assert got["auc"] == 0.75
    assert math.isclose(got["rmse"], math.sqrt((0.04 + 0.49 + 0.16 + 0.01) / 4))
    assert math.isclose(got["logloss"], -(math.log(0.8) + math.log(0.3) + math.log(0.6) + math.log(0.9)) / 4)
    assert got["accuracy"] == 0.75  # 0.3 predicts 0 for a positive
    # one row per bin: |1-0.8| + |1-0.3| + |0-0.4| + |0-0.1| over 4
    assert math.isclose(got["ece"], (0.2 + 0.7 + 0.4 + 0.1) / 4)


def test_a_prediction_of_one_falls_in_the_last_of_the_ten_bins() -> None:
    # p = 0.9 and 1.0 share the bin [0.9, 1.0]: mean p 0.95, observed 1/2 -> ECE 0.45
    assert math.isclose(ece(np.array([1.0, 0.0]), np.array([0.9, 1.0])), 0.45)
    # p = 0.85 and 0.95 lie in different bins: (|1 - 0.85| + |0 - 0.95|) / 2 = 0.55
    assert math.isclose(ece(np.array([1.0, 0.0]), np.array([0.85, 0.95])), 0.55)


def test_reliability_curve_defaults_to_ten_equal_width_bins() -> None:
    pred, obs, count = reliability_curve(np.array([1.0, 0.0, 1.0]), np.array([0.15, 0.19, 0.55]))
    assert pred == pytest.approx([0.17, 0.55])
    assert obs == pytest.approx([0.5, 1.0])
    assert count.tolist() == [2, 1]


def test_ece_of_no_rows_is_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(ece(np.array([]), np.array([])))
