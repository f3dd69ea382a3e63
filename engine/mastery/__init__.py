"""Mastery: per-student IRT ability (EAP, SD) and per-skill P(learned), updated online per response.

`MasteryEngine` is the one engine the service and the simulator share; models plug in through the
`SkillModel` / `AbilityModel` protocols (`interfaces.py`).
"""

from engine.mastery.ability import GridEAP, irt_information, irt_p_correct
from engine.mastery.bkt import BKTParams, BKTSkillModel
from engine.mastery.engine import MasteryConfig, MasteryEngine
from engine.mastery.interfaces import AbilityModel, SkillModel
from engine.mastery.state import MasteryBatch, MasteryState

__all__ = [
    "AbilityModel", "BKTParams", "BKTSkillModel", "GridEAP", "MasteryBatch", "MasteryConfig", "MasteryEngine",
    "MasteryState", "SkillModel", "irt_information", "irt_p_correct",
]
