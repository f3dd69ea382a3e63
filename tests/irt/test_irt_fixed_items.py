"""Fixed-item (online) calibration: new items are calibrated on the scale the anchor items define."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from models.irt import ItemBank, ResponseData, calibrate


def test_irt_fixed_item_calibration_recovers_new_items_and_latent_shift() -> None:
    rng = np.random.default_rng(7)
    n_students, n_anchor, n_new = 3000, 20, 10
    a = rng.lognormal(0, 0.3, n_anchor + n_new)
    b = rng.normal(0, 1, n_anchor + n_new)
    theta = rng.normal(0.5, 1.2, n_students)  # this cohort is abler and more spread than N(0, 1)
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    y = (rng.random(p.shape) < p).astype(int)
    student = np.repeat(np.arange(n_students), n_anchor + n_new)
    item = np.tile(np.arange(n_anchor + n_new), n_students)
    anchors = ItemBank.from_arrays(np.arange(n_anchor).astype(str), a[:n_anchor], b[:n_anchor])

    cal = calibrate(ResponseData.from_arrays(student, item, y.ravel()), "2pl", anchors=anchors)
    assert cal.converged
    idx = cal.bank.item_ids.astype(int)
    anchor_rows = idx < n_anchor
    np.testing.assert_array_equal(cal.bank.a[anchor_rows], a[idx[anchor_rows]])  # anchors untouched
    assert np.isnan(cal.bank.se_a[anchor_rows]).all()
    new = ~anchor_rows
    # the anchors fix the scale, so the new items' truth needs no rescaling; tolerance from the SEs
    for est, se, truth in ((cal.bank.a, cal.bank.se_a, a), (cal.bank.b, cal.bank.se_b, b)):
        z2 = float(np.sum(((est[new] - truth[idx[new]]) / se[new]) ** 2))
        assert chi2.ppf(0.001, n_new) < z2 < chi2.ppf(0.999, n_new)
    # estimated ability distribution near the sample's (its sampling error is sd / sqrt(n) ~ 0.02)
    assert abs(cal.latent_mean - theta.mean()) < 0.1
    assert abs(cal.latent_sd - theta.std()) < 0.1
