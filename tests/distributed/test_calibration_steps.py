"""The public steps of `models.irt.calibration.calibrate` that the Ray calibration shares: the item plan
(anchors, screening) and the start values, against hand-computed cases; and the partitioned calibration,
which now runs exactly those steps, still gives the one-process result."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from engine.distributed.irt import calibrate_inline
from models.irt.bank import ItemBank
from models.irt.calibration import calibrate, plan_items, start_values
from models.irt.data import ResponseData
from models.irt.priors import Priors
from tests.distributed.conftest import simulated_log

IDS = np.array(["q0", "q1", "q2", "q3"], dtype=object)
N = np.array([10, 8, 5, 4])
RIGHT = np.array([6, 8, 0, 1])  # q1 all correct, q2 all wrong


def test_plan_leaves_out_items_without_a_finite_estimate_and_fixes_the_anchors() -> None:
    plan = plan_items("2pl", Priors(), IDS, N, RIGHT)
    assert plan.free.tolist() == [True, False, False, True] and plan.kept.tolist() == plan.free.tolist()
    assert [(w.item_id, w.reason) for w in plan.warnings] == [("q1", "all correct"), ("q2", "all wrong")]
    assert not plan.latent and not plan.fixed.any()

    anchors = ItemBank(np.array(["q1", "zz"], dtype=object), np.array([1.5, 1.0]), np.array([-0.4, 0.0]),
                       np.zeros(2), *(np.full(2, np.nan) for _ in range(3)))
    plan = plan_items("2pl", Priors(), IDS, N, RIGHT, anchors)
    assert plan.fixed.tolist() == [False, True, False, False] and plan.latent
    assert plan.kept.tolist() == [True, True, False, True]
    d, a, _ = plan.anchors
    assert a[1] == 1.5 and d[1] == pytest.approx(1.5 * 0.4)  # d = -a b
    assert [w.item_id for w in plan.warnings] == ["q2"]  # an anchored item is not screened

    with_priors = plan_items("2pl", Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0)), IDS, N, RIGHT)
    assert with_priors.free.all()  # priors identify the flat items
    with pytest.raises(ValueError, match="no item can be estimated"):
        plan_items("2pl", Priors(), IDS[1:3], N[1:3], RIGHT[1:3])


def test_start_values_are_the_shrunk_p_value_logits() -> None:
    coords = start_values("2pl", np.array([10.0, 3.0]), np.array([6.0, 0.0]), Priors())
    np.testing.assert_allclose(coords.d, [1.2 * logit(6.5 / 11), 1.2 * logit(0.5 / 4)])
    np.testing.assert_array_equal(coords.a, [1.0, 1.0])
    assert np.all(coords.g == -np.inf)
    three = start_values("3pl", np.array([10.0]), np.array([6.0]), Priors(c_beta=(5.0, 17.0)))
    c0 = 4.0 / 20.0  # mode of Beta(5, 17)
    np.testing.assert_allclose(three.g, [logit(c0)])
    np.testing.assert_allclose(three.d, [1.2 * logit((6.5 / 11 - c0) / (1 - c0))])


@pytest.mark.parametrize("model", ["2pl", "3pl"])
def test_partitioned_calibration_through_the_shared_steps_equals_calibrate(model: str) -> None:
    frame, sim = simulated_log(800, 12, 10, model=model, seed=4)
    local = calibrate(ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"]), model)
    mine = calibrate_inline(frame, 3, model=model)
    assert mine.n_iter == local.n_iter and mine.se_method == local.se_method
    for name in ("a", "b", "c", "se_a", "se_b"):
        np.testing.assert_allclose(getattr(mine.bank, name), getattr(local.bank, name), rtol=0, atol=1e-9)
    assert mine.loglik == pytest.approx(local.loglik, abs=1e-8)
    assert np.corrcoef(local.bank.b, sim.b)[0, 1] > 0.9  # and it is the simulation's calibration
