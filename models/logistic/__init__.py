"""Logistic learner models (IRT-as-LR, AFM, PFA, Best-LR) over causal history features."""

from models.logistic.classic import AFM, IRTLR, PFA, BestLR
from models.logistic.estimator import LogisticKT

__all__ = ["AFM", "IRTLR", "PFA", "BestLR", "LogisticKT"]
