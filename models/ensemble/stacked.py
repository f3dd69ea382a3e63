"""`StackedKT` (zoo name `best`): a logistic learner model over Best-LR features, recency-weighted
counts and the logits of other learner models, stacked out of fold.

What it adds to Best-LR (Gervet et al. 2020):
- recency: exponentially decayed earlier wins and fails (decay rates `decays`) in the total, item and
  per-skill scopes, the sequence analogue of Best-LR's time windows (the data here have no timestamps)
  and of R-PFA's recency weighting: a student's last few answers say more than the full count;
- other models' views of the same history as extra columns: the Elo logit (student and per-skill skill
  against item difficulty, adapting during the sequence) and, when `models.bkt` is available, the
  logit of BKT-with-forgetting's P(correct) (a hidden-state view of learning and forgetting per skill).

Stacking without leakage: the training values of a sub-model's column are *out of fold*: training
students are split into `n_folds` groups; a sub-model fitted on the other groups predicts each group
sequentially, exactly as it would predict unseen test students. The sub-models are then refitted on all
training students for prediction. Sub-models that fail to import are left out (logged), so `best`
works with whatever models exist.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
from scipy.special import logit

from models.elo import Elo
from models.logistic.design import FeatureSet
from models.logistic.estimator import LogisticKT

log = logging.getLogger(__name__)

CLIP = 1e-4


def _elo() -> Elo:
    return Elo()


def _bkt_forget() -> Any:
    module = importlib.import_module("models.bkt")  # imported lazily: BKT is optional for `best`
    return module.bkt_forget()


def _load_bkt(payload: Mapping[str, Any]) -> Any:
    return importlib.import_module("models.bkt").BKT.from_dict(payload)


# name -> (factory of an unfitted sub-model, loader from its to_dict payload)
SUBMODELS: dict[str, tuple[Callable[[], Any], Callable[[Mapping[str, Any]], Any]]] = {
    "elo": (_elo, Elo.from_dict),
    "bkt": (_bkt_forget, _load_bkt),
}


def _sub_logit(model: Any, responses: pl.DataFrame) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(responses), dtype=float)
    return logit(np.clip(np.asarray(model.predict_proba(responses), dtype=float), CLIP, 1.0 - CLIP))


class StackedKT(LogisticKT):
    """Best-LR + recency counts + out-of-fold sub-model logits; see the module docstring.

    Parameters: `C`, `solver`, `max_iter`, `tol` of the logistic regression; `decays` recency rates;
    `submodels` names from `SUBMODELS` to stack (missing ones are skipped); `n_folds` for the
    out-of-fold training columns; `random_state` seeds the fold assignment of students.
    """

    model_name: ClassVar[str] = "best"

    def __init__(
        self,
        C: float = 1.0,
        solver: str = "newton-cg",
        max_iter: int = 1000,
        tol: float = 1e-4,
        decays: Sequence[float] = (0.0, 0.5, 0.9),
        submodels: Sequence[str] = ("elo", "bkt"),
        n_folds: int = 5,
        random_state: int | None = 0,
    ) -> None:
        super().__init__(C=C, solver=solver, max_iter=max_iter, tol=tol)
        self.decays = tuple(float(r) for r in decays)
        self.submodels = tuple(submodels)
        self.n_folds = n_folds
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "decays": list(self.decays),
            "submodels": list(self.submodels),
            "n_folds": self.n_folds,
            "random_state": self.random_state,
        }

    def _available(self) -> tuple[str, ...]:
        """The sub-models that exist in this build (after fit: the ones actually fitted)."""
        if hasattr(self, "submodels_"):
            return tuple(self.submodels_)
        names = []
        for name in self.submodels:
            if name not in SUBMODELS:
                raise ValueError(f"best: unknown sub-model {name!r}; known: {sorted(SUBMODELS)}")
            try:
                SUBMODELS[name][0]()
            except ImportError as exc:
                log.warning("best: sub-model %s unavailable (%s); fitting without it", name, exc)
                continue
            names.append(name)
        return tuple(names)

    def feature_set(self) -> FeatureSet:
        recency = [f"{kind}_r{i}" for i in range(len(self.decays)) for kind in ("wins", "fails")]
        return FeatureSet(
            onehot=("item", "skill"),
            scalar=("item_attempts", "item_wins", "total_attempts", "total_wins", *(f"item_{s}" for s in recency), *(f"total_{s}" for s in recency)),
            per_skill=("skill_attempts", "skill_wins", *(f"skill_{s}" for s in recency)),
            extra=tuple(f"logit_{name}" for name in self._available()),
            decays=self.decays,
        )

    # ---- the extra columns ------------------------------------------------------------------------
    def fit(self, responses: pl.DataFrame, callback: Callable[[int, int], None] | None = None) -> Self:
        """Fit (see the class docstring); `callback(done, total)` is called after each sub-model fit (progress
        reports only; total = sub-models x (folds + 1))."""
        if int(self.n_folds) < 2:
            raise ValueError(f"best: n_folds must be >= 2, got {self.n_folds!r}")
        self.__dict__.pop("submodels_", None)
        self.submodels_ = list(self._available())
        self._callback = callback
        try:
            return super().fit(responses)
        finally:
            self.__dict__.pop("_train_extra", None)
            self.__dict__.pop("_callback", None)

    def _fit_extra(self, ordered: pl.DataFrame) -> None:
        """Out-of-fold training columns, then each sub-model refitted on all training students."""
        students = ordered["student_id"].unique().sort()
        if students.len() < 2:
            raise ValueError(f"best: out-of-fold stacking needs at least 2 training students, got {students.len()}")
        n_folds = min(int(self.n_folds), students.len())  # every fold holds at least one student
        rng = np.random.default_rng(self.random_state)
        fold_of = pl.DataFrame({"student_id": students, "__fold__": rng.permutation(students.len()) % n_folds})
        folds = ordered.join(fold_of, on="student_id", how="left", maintain_order="left")["__fold__"].to_numpy()
        self._train_extra = {}
        self.fitted_submodels_ = {}
        callback = getattr(self, "_callback", None)
        total, done = len(self.submodels_) * (n_folds + 1), 0
        for name in self.submodels_:
            column = np.zeros(ordered.height)
            for f in range(n_folds):
                held = folds == f
                model = SUBMODELS[name][0]().fit(ordered.filter(pl.Series(~held)))
                column[held] = _sub_logit(model, ordered.filter(pl.Series(held)))
                done += 1
                if callback is not None:
                    callback(done, total)
            self._train_extra[f"logit_{name}"] = column
            self.fitted_submodels_[name] = SUBMODELS[name][0]().fit(ordered)
            done += 1
            if callback is not None:
                callback(done, total)

    def _extra_columns(self, ordered: pl.DataFrame) -> dict[str, np.ndarray]:
        if getattr(self, "_train_extra", None) is not None:
            return self._train_extra
        return {f"logit_{name}": _sub_logit(model, ordered) for name, model in self.fitted_submodels_.items()}

    # ---- online -----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        state = super().initial_state()
        state["submodels"] = {name: model.initial_state() for name, model in self.fitted_submodels_.items()}
        return state

    def _extra_online(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> dict[str, float]:
        out = {}
        for name, model in self.fitted_submodels_.items():
            p = float(np.clip(model.predict_next(state["submodels"][name], item_id, skill_ids), CLIP, 1.0 - CLIP))
            out[f"logit_{name}"] = float(np.log(p / (1.0 - p)))
        return out

    def _update_extra(self, state: dict[str, Any], item_id: str, skill_ids: Sequence[str], correct: float) -> None:
        response = {"item_id": item_id, "skill_ids": list(skill_ids), "correct": correct}
        for name, model in self.fitted_submodels_.items():
            model.update(state["submodels"][name], response)

    # ---- serialization ----------------------------------------------------------------------------
    def _extra_to_dict(self) -> dict[str, Any]:
        return {"submodels_fitted": {name: model.to_dict() for name, model in self.fitted_submodels_.items()}}

    def _before_load(self, payload: Mapping[str, Any]) -> None:
        self.submodels_ = list(payload["submodels_fitted"])  # the feature set depends on them

    def _extra_from_dict(self, payload: Mapping[str, Any]) -> None:
        stored = payload["submodels_fitted"]
        self.fitted_submodels_ = {name: SUBMODELS[name][1](stored[name]) for name in stored}
