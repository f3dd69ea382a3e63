"""The `best` learner model: Best-LR features plus recency counts and out-of-fold predictions of other models,
its configuration chosen on validation students held out of the training students."""

from models.ensemble.selection import Selection, select_on_validation, validation_split
from models.ensemble.stacked import ABLATION_CANDIDATES, StackedKT, best_stack

__all__ = ["ABLATION_CANDIDATES", "Selection", "StackedKT", "best_stack", "select_on_validation", "validation_split"]
