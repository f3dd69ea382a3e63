"""Parameter recovery on simulated data with known truth; tolerances come from the reported SEs.

If the estimates are consistent and the standard errors right, z = (estimate - truth) / SE is about
N(0, 1) per item, so sum z^2 over I items is about chi-square(I). Each test asserts the sum lies
between the 0.1% and 99.9% quantiles: too large means biased estimates or SEs too small, too small
means SEs too large. The truth is put on the scale the model identifies (the simulated sample's own
ability mean and sd), since MML fixes the ability distribution at N(0, 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from models.irt import ResponseData, calibrate
from models.irt.simulate import simulate


def _z_sums(model: str, n_students: int, n_items: int, per_student: int | None, seed: int, se: str) -> dict[str, float]:
    sim = simulate(n_students, n_items, per_student, model, random_state=seed)
    cal = calibrate(ResponseData.from_arrays(sim.student, sim.item, sim.correct), model, standard_errors=se)
    assert cal.converged
    idx = cal.bank.item_ids.astype(int)
    mean, sd = sim.theta.mean(), sim.theta.std()
    truth = {"a": sim.a[idx] * sd, "b": (sim.b[idx] - mean) / sd, "c": sim.c[idx]}
    names = ["a", "b", "c"] if model == "3pl" else ["a", "b"]
    out = {}
    for name in names:
        z = (getattr(cal.bank, name) - truth[name]) / getattr(cal.bank, f"se_{name}")
        assert np.all(np.isfinite(z)), name
        out[name] = float(np.sum(z**2))
    return out


@pytest.mark.parametrize(
    ("model", "n_students", "n_items", "per_student", "se"),
    [
        ("2pl", 2000, 20, None, "observed"),  # complete
        ("2pl", 5000, 30, 10, "crossprod"),  # sparse: each student sees a third of the items
        ("3pl", 3000, 20, None, "observed"),  # complete, Beta(5, 17) prior on c
    ],
)
def test_irt_recovery_within_standard_errors(model: str, n_students: int, n_items: int, per_student: int | None, se: str) -> None:
    sums = _z_sums(model, n_students, n_items, per_student, seed=0, se=se)
    lo, hi = chi2.ppf(0.001, n_items), chi2.ppf(0.999, n_items)
    for name, value in sums.items():
        assert lo < value < hi, f"{model} {name}: sum z^2 = {value:.1f} outside chi2({n_items}) [{lo:.1f}, {hi:.1f}]"
