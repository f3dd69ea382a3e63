"""Where `model build` runs its two model fits (the item bank's IRT and the skill model's BKT).

A fitter is a callable `fit(model, responses) -> model` that fits an unfitted `models` estimator and
returns it fitted, with an `engine` attribute naming where it runs ("local", "ray", ...). The local one
calls `model.fit`; `engine.distributed.kt.RayFitter` runs the same fit on Ray workers with the local
engine's answer. Everything else in a build (held-out replay, the predictor's choice, what the
recommender learns) runs in the calling process whichever fitter is given.
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl


class Fitter(Protocol):
    """Fits an unfitted estimator on a canonical response frame and returns it."""

    engine: str

    def __call__(self, model: Any, responses: pl.DataFrame) -> Any: ...


class LocalFitter:
    """`model.fit(responses)` in this process."""

    engine = "local"

    def __call__(self, model: Any, responses: pl.DataFrame) -> Any:
        return model.fit(responses)


LOCAL = LocalFitter()
