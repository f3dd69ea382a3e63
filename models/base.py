"""The model protocol every learner in `models/` follows (scikit-learn style).

- The constructor takes hyperparameters only; `fit(responses)` returns `self`; learned state ends in `_`.
- `predict_proba(responses)` is *sequential*: the prediction for a row may use the fitted parameters and
  that student's earlier rows (by `seq`) in the same frame, never the row itself or later ones.
  It returns a float array aligned with the input rows.
- `update(state, response)` adds one response to a student's state (online), `initial_state()` makes
  the cold-start state.
- `to_dict()` / `from_dict()` give a versioned JSON-ready dict (no pickles).
- `get_params()` / `set_params(**params)` (from `Hyperparameters`) read and change the constructor's
  hyperparameters, so scikit-learn's `clone`, `GridSearchCV` and friends can tune any model.

Response frames use the canonical columns: `student_id`, `item_id`, `skill_ids` (list), `correct`
in [0, 1], `seq`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from sklearn.utils import Tags


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


class Hyperparameters:
    """`get_params` / `set_params` read from the constructor's signature, as scikit-learn's BaseEstimator.

    A model mixing this in must store every constructor argument unchanged under the same attribute
    name (check and convert values in `fit`, not in `__init__`): that is what lets `sklearn.base.clone`
    rebuild an unfitted copy and `GridSearchCV` set candidate values.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for name, param in inspect.signature(init).parameters.items():
            if name == "self":
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *args/**kwargs; hyperparameters must be named arguments")
            names.append(name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's hyperparameters by name; with `deep`, nested models' ones as `name__key` too."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters by name (`name__key` for a nested model's); ValueError naming an unknown one."""
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r}; "
                                 f"valid ones: {', '.join(valid) or '(none)'}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __sklearn_tags__(self) -> Tags:
        """scikit-learn's default tags: no target needed (`fit(responses)` takes the labels in the frame).
        Imported here so that loading a model does not load scikit-learn."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as JSON values (tuples become lists), for a model's `to_dict`."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
