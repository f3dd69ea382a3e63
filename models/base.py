"""The model protocol every learner in `models/` follows (scikit-learn style).

- The constructor takes hyperparameters only; `fit(responses)` returns `self`; learned state ends in `_`.
- `predict_proba(responses)` is *sequential*: the prediction for a row may use the fitted parameters and
  that student's earlier rows (by `seq`) in the same frame, never the row itself or later ones.
  It returns a float array aligned with the input rows.
- `update(state, response)` adds one response to a student's state (online), `initial_state()` makes
  the cold-start state.
- `to_dict()` / `from_dict()` give a versioned JSON-ready dict (no pickles).

Response frames use the canonical columns: `student_id`, `item_id`, `skill_ids` (list), `correct`
in [0, 1], `seq`.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import polars as pl


@runtime_checkable
class ResponseModel(Protocol):
    def fit(self, responses: pl.DataFrame) -> Self: ...

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


def check_fitted(model: object, attribute: str) -> None:
    """Raise a clear error when a model is used before `fit`."""
    if not hasattr(model, attribute):
        raise RuntimeError(f"{type(model).__name__} is not fitted yet; call fit(responses) first")


def check_format(payload: dict[str, Any], model: str, version: int) -> None:
    """Check a serialized model's name and format version before loading it."""
    if payload.get("model") != model:
        raise ValueError(f"expected a serialized {model!r} model, got {payload.get('model')!r}")
    if payload.get("format_version") != version:
        raise ValueError(f"{model}: unsupported format_version {payload.get('format_version')!r} (this build reads {version})")
