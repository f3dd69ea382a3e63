"""BKT parameter recovery: data sampled from known parameters (models.bkt.simulate), fitted by EM.

Tolerances: with 1,000 simulated students x 20 responses per skill, the spread of the estimates over 12
replicate simulations (measured while writing these tests) was SD ~0.016 for prior, 0.005 for learn,
0.008 for guess, 0.004 for slip and 0.005 for forget. Each tolerance below is about 4 such SDs, so a
correct fit passes with near certainty and a biased one (e.g. a wrong M-step) fails.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.bkt import BKT
from models.bkt.simulate import simulate_bkt

TOL = {"prior": 0.06, "learn": 0.02, "guess": 0.03, "slip": 0.016, "forget": 0.02}


def _check(model: BKT, k: int, truth: dict[str, float]) -> None:
    for name, value in truth.items():
        got = getattr(model, f"{name}_")[k]
        assert abs(got - value) < TOL[name], f"skill {k} {name}: fitted {got:.4f}, true {value}"


def test_bkt_recovers_two_skills() -> None:
    truth = [dict(prior=0.3, learn=0.15, guess=0.2, slip=0.1), dict(prior=0.6, learn=0.05, guess=0.3, slip=0.15)]
    model = BKT(random_state=1).fit(simulate_bkt(truth, 1000, 20, seed=11))
    assert model.skills_ == ["s0", "s1"]
    for k, t in enumerate(truth):
        _check(model, k, t)
    assert (model.forget_ == 0).all()


def test_bkt_recovers_forgetting() -> None:
    truth = dict(prior=0.3, learn=0.15, guess=0.2, slip=0.1, forget=0.05)
    model = BKT(forgets=True, random_state=2).fit(simulate_bkt([truth], 1000, 20, seed=12))
    _check(model, 0, truth)


def test_bkt_idem_recovers_item_guesses() -> None:
    truth = dict(prior=0.3, learn=0.15, guess=0.0, slip=0.1)
    data = simulate_bkt([truth], 1500, 20, seed=13, item_guess=[[0.1, 0.4]])
    model = BKT(item_params=True, random_state=3).fit(data)
    table = dict(zip(model.item_guess_slip_["item"], model.item_guess_slip_["guess"]))
    # each item has about half the responses, so its SD is ~sqrt(2) larger: tolerance 0.04
    assert abs(table["s0-i0"] - 0.1) < 0.04 and abs(table["s0-i1"] - 0.4) < 0.04, table
    assert abs(model.learn_[0] - 0.15) < TOL["learn"]


def test_bkt_multiprior_recovers_group_priors() -> None:
    n = 1200
    group = np.where(np.arange(n) % 2 == 0, "low", "high")
    prior = np.where(group == "low", 0.1, 0.8)[:, None]
    data = simulate_bkt([dict(prior=0.0, learn=0.1, guess=0.2, slip=0.1)], n, 20, seed=14, student_prior=prior)
    band = pl.DataFrame({"student_id": [f"u{i}" for i in range(n)], "placement": group})
    data = data.join(band, on="student_id", how="left")
    model = BKT(prior_groups="placement", random_state=4).fit(data)
    priors = dict(zip(model.group_prior_["group"], model.group_prior_["prior"]))
    # each group has half the students: tolerance 0.08 (~4 SD of a 600-student prior)
    assert priors["low"] == pytest.approx(0.1, abs=0.08) and priors["high"] == pytest.approx(0.8, abs=0.08), priors
    # the state of a new student follows its group's prior
    low, high = model.initial_state("low"), model.initial_state("high")
    assert model.mastery_of(low, "s0") == pytest.approx(priors["low"])
    assert model.mastery_of(high, "s0") == pytest.approx(priors["high"])
