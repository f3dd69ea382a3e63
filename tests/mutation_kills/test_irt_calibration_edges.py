"""`Calibration` JSON (models/irt/calibration.py): `from_dict(to_dict(c))` gives back every field of `c`
(a round trip is its own truth), AIC / BIC by their definitions (-2 logL + 2 k, -2 logL + k log n), the
defaults of a minimal file ("model" and "items" only, as the docstring allows) and a ValueError naming
each malformed field."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from models.irt.bank import ItemBank
from models.irt.calibration import Calibration
from models.irt.diagnostics import ItemWarning
from models.irt.priors import Priors

BANK = ItemBank.from_arrays(["q1", "q2"], [1.1, 0.7], [-0.3, 0.9], [0.0, 0.0])
WARN = ItemWarning("q3", "all correct", 12, 12, "not estimated")


def full() -> Calibration:
    return Calibration(model="2pl", bank=BANK, loglik=-812.5, n_parameters=4, n_students=150, n_iter=37,
                       converged=False, max_change=3.5e-4, latent_mean=0.25, latent_sd=1.3,
                       priors=Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0)), warnings=[WARN], se_method="crossprod")


def test_round_trip_keeps_every_field() -> None:
    cal = full()
    payload = json.loads(json.dumps(cal.to_dict()))
    assert payload["aic"] == pytest.approx(2 * 812.5 + 2 * 4)
    assert payload["bic"] == pytest.approx(2 * 812.5 + math.log(150) * 4)
    assert payload["latent"] == {"mean": 0.25, "sd": 1.3}
    assert payload["warnings"] == [{"item_id": "q3", "reason": "all correct", "n_responses": 12, "n_correct": 12,
                                    "action": "not estimated"}]
    back = Calibration.from_dict(payload)
    for name in ("model", "loglik", "n_parameters", "n_students", "n_iter", "converged", "max_change", "latent_mean",
                 "latent_sd", "priors", "warnings", "se_method"):
        assert getattr(back, name) == getattr(cal, name), name
    assert isinstance(back.n_parameters, int) and isinstance(back.n_iter, int) and isinstance(back.converged, bool)
    assert back.bank.item_ids.tolist() == ["q1", "q2"] and back.bank.a.tolist() == [1.1, 0.7]
    assert back.aic == pytest.approx(cal.aic) and back.bic == pytest.approx(cal.bic)


def test_a_minimal_file_gets_the_documented_defaults() -> None:
    back = Calibration.from_dict({"model": "rasch", "items": BANK.to_records()})
    assert back.model == "rasch" and math.isnan(back.loglik) and math.isnan(back.max_change)
    assert (back.n_parameters, back.n_students, back.n_iter) == (0, 0, 0)
    assert back.converged is True and back.latent_mean == 0.0 and back.latent_sd == 1.0
    assert back.priors == Priors() and back.warnings == [] and back.se_method == "none"
    # null numbers are NaN; an empty or null latent block gives the standard normal
    nulls = Calibration.from_dict({"model": "2pl", "items": BANK.to_records(), "loglik": None, "latent": None})
    assert math.isnan(nulls.loglik) and nulls.latent_mean == 0.0 and nulls.latent_sd == 1.0
    part = Calibration.from_dict({"model": "2pl", "items": BANK.to_records(), "latent": {"mean": 0.5}})
    assert part.latent_mean == 0.5 and part.latent_sd == 1.0
    # BIC with no students counts log(1) = 0 per parameter
    assert Calibration("2pl", BANK, -10.0, 3, 0, 1, True, 0.0).bic == pytest.approx(20.0)


@pytest.mark.parametrize("key, value", [("loglik", "high"), ("n_iter", True), ("max_change", [1.0]), ("n_students", "9")])
def test_malformed_numbers_are_named(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^calibration field '{key}' must be a number, got {value!r}".replace("[", r"\[")):
        Calibration.from_dict({"model": "2pl", "items": BANK.to_records(), key: value})


def test_malformed_payloads() -> None:
    with pytest.raises(ValueError, match=r"^a calibration must be a JSON object, got list$"):
        Calibration.from_dict([])
    with pytest.raises(ValueError, match=r"^calibration field 'model' must be one of rasch, 1pl, 2pl, 3pl, got 'grm'$"):
        Calibration.from_dict({"model": "grm", "items": BANK.to_records()})
    with pytest.raises(ValueError, match=r"^calibration field 'priors' is malformed: "):
        Calibration.from_dict({"model": "2pl", "items": BANK.to_records(), "priors": {"d_normal": [0, 1]}})
    assert np.isfinite(Calibration.from_dict({"model": "2pl", "items": BANK.to_records(), "n_iter": 3.0}).n_iter)
