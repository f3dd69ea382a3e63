"""Bad input gives a clear error or a reported warning; banks and calibrations round-trip through JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.irt import Calibration, ItemBank, Priors, ResponseData, calibrate
from models.irt.simulate import simulate


def _with_flat_items() -> ResponseData:
    sim = simulate(400, 6, None, "2pl", random_state=3)
    student = np.concatenate([sim.student, np.arange(400), np.arange(400), [0]])
    item = np.concatenate([sim.item, np.full(400, 100), np.full(400, 101), [102]])
    correct = np.concatenate([sim.correct, np.ones(400), np.zeros(400), [1]])
    return ResponseData.from_arrays(student, item, correct.astype(int))


def test_irt_non_binary_responses_are_rejected_with_position() -> None:
    with pytest.raises(ValueError, match=r"not 0/1 \(position 2: 0.5"):
        ResponseData.from_arrays(["s1", "s1", "s2"], ["i1", "i2", "i1"], [1, 0, 0.5])
    with pytest.raises(ValueError, match="not 0/1"):
        ResponseData.from_arrays(["s1"], ["i1"], [float("nan")])


def test_irt_inestimable_items_are_reported_not_clipped() -> None:
    cal = calibrate(_with_flat_items(), "2pl")
    reasons = {w.item_id: w.reason for w in cal.warnings}
    assert reasons == {"100": "all correct", "101": "all wrong", "102": "answered once"}
    flat = np.isin(cal.bank.item_ids, ["100", "101", "102"])
    assert np.isnan(cal.bank.a[flat]).all() and np.isnan(cal.bank.b[flat]).all()
    assert np.isfinite(cal.bank.a[~flat]).all()
    items = {entry["item_id"]: entry for entry in json.loads(json.dumps(cal.to_dict()))["items"]}
    assert items["100"]["b"] is None
    # with priors on a and b they are estimated (finite), and the warning says the estimate rests on them
    cal = calibrate(_with_flat_items(), "2pl", priors=Priors(a_lognormal=(0, 0.5), b_normal=(0, 2)))
    assert np.isfinite(cal.bank.b).all()
    assert {w.item_id for w in cal.warnings} >= {"100", "101", "102"}
    assert all("priors" in w.action for w in cal.warnings if w.item_id in ("100", "101", "102"))
    b = dict(zip(cal.bank.item_ids, cal.bank.b))
    assert b["100"] < -1 and b["101"] > 1  # all correct -> easy, all wrong -> hard


def test_irt_calibration_json_round_trip() -> None:
    sim = simulate(300, 5, None, "3pl", random_state=1)
    cal = calibrate(ResponseData.from_arrays(sim.student, sim.item, sim.correct), "3pl")
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    for name in ("a", "b", "c", "se_a", "se_b", "se_c"):
        np.testing.assert_array_equal(getattr(back.bank, name), getattr(cal.bank, name))
    assert back.loglik == cal.loglik and back.model == "3pl" and back.priors == cal.priors
    bank = ItemBank.from_dict(json.loads(json.dumps(cal.bank.to_dict())))
    np.testing.assert_array_equal(bank.b, cal.bank.b)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "JSON object"),
        ({"model": "4pl", "items": []}, "'model'"),
        ({"model": "2pl", "items": []}, "non-empty list"),
        ({"model": "2pl", "items": [{"item_id": "x", "a": 1.0, "c": 0.0}]}, r"items\[0\] \(x\): field 'b' is missing"),
        ({"model": "2pl", "items": [{"item_id": "x", "a": "1", "b": 0.0, "c": 0.0}]}, "'a' must be a number"),
        ({"model": "2pl", "items": [{"item_id": "x", "a": 1, "b": 0, "c": 1.5}]}, r"\[0, 1\)"),
        ({"model": "2pl", "items": [{"a": 1, "b": 0, "c": 0}]}, "'item_id'"),
    ],
)
def test_irt_malformed_calibration_names_the_field(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calibration.from_dict(payload)


def test_irt_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown IRT model"):
        calibrate(_with_flat_items(), "4pl")
