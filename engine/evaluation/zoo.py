"""Model names accepted by `equilearn kt evaluate --models`, each a factory of an unfitted model."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import ConfigError
from models.base import ResponseModel
from models.baselines import GlobalMean, SmoothedItemMean
from models.bkt import BKT, bkt_forget, bkt_idem
from models.elo import Elo
from models.irt.estimator import knowledge_tracing_irt
from models.ensemble import best_stack
from models.logistic import AFM, IRTLR, PFA, BestLR

MODELS: dict[str, Callable[[], ResponseModel]] = {
    "baseline-mean": GlobalMean,
    "baseline-item": SmoothedItemMean,
    "irt-lr": IRTLR,
    "afm": AFM,
    "pfa": PFA,
    "best-lr": BestLR,
    "elo": Elo,
    "best": best_stack,
    "bkt": BKT,
    "bkt-forget": bkt_forget,
    "bkt-idem": bkt_idem,
    "irt": knowledge_tracing_irt,
}


def make_model(name: str) -> ResponseModel:
    try:
        return MODELS[name]()
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}") from None


def parse_model_names(spec: str) -> list[str]:
    """Split a comma-separated list and check every name before any work starts."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ConfigError("--models is empty; give at least one model name")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(sorted(MODELS))}")
    return names
