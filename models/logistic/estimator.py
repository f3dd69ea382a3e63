"""`LogisticKT`: a logistic-regression learner model over causal history features (shared machinery).

Subclasses only say which features they use (`feature_set`); this class fits an L2-penalised logistic
regression on the sparse design matrix and provides the sequential `predict_proba`, the online
`initial_state` / `update` / `predict_next`, and versioned JSON serialization.

Fitting: with `solver="newton"` (the default) the design of the whole log is one `DesignPartition` and
`models.logistic.newton.newton_fit` runs the Newton iterations over it; the Ray engine
(engine/distributed/logistic.py) runs the same `newton_fit` over one `DesignPartition` per student
partition, built by the same `design_partition`, so both engines give the same coefficients. Any other
`solver` name is passed to scikit-learn's `LogisticRegression` (same objective; its `tol` is on the gradient
of the loss averaged over responses, so it stops further from the optimum) and fits locally only.

Sequential prediction: the features of a response use that student's earlier responses in the given
frame (by `seq`) and the fitted coefficients only. Items and skills never seen in training contribute 0
(their one-hot and per-skill columns do not exist); their counts still enter the total/item scopes.
Fractional `correct` values are fitted as the cross-entropy with target c (for scikit-learn: two weighted
rows, label 1 with weight c, label 0 with 1 - c; the same objective).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from models.base import Hyperparameters, check_fitted, check_format, json_params
from models.logistic.design import FeatureSet, Layout
from models.logistic.features import (
    ROW,
    counter_stats,
    new_counter,
    record,
    response_history,
    sequential_order,
    skill_history,
)
from models.logistic.newton import DesignPartition, NewtonResult, PartitionSum, newton_fit

NEWTON = "newton"  # this package's Newton fit, shared with the Ray engine (models/logistic/newton.py)


def vocabularies(ordered: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Sorted item ids and skill ids of a response frame (the union over partitions is the whole log's)."""
    items = sorted(ordered["item_id"].cast(pl.Utf8).unique().to_list())
    skills = sorted(ordered["skill_ids"].explode().drop_nulls().cast(pl.Utf8).unique().to_list())
    return items, skills


def check_both_outcomes(any_right: bool, any_wrong: bool) -> None:
    """ValueError unless some score is above 0 and some below 1 (else the fit has no finite optimum)."""
    if not (any_right and any_wrong):
        raise ValueError("training responses are all correct or all incorrect; a logistic model needs both")


def binary_targets(design: sp.csr_matrix, y: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
    """0/1 labels for scikit-learn; fractional scores become a label-1 and a label-0 row, weighted c and 1-c."""
    if np.all((y == 0.0) | (y == 1.0)):
        return design, y.astype(np.int8), None
    stacked = sp.vstack([design, design]).tocsr()
    labels = np.concatenate([np.ones(y.size, np.int8), np.zeros(y.size, np.int8)])
    weights = np.concatenate([y, 1.0 - y])
    keep = weights > 0
    return stacked[keep], labels[keep], weights[keep]


class LogisticKT(Hyperparameters):
    """Logistic regression on the columns of `feature_set()`; see the module docstring.

    Parameters: `C` inverse L2 strength (scikit-learn's, on the summed log-loss); `solver` "newton" (this
    package's Newton fit, which `--engine ray` shares: `max_iter` Newton steps, stop when the largest
    gradient entry of the summed penalised loss is <= `tol`) or a scikit-learn solver name (`max_iter`,
    `tol` passed to `LogisticRegression`).
    """

    model_name: ClassVar[str] = "logistic"
    format_version: ClassVar[int] = 1

    def __init__(self, C: float = 1.0, solver: str = NEWTON, max_iter: int = 1000, tol: float = 1e-6) -> None:
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    # ---- what the subclasses define ---------------------------------------------------------------
    def feature_set(self) -> FeatureSet:
        raise NotImplementedError(f"{type(self).__name__} must define feature_set()")

    def _fit_extra(self, ordered: pl.DataFrame) -> None:
        """Fit whatever the `extra` columns need, before the regression (none here)."""

    def _extra_columns(self, ordered: pl.DataFrame) -> dict[str, np.ndarray]:
        """Values of the `extra` columns for `ordered` rows (none here)."""
        return {}

    def _extra_online(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> dict[str, float]:
        return {}

    def _update_extra(self, state: dict[str, Any], item_id: str, skill_ids: Sequence[str], correct: float) -> None:
        """Advance the online state of the `extra` columns by one response (nothing here)."""

    def _extra_to_dict(self) -> dict[str, Any]:
        return {}

    def _extra_from_dict(self, payload: Mapping[str, Any]) -> None:
        """Restore what `_extra_to_dict` saved (nothing here)."""

    def _before_load(self, payload: Mapping[str, Any]) -> None:
        """Set whatever `feature_set()` depends on from a stored payload (nothing here)."""

    # ---- batch ------------------------------------------------------------------------------------
    def _design(self, ordered: pl.DataFrame) -> sp.csr_matrix:
        features = self.layout_.features
        return self.layout_.matrix(
            ordered["item_id"],
            response_history(ordered, features.decays),
            skill_history(ordered, features.decays),
            self._extra_columns(ordered) if features.extra else None,
        )

    def design_partition(self, ordered: pl.DataFrame) -> DesignPartition:
        """The design rows and scores of `ordered` (a `sequential_order` frame of whole students) against
        `layout_`: its share of the penalised loss. The Ray workers call this on their students."""
        return DesignPartition(self._design(ordered), ordered["correct"].to_numpy())

    def fit(self, responses: pl.DataFrame) -> Self:
        """Fit the coefficients on a canonical response frame (any row order; `seq` orders each student)."""
        ordered = sequential_order(responses)
        if ordered.height == 0:
            raise ValueError("cannot fit on an empty response frame")
        self.layout_ = Layout(self.feature_set(), *vocabularies(ordered))
        self._fit_extra(ordered)
        if self.solver == NEWTON:
            scores = ordered["correct"]
            check_both_outcomes(bool((scores > 0).any()), bool((scores < 1).any()))
            part = self.design_partition(ordered)
            return self.set_newton_result(newton_fit(PartitionSum([part]), self.layout_.n_columns, float(self.C),
                                                     int(self.max_iter), float(self.tol)))
        design, labels, weights = binary_targets(self._design(ordered), ordered["correct"].to_numpy())
        check_both_outcomes(bool(np.any(labels == 1)), bool(np.any(labels == 0)))
        regression = LogisticRegression(C=self.C, solver=self.solver, max_iter=self.max_iter, tol=self.tol)
        regression.fit(design, labels, sample_weight=weights)
        self.coef_ = regression.coef_.ravel().astype(float)
        self.intercept_ = float(regression.intercept_[0])
        self.n_iter_ = int(np.max(regression.n_iter_))
        return self

    def set_newton_result(self, result: NewtonResult) -> Self:
        """Take the coefficients of a `newton_fit` (local or Ray) as the fitted state; returns self."""
        self.intercept_ = float(result.beta[0])
        self.coef_ = np.asarray(result.beta[1:], dtype=float)
        self.n_iter_ = int(result.n_iter)
        return self

    def decision_function(self, responses: pl.DataFrame) -> np.ndarray:
        """Logit of P(correct) for every row, aligned with the input rows (sequential, no look-ahead)."""
        check_fitted(self, "coef_")
        ordered = sequential_order(responses)
        logits = self._design(ordered) @ self.coef_ + self.intercept_
        out = np.empty(ordered.height)
        out[ordered[ROW].to_numpy()] = logits
        return out

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        """P(correct) for every row, aligned with the input rows (sequential, no look-ahead)."""
        return expit(self.decision_function(responses))

    def coefficients(self) -> pl.DataFrame:
        """Every fitted coefficient with a readable column name."""
        check_fitted(self, "coef_")
        return pl.DataFrame({"column": self.layout_.column_names(), "coef": self.coef_})

    # ---- online -----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        """A new student's state: running counters for the total, per item and per skill (JSON-ready)."""
        check_fitted(self, "coef_")
        return {"total": new_counter(self.layout_.features.decays), "items": {}, "skills": {}}

    def predict_next(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> float:
        """P(correct) on `item_id` (tagged `skill_ids`) for a student in `state`."""
        check_fitted(self, "coef_")
        decays = self.layout_.features.decays
        empty = new_counter(decays)
        stats: dict[str, Mapping[str, float]] = {
            "total": counter_stats(state["total"], decays),
            "item": counter_stats(state["items"].get(item_id, empty), decays),
        }
        for skill in skill_ids:
            stats[skill] = counter_stats(state["skills"].get(skill, empty), decays)
        extra = self._extra_online(state, item_id, skill_ids) if self.layout_.features.extra else None
        cols, vals = self.layout_.row(item_id, skill_ids, stats, extra)
        return float(expit(self.intercept_ + float(np.dot(self.coef_[cols], vals)) if cols else self.intercept_))

    def update(self, state: dict[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        """Add one response (`item_id`, `skill_ids`, `correct`) to `state` in place and return it.

        Costs O(number of skills of the item).
        """
        check_fitted(self, "coef_")
        decays = self.layout_.features.decays
        item_id, skill_ids, correct = str(response["item_id"]), list(response["skill_ids"]), float(response["correct"])
        self._update_extra(state, item_id, skill_ids, correct)
        record(state["total"], correct, decays)
        record(state["items"].setdefault(item_id, new_counter(decays)), correct, decays)
        for skill in dict.fromkeys(skill_ids):
            record(state["skills"].setdefault(skill, new_counter(decays)), correct, decays)
        return state

    # ---- serialization ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Versioned JSON-ready dict: hyperparameters, feature set, vocabularies, coefficients."""
        check_fitted(self, "coef_")
        return {
            "model": self.model_name,
            "format_version": self.format_version,
            "params": json_params(self.get_params()),
            "features": self.layout_.features.to_dict(),
            "items": self.layout_.items,
            "skills": self.layout_.skills,
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "n_iter": self.n_iter_,
            **self._extra_to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Self:
        check_format(dict(payload), cls.model_name, cls.format_version)
        model = cls(**payload["params"])
        model._before_load(payload)
        features = FeatureSet.from_dict(payload["features"])
        if features != model.feature_set():
            raise ValueError(f"{cls.model_name}: stored feature set {features} does not match this build's {model.feature_set()}")
        model.layout_ = Layout(features, [str(v) for v in payload["items"]], [str(v) for v in payload["skills"]])
        model.coef_ = np.asarray(payload["coef"], dtype=float)
        if model.coef_.size != model.layout_.n_columns:
            raise ValueError(f"{cls.model_name}: {model.coef_.size} coefficients for {model.layout_.n_columns} columns")
        model.intercept_ = float(payload["intercept"])
        model.n_iter_ = int(payload["n_iter"])
        model._extra_from_dict(payload)
        return model

