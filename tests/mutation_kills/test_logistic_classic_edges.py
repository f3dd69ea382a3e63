"""The classic logistic models' hyperparameters and feature sets (models/logistic/classic.py) against the
module docstring: each model keeps every constructor argument under its own name (the `Hyperparameters`
contract), the subclasses' defaults are `LogisticKT`'s, IRT-LR backs off to skills unless told not to,
PFA counts recency-weighted successes and failures with r = 0.5 by default (none with `recency=None`),
AFM counts attempts on the identity scale, Best-LR has the Gervet et al. columns."""

from __future__ import annotations

import inspect

import pytest

from models.logistic import AFM, IRTLR, PFA, BestLR, LogisticKT

BASE_DEFAULTS = {name: p.default for name, p in inspect.signature(LogisticKT.__init__).parameters.items() if name != "self"}


@pytest.mark.parametrize("cls, extra", [(IRTLR, {"skill_backoff": True}), (PFA, {"recency": 0.5}), (AFM, {}), (BestLR, {})])
def test_defaults_are_the_base_models_and_the_documented_ones(cls, extra) -> None:
    assert cls().get_params() == {**BASE_DEFAULTS, **extra}


@pytest.mark.parametrize("cls, extra", [(IRTLR, {"skill_backoff": False}), (PFA, {"recency": 0.8}), (AFM, {}), (BestLR, {})])
def test_every_argument_is_kept(cls, extra) -> None:
    given = {"C": 0.3, "solver": "lbfgs", "max_iter": 7, "tol": 1e-3, **extra}
    assert cls(**given).get_params() == given


def test_feature_sets() -> None:
    assert IRTLR().feature_set().onehot == ("item", "skill")
    assert IRTLR(skill_backoff=False).feature_set().onehot == ("item",)
    classic = PFA(recency=None).feature_set()
    assert classic.onehot == ("skill",) and classic.per_skill == ("skill_wins", "skill_fails") and tuple(classic.decays) == ()
    recent = PFA().feature_set()
    assert recent.onehot == ("skill",) and tuple(recent.decays) == (0.5,)
    assert recent.per_skill == ("skill_wins", "skill_fails", "skill_wins_r0", "skill_fails_r0")
    assert tuple(PFA(recency=0.25).feature_set().decays) == (0.25,)
    afm = AFM().feature_set()
    assert afm.onehot == ("skill",) and afm.per_skill == ("skill_attempts",) and afm.transform == "identity"
    best = BestLR().feature_set()
    assert best.onehot == ("item", "skill") and best.per_skill == ("skill_attempts", "skill_wins")
    assert best.scalar == ("item_attempts", "item_wins", "total_attempts", "total_wins")
    assert (IRTLR.model_name, AFM.model_name, PFA.model_name, BestLR.model_name) == ("irt-lr", "afm", "pfa", "best-lr")
