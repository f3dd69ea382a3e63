"""Two honest baselines for the evaluation protocol: the global mean and the smoothed item mean."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import polars as pl

from models.base import Hyperparameters, check_fitted, check_format


class GlobalMean(Hyperparameters):
    """Predicts the training set's overall correct rate for every response."""

    format_version = 1

    def fit(self, responses: pl.DataFrame) -> Self:
        self.mean_ = float(responses["correct"].mean())
        return self

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        check_fitted(self, "mean_")
        return np.full(responses.height, self.mean_)

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "mean_")
        return {"model": "baseline-mean", "format_version": self.format_version, "mean": self.mean_}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> GlobalMean:
        check_format(payload, "baseline-mean", cls.format_version)
        model = cls()
        model.mean_ = float(payload["mean"])
        return model


class SmoothedItemMean(Hyperparameters):
    """Each item's training correct rate shrunk toward the global mean.

    p_i = (sum of correct on i + prior_weight * global mean) / (n_i + prior_weight);
    items not seen in training get the global mean.
    """

    format_version = 1

    def __init__(self, prior_weight: float = 5.0) -> None:
        self.prior_weight = prior_weight

    def fit(self, responses: pl.DataFrame) -> Self:
        mean = float(responses["correct"].mean())
        stats = responses.group_by("item_id").agg(pl.col("correct").sum().alias("s"), pl.len().alias("n"))
        p = (stats["s"] + self.prior_weight * mean) / (stats["n"] + self.prior_weight)
        self.global_mean_ = mean
        self.item_p_ = dict(zip(stats["item_id"].to_list(), p.to_list()))
        return self

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        check_fitted(self, "item_p_")
        table = pl.DataFrame(
            {"item_id": list(self.item_p_), "p": list(self.item_p_.values())},
            schema={"item_id": pl.Utf8, "p": pl.Float64},
        )
        joined = responses.select("item_id").join(table, on="item_id", how="left", maintain_order="left")
        return joined["p"].fill_null(self.global_mean_).to_numpy()

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "item_p_")
        return {
            "model": "baseline-item",
            "format_version": self.format_version,
            "prior_weight": self.prior_weight,
            "global_mean": self.global_mean_,
            "item_p": self.item_p_,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> SmoothedItemMean:
        check_format(payload, "baseline-item", cls.format_version)
        model = cls(prior_weight=float(payload["prior_weight"]))
        model.global_mean_ = float(payload["global_mean"])
        model.item_p_ = {str(k): float(v) for k, v in payload["item_p"].items()}
        return model
