"""MLflow pyfunc wrappers that load models from JSON parameters (no pickles).

`ZooPyfunc` wraps any model of the evaluation zoo (`engine.evaluation.zoo.MODELS`): the stored artifact
is `{"zoo_model": <name>, "params": <model.to_dict()>}` and loading calls that model class's
`from_dict`, so a new model family plugs in by being added to the zoo. `ModelSetPyfunc` wraps a whole
model set; its `predict` runs the set's `kt` component. Both are logged with MLflow's "models from code"
(a small Python file, see `pyfunc_code/`), so nothing is ever unpickled when loading.

`predict` takes a response table (pandas or polars) with the canonical columns `student_id`, `item_id`,
`skill_ids` (list of skill ids), `correct` and `seq`, and returns P(correct) for every row, each using
only that student's earlier rows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd  # MLflow's pyfunc input type (no schema inference from it)
import polars as pl

from engine.errors import ConfigError
from engine.evaluation.zoo import MODELS

CODE_DIR = Path(__file__).with_name("pyfunc_code")
PIP_REQUIREMENTS = ["equilearn", f"mlflow=={mlflow.__version__}", f"polars=={pl.__version__}", f"numpy=={np.__version__}"]


def zoo_payload(name: str, model: Any) -> dict[str, Any]:
    """The JSON stored for a fitted zoo model: its zoo name and its `to_dict()`."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return {"zoo_model": name, "params": model.to_dict()}


def model_class(name: str) -> Any:
    """The class behind a zoo name (the zoo holds factories; a factory may be the class itself)."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}") from None
    cls = factory if isinstance(factory, type) else type(factory())
    if not hasattr(cls, "from_dict"):
        raise ConfigError(f"model {name!r} ({cls.__name__}) has no from_dict(); it cannot be loaded from JSON")
    return cls


def model_from_json(payload: dict[str, Any]) -> Any:
    """A fitted zoo model from `{"zoo_model": name, "params": ...}` (or a bare to_dict() whose "model" is a zoo name)."""
    if "zoo_model" in payload:
        return model_class(str(payload["zoo_model"])).from_dict(payload["params"])
    name = payload.get("model")
    if name in MODELS:
        return model_class(str(name)).from_dict(payload)
    raise ConfigError(f"cannot tell which model this JSON holds: no 'zoo_model' key and 'model'={name!r} is not a zoo name")


def as_responses(model_input: Any) -> pl.DataFrame:
    """A pandas/polars/dict-of-lists input as a polars response table sorted by student and seq (stable)."""
    if isinstance(model_input, pl.DataFrame):
        frame = model_input
    elif isinstance(model_input, dict):
        frame = pl.DataFrame(model_input)
    else:
        frame = pl.from_pandas(model_input)
    missing = [c for c in ("student_id", "item_id", "skill_ids", "correct", "seq") if c not in frame.columns]
    if missing:
        raise ConfigError(f"prediction input is missing column(s): {', '.join(missing)}")
    return frame.with_columns(pl.col("student_id").cast(pl.Utf8), pl.col("item_id").cast(pl.Utf8),
                              pl.col("skill_ids").cast(pl.List(pl.Utf8)), pl.col("correct").cast(pl.Float64),
                              pl.col("seq").cast(pl.Int64))


def predict_in_input_order(model: Any, frame: pl.DataFrame) -> np.ndarray:
    """Predict sequentially (rows sorted by student, seq) and return the values in the caller's row order."""
    indexed = frame.with_row_index("_row").sort(["student_id", "seq"], maintain_order=True)
    p = np.asarray(model.predict_proba(indexed.drop("_row")), dtype=float)
    out = np.empty(frame.height)
    out[indexed["_row"].to_numpy()] = p
    return out


class ZooPyfunc(mlflow.pyfunc.PythonModel):
    """One zoo model, loaded from the `params` artifact (JSON)."""

    def load_context(self, context: Any) -> None:
        self.model = model_from_json(json.loads(Path(context.artifacts["params"]).read_text()))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:  # MLflow reads these hints
        return predict_in_input_order(self.model, as_responses(model_input))


class ModelSetPyfunc(mlflow.pyfunc.PythonModel):
    """A model set, loaded from the `model_set` artifact (JSON); `predict` uses its `kt` component."""

    def load_context(self, context: Any) -> None:
        from engine.registry.model_set import ModelSet

        self.model_set = ModelSet.from_dict(json.loads(Path(context.artifacts["model_set"]).read_text()))
        kt = self.model_set.components.get("kt")
        self.model = model_from_json(kt) if kt is not None else None

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:  # MLflow reads these hints
        if self.model is None:
            raise ConfigError(f"model set {self.model_set.name!r} has no 'kt' component to predict with")
        return predict_in_input_order(self.model, as_responses(model_input))


def log_pyfunc(name: str, code_file: str, artifact_key: str, payload: dict[str, Any],
               registered_model_name: str | None = None) -> Any:
    """Log `payload` as the JSON artifact of a models-from-code pyfunc in the active run; returns ModelInfo."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{artifact_key}.json"
        path.write_text(json.dumps(payload, indent=1, allow_nan=False))
        return mlflow.pyfunc.log_model(name=name, python_model=str(CODE_DIR / code_file), artifacts={artifact_key: str(path)},
                                       pip_requirements=PIP_REQUIREMENTS, registered_model_name=registered_model_name)


def log_zoo_model(name: str, model: Any, artifact_name: str | None = None) -> Any:
    """Log a fitted zoo model as a pyfunc (JSON parameters) in the active run."""
    return log_pyfunc(artifact_name or name, "zoo_model.py", "params", zoo_payload(name, model))
