"""Recommender: candidates (outer fringe, review, advanced when ready) -> scores -> re-rank -> top k.

Every recommendation carries its score, components, a plain-language reason, the model versions and
the propensity with which it was chosen. A student whose level is not known yet gets placement questions
(`placement.py`). MTSS interventions live in `interventions.py`.
"""

from engine.recommend.config import COMPONENTS, RecommenderConfig
from engine.recommend.constraints import TeacherConstraints
from engine.recommend.effectiveness import ResourceEffectiveness
from engine.recommend.placement import PLACEMENT_SD, Placement, choose_placement, needs_placement
from engine.recommend.recommender import BatchChoice, Recommendation, Recommender

__all__ = [
    "BatchChoice", "COMPONENTS", "PLACEMENT_SD", "Placement", "Recommendation", "Recommender", "RecommenderConfig",
    "ResourceEffectiveness", "TeacherConstraints", "choose_placement", "needs_placement",
]
