"""The `best` learner model: Best-LR features plus recency counts and out-of-fold predictions of other models."""

from models.ensemble.stacked import StackedKT

__all__ = ["StackedKT"]
