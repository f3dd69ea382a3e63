"""Dichotomous item response theory: Rasch, 1PL, 2PL and 3PL by marginal maximum likelihood (Bock-Aitkin
EM over a fixed quadrature), ability estimation and the constant-time online posterior update.

Public API (see docs/irt.md):
- `IRT`: estimator over response frames (fit / predict_proba / update / to_dict / from_dict).
- `calibrate(ResponseData, model, ...) -> Calibration` (bank, loglik, AIC/BIC, warnings, JSON).
- `ItemBank`: calibrated items (a, b, c and SEs) with `to_dict` / `from_dict`.
- `eap`, `map_estimate`, `mle`: vectorized ability estimates; `OnlineAbility`: one-response update.
- `probability`, `item_information`, `test_information`, `expected_score`, `standard_error`.
"""

from models.irt.ability import AbilityEstimates, OnlineAbility, eap, map_estimate, mle
from models.irt.bank import ItemBank
from models.irt.calibration import Calibration, calibrate
from models.irt.data import ResponseData
from models.irt.diagnostics import ItemWarning
from models.irt.estimator import IRT
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature
from models.irt.response import expected_score, item_information, probability, standard_error, test_information

__all__ = [
    "IRT", "AbilityEstimates", "Calibration", "ItemBank", "ItemWarning", "OnlineAbility", "Priors", "Quadrature",
    "ResponseData", "calibrate", "eap", "expected_score", "item_information", "map_estimate", "mle", "probability",
    "standard_error", "test_information",
]
