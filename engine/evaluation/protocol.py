"""The KT evaluation protocol: fit on train students, predict each test response sequentially, score.

A prediction for a test response may use the trained parameters and that student's earlier test
responses only. One AUC is computed over all test responses (as the published leaderboards do).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.data.dataset import Dataset
from engine.evaluation.metrics import score
from engine.evaluation.splits import split_students
from engine.evaluation.zoo import make_model
from models.base import ResponseModel


@dataclass(frozen=True)
class Split:
    train: pl.DataFrame
    test: pl.DataFrame
    source: str  # "dataset" when the files carry their own split, else "students(seed=..)"


def protocol_split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The dataset's own train/test split when it has one, else a student-level split."""
    if dataset.test is not None:
        return Split(dataset.train, dataset.test, "dataset")
    train, test = split_students(dataset.train, test_fraction, seed)
    return Split(train, test, f"students(test_fraction={test_fraction}, seed={seed})")


def sort_sequential(responses: pl.DataFrame) -> pl.DataFrame:
    """Rows in the order sequential models expect: by student, then `seq`."""
    return responses.sort(["student_id", "seq"], maintain_order=True)


def evaluate_model(model: ResponseModel, train: pl.DataFrame, test: pl.DataFrame,
                   fitted: Callable[[], None] | None = None) -> dict[str, Any]:
    """Fit on train, predict test sequentially, return metrics plus fit and predict seconds; `fitted()` is
    called between the fit and the predictions (for progress reports)."""
    train = sort_sequential(train)
    test = sort_sequential(test)
    t0 = time.perf_counter()
    model.fit(train)
    t1 = time.perf_counter()
    if fitted is not None:
        fitted()
    p = np.asarray(model.predict_proba(test), dtype=float)
    t2 = time.perf_counter()
    if p.shape != (test.height,) or not np.all(np.isfinite(p)):
        raise RuntimeError(f"{type(model).__name__}.predict_proba returned {p.shape} values (need {test.height} finite)")
    return {**score(test["correct"].to_numpy(), p), "fit_seconds": round(t1 - t0, 3), "predict_seconds": round(t2 - t1, 3)}


def evaluate(dataset: Dataset, model_names: list[str], test_fraction: float = 0.2, seed: int = 0,
             progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Run the protocol for each named model on one dataset; the JSON written by `kt evaluate`.

    `progress(done, total, text)`, when given, is called as each step starts (fit, then predict, per model:
    `total` = 2 x models; `text` names the step) and once at the end."""
    split = protocol_split(dataset, test_fraction, seed)
    total = 2 * len(model_names)
    report = progress or (lambda done, total, text: None)
    results = {}
    for i, name in enumerate(model_names):
        report(2 * i, total, f"fit {name}")
        results[name] = evaluate_model(make_model(name), split.train, split.test,
                                       fitted=lambda i=i, name=name: report(2 * i + 1, total, f"predict {name}"))
    report(total, total, "done")
    return {
        "dataset": dataset.name,
        "split": split.source,
        "n_train": split.train.height,
        "n_test": split.test.height,
        "models": results,
    }
