"""Calibration against published marginal-ML estimates (ltm for LSAT, mirt for LSAT7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import load
from models.irt import ResponseData, calibrate


def _data(shared_data: Path, name: str) -> ResponseData:
    frame = load(str(shared_data / "irt" / name), "wide").responses
    return ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"])


@pytest.fixture(scope="module")
def lsat(shared_data: Path) -> ResponseData:
    return _data(shared_data, "ltm_LSAT.csv")


def test_irt_lsat_2pl_matches_ltm(lsat: ResponseData) -> None:
    cal = calibrate(lsat, "2pl")
    assert list(cal.bank.item_ids) == ["Item 1", "Item 2", "Item 3", "Item 4", "Item 5"]
    np.testing.assert_allclose(cal.bank.a, [0.825, 0.723, 0.890, 0.689, 0.657], atol=0.01)
    np.testing.assert_allclose(cal.bank.b, [-3.360, -1.370, -0.280, -1.866, -3.124], atol=0.01)
    assert abs(cal.loglik - (-2466.65)) < 0.05
    assert cal.converged and cal.n_parameters == 10
    # AIC / BIC follow from the log-likelihood: 10 parameters, 1000 persons
    assert cal.aic == pytest.approx(2 * 2466.65 + 20, abs=0.1)
    assert cal.bic == pytest.approx(2 * 2466.65 + 10 * np.log(1000), abs=0.1)


def test_irt_lsat_1pl_matches_ltm(lsat: ResponseData) -> None:
    cal = calibrate(lsat, "1pl")
    np.testing.assert_allclose(cal.bank.a, 0.755, atol=0.01)
    np.testing.assert_allclose(cal.bank.b, [-3.615, -1.322, -0.318, -1.730, -2.780], atol=0.01)
    assert abs(cal.loglik - (-2466.94)) < 0.05


def test_irt_lsat_rasch_loglik(lsat: ResponseData) -> None:
    cal = calibrate(lsat, "rasch")
    assert np.all(cal.bank.a == 1.0)
    assert abs(cal.loglik - (-2473.05)) < 0.05


def test_irt_lsat7_2pl_matches_mirt(shared_data: Path) -> None:
    cal = calibrate(_data(shared_data, "mirt_LSAT7.csv"), "2pl")
    np.testing.assert_allclose(cal.bank.a, [0.988, 1.081, 1.706, 0.765, 0.736], atol=0.01)
    np.testing.assert_allclose(-cal.bank.a * cal.bank.b, [1.856, 0.808, 1.804, 0.486, 1.855], atol=0.01)
    assert abs(cal.loglik - (-2658.81)) < 0.05
