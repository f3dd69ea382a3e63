"""`kt evaluate --engine ray`: the KT protocol with the fit and the test-set predictions on Ray workers.

The fit is the model family's partitioned fit (`engine.distributed.kt.fit_on_ray`, the local fit's
parameters). The sequential predictions are cut by student: a test response's prediction uses the fitted
parameters and that student's earlier responses only (docs/design: "A sequential prediction uses only
that student's earlier responses"), so each worker predicts its students' rows with the fitted model and
the driver puts the probabilities back in the test set's row order and scores them
(`engine.evaluation.metrics.score`), exactly as `engine.evaluation.protocol.evaluate_model` does in one
process. Traffic per model: the fitted model out to each worker once, one float per test response back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from engine.data.dataset import Dataset
from engine.distributed.bkt import split_responses
from engine.distributed.kt import fit_on_ray, ray_family
from engine.evaluation.metrics import score
from engine.evaluation.protocol import protocol_split, sort_sequential
from engine.evaluation.zoo import make_model

ROW = "__row"  # the test set's row number, carried through a partition so its predictions can be put back


def predict_part(model: Any, part: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(row numbers, P(correct)) of one student-disjoint share of the test set (sorted by student, seq; with
    its row numbers), by the fitted `model`'s `predict_proba` (sequential, no look-ahead)."""
    rows = part[ROW].to_numpy()
    if not part.height:
        return rows, np.zeros(0)
    return rows, np.asarray(model.predict_proba(part.drop(ROW)), dtype=float)


def split_test(test: pl.DataFrame, n_parts: int) -> list[pl.DataFrame]:
    """`test` (sorted by student, seq) with its row numbers, cut into `n_parts` student-disjoint frames."""
    return split_responses(test.with_row_index(ROW), n_parts)


def gather(results: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> np.ndarray:
    """The workers' predictions put back in the test set's row order, shape (n_rows,); NaN where none came back."""
    p = np.full(n_rows, np.nan)
    for rows, values in results:
        if values.shape != rows.shape:
            raise RuntimeError(f"a partition returned {values.shape} predictions for {rows.shape} rows")
        p[rows] = values
    return p


def finite(p: np.ndarray, model: Any) -> np.ndarray:
    """`p` when every prediction came back finite, else RuntimeError (as `evaluate_model` checks)."""
    if not np.all(np.isfinite(p)):
        raise RuntimeError(f"{type(model).__name__}.predict_proba returned non-finite values (need {p.size} finite)")
    return p


class RayPredictor:
    """The test partitions in the object store (put once), predicted by one Ray task each (one CPU) per model;
    tasks, not actors, so no CPU stays held while the next model's fit actors start."""

    def __init__(self, ray: Any, parts: list[pl.DataFrame]) -> None:
        self.ray = ray
        self.parts = [ray.put(part) for part in parts]
        self.task = ray.remote(num_cpus=1)(predict_part)

    def __call__(self, model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        shared = self.ray.put(model)  # one copy for every task
        try:
            return self.ray.get([self.task.remote(shared, part) for part in self.parts])
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ValueError):
                raise ValueError(str(cause)) from None
            raise


def predict_inline(model: Any, test: pl.DataFrame, n_parts: int) -> np.ndarray:
    """The partitioned predictions with every part predicted in this process (the reference, and for tests)."""
    return gather([predict_part(model, part) for part in split_test(test, n_parts)], test.height)


def evaluate_fitted(model: Any, test: pl.DataFrame, predictor: RayPredictor, fit_seconds: float) -> dict[str, Any]:
    """Predict `test` (the predictor's partitions of it) and score: `evaluate_model`'s result for a fitted model."""
    t0 = time.perf_counter()
    p = finite(gather(predictor(model), test.height), model)
    seconds = time.perf_counter() - t0
    return {**score(test["correct"].to_numpy(), p), "fit_seconds": round(fit_seconds, 3), "predict_seconds": round(seconds, 3)}


def check_names(model_names: list[str]) -> None:
    """ConfigError, before any data is read, for a model that cannot fit on Ray (`ray_family` says why)."""
    for name in model_names:
        ray_family(make_model(name))


def evaluate_on_ray(dataset: Dataset, model_names: list[str], ray: Any, n_workers: int, test_fraction: float = 0.2,
                    seed: int = 0, progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """`engine.evaluation.protocol.evaluate` with every fit and prediction on the connected Ray cluster
    (`n_workers` partition actors); same arguments, progress steps and result."""
    check_names(model_names)
    split = protocol_split(dataset, test_fraction, seed)
    train, test = sort_sequential(split.train), sort_sequential(split.test)
    total = 2 * len(model_names)
    report = progress or (lambda done, total, text: None)
    predictor = RayPredictor(ray, split_test(test, n_workers))
    results = {}
    for i, name in enumerate(model_names):
        report(2 * i, total, f"fit {name}")
        t0 = time.perf_counter()
        model = fit_on_ray(make_model(name), train, ray, n_workers)
        fit_seconds = time.perf_counter() - t0
        report(2 * i + 1, total, f"predict {name}")
        results[name] = evaluate_fitted(model, test, predictor, fit_seconds)
    report(total, total, "done")
    return {"dataset": dataset.name, "split": split.source, "n_train": split.train.height, "n_test": split.test.height,
            "engine": "ray", "models": results}


def fit_and_predict_on_ray(model: Any, train: pl.DataFrame, test: pl.DataFrame, ray: Any, n_workers: int,
                           callback: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Fit `model` on `train` with its family's Ray fit, then predict `test` (sorted by student, seq)
    partitioned by student on Ray: `model.fit(train).predict_proba(test)` of the local engine (`audit model`)."""
    fit_on_ray(model, train, ray, n_workers, callback=callback)
    return finite(gather(RayPredictor(ray, split_test(test, n_workers))(model), test.height), model)
