"""`FeatureSet` names (models/logistic/design.py): a scalar statistic is "<scope>_<statistic>" with scope
"total" or "item" (module docstring and `features.stat_names`); a bare scope names no statistic and is
refused with the documented ValueError, like any other unknown name."""

from __future__ import annotations

import pytest

from models.logistic.design import FeatureSet


@pytest.mark.parametrize("name", ["total", "item", "attempts", "total_", "item_nope"])
def test_a_scalar_without_a_known_statistic_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown statistic"):
        FeatureSet(scalar=(name,))


def test_known_scalars_are_accepted() -> None:
    assert FeatureSet(scalar=("total_attempts", "item_wins_r0"), decays=(0.5,)).scalar == ("total_attempts", "item_wins_r0")
