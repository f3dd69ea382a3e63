"""Evaluation protocol: student-level splits, sequential prediction, metrics, baselines.

`evaluate(model, data)` scores a fitted model in one call and `kt_scorer(metric)` makes a scikit-learn
scorer of it (both in `engine.evaluation.scoring`, loaded on first use so that importing this package
stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate", "kt_scorer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from engine.evaluation import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module 'engine.evaluation' has no attribute {name!r}")
