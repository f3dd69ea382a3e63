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

Choosing the configuration without the test split: with `candidates` (the zoo's `best` passes
`ABLATION_CANDIDATES`), `fit` first holds out `validation_fraction` of the *training* students, fits
every candidate on the others and keeps the one with the highest validation AUC (`selection_`), then
fits that configuration on all training students (`models/ensemble/selection.py`). The candidates share
the sub-models' out-of-fold columns on the fit part, so the selection costs one more stack of sub-model
fits plus one regression per candidate.
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
from models.ensemble.selection import Selection, score_candidates, validation_split
from models.logistic.design import FeatureSet
from models.logistic.estimator import LogisticKT
from models.logistic.features import ROW, sequential_order

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


# The configurations the `best` model chooses among on validation students (the ablation of docs/kt.md):
# Best-LR + Elo + BKT-forget logits; + item and total recency; + per-skill recency; + last answer (r = 0).
ABLATION_CANDIDATES: tuple[dict[str, Any], ...] = (
    {"decays": [], "skill_recency": False},
    {"decays": [0.5, 0.9], "skill_recency": False},
    {"decays": [0.5, 0.9], "skill_recency": True},
    {"decays": [0.0, 0.5, 0.9], "skill_recency": True},
)
CONFIG_KEYS = ("decays", "skill_recency", "submodels")

# (out-of-fold training columns by sub-model name, the sub-models refitted on all those rows)
Stack = tuple[dict[str, np.ndarray], dict[str, Any]]


def _sub_logit(model: Any, responses: pl.DataFrame) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(responses), dtype=float)
    return logit(np.clip(np.asarray(model.predict_proba(responses), dtype=float), CLIP, 1.0 - CLIP))


def stack_submodels(ordered: pl.DataFrame, names: Sequence[str], n_folds: int, random_state: int | None,
                    on_fit: Callable[[], None] | None = None) -> Stack:
    """Out-of-fold logit columns of each named sub-model over `ordered` (sequentially ordered rows) and each
    sub-model refitted on all of them; `on_fit()` is called after every sub-model fit."""
    students = ordered["student_id"].unique().sort()
    if students.len() < 2:
        raise ValueError(f"best: out-of-fold stacking needs at least 2 training students, got {students.len()}")
    n_folds = min(int(n_folds), students.len())  # every fold holds at least one student
    rng = np.random.default_rng(random_state)
    fold_of = pl.DataFrame({"student_id": students, "__fold__": rng.permutation(students.len()) % n_folds})
    folds = ordered.join(fold_of, on="student_id", how="left", maintain_order="left")["__fold__"].to_numpy()
    columns: dict[str, np.ndarray] = {}
    fitted: dict[str, Any] = {}
    for name in names:
        column = np.zeros(ordered.height)
        for f in range(n_folds):
            held = folds == f
            model = SUBMODELS[name][0]().fit(ordered.filter(pl.Series(~held)))
            column[held] = _sub_logit(model, ordered.filter(pl.Series(held)))
            if on_fit is not None:
                on_fit()
        columns[name] = column
        fitted[name] = SUBMODELS[name][0]().fit(ordered)
        if on_fit is not None:
            on_fit()
    return columns, fitted


def best_stack() -> StackedKT:
    """The zoo's `best`: the stacked model choosing among `ABLATION_CANDIDATES` on validation students."""
    return StackedKT(candidates=ABLATION_CANDIDATES)


class _Progress:
    """Counts sub-model fits for a `callback(done, total)`; the total grows as each phase is planned."""

    def __init__(self, callback: Callable[[int, int], None] | None) -> None:
        self.callback, self.done, self.total, self.final = callback, 0, 0, 0

    def add(self, steps: int) -> None:
        self.total += steps

    def plan_final(self, steps: int) -> None:
        """Set the final fit's share of the total (replanned once the chosen configuration is known)."""
        self.total += steps - self.final
        self.final = steps

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


def available_submodels(names: Sequence[str]) -> tuple[str, ...]:
    """The named sub-models that exist in this build (an unknown name is an error, a failed import a log line)."""
    out = []
    for name in names:
        if name not in SUBMODELS:
            raise ValueError(f"best: unknown sub-model {name!r}; known: {sorted(SUBMODELS)}")
        try:
            SUBMODELS[name][0]()
        except ImportError as exc:
            log.warning("best: sub-model %s unavailable (%s); fitting without it", name, exc)
            continue
        out.append(name)
    return tuple(out)


class StackedKT(LogisticKT):
    """Best-LR + recency counts + out-of-fold sub-model logits; see the module docstring.

    Parameters: `C`, `solver`, `max_iter`, `tol` of the logistic regression; `decays` recency rates
    (total and item scopes, and per skill when `skill_recency`); `submodels` names from `SUBMODELS` to
    stack (missing ones are skipped); `n_folds` for the out-of-fold training columns; `random_state`
    seeds the fold assignment and the validation split of students. `candidates`: None fits this one
    configuration; else a list of overrides of `decays` / `skill_recency` / `submodels`, one chosen on
    `validation_fraction` of the training students (module docstring; the choice is kept in `selection_`).
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
        skill_recency: bool = True,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        validation_fraction: float = 0.2,
    ) -> None:
        super().__init__(C=C, solver=solver, max_iter=max_iter, tol=tol)
        # stored as given (scikit-learn's clone and set_params need that); config() reads them
        self.decays = decays
        self.submodels = submodels
        self.n_folds = n_folds
        self.random_state = random_state
        self.skill_recency = skill_recency
        self.candidates = candidates
        self.validation_fraction = validation_fraction

    def config(self) -> dict[str, Any]:
        """The configuration in force: the constructor's, overridden by the validation choice after a selection."""
        selection = getattr(self, "selection_", None)
        chosen = selection.chosen_config if selection is not None else {}
        return {
            "decays": tuple(float(r) for r in chosen.get("decays", self.decays)),
            "skill_recency": bool(chosen.get("skill_recency", self.skill_recency)),
            "submodels": tuple(chosen.get("submodels", self.submodels)),
        }

    def _candidate(self, overrides: Mapping[str, Any]) -> StackedKT:
        """A single-configuration model with this model's other hyperparameters."""
        unknown = sorted(set(overrides) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"best: candidate {dict(overrides)} has unknown key(s) {unknown}; allowed: {list(CONFIG_KEYS)}")
        return StackedKT(**{**self.get_params(deep=False), **overrides, "candidates": None})

    def _available(self) -> tuple[str, ...]:
        """The sub-models that exist in this build (after fit: the ones actually fitted)."""
        if hasattr(self, "submodels_"):
            return tuple(self.submodels_)
        return available_submodels(self.config()["submodels"])

    def feature_set(self) -> FeatureSet:
        config = self.config()
        recency = [f"{kind}_r{i}" for i in range(len(config["decays"])) for kind in ("wins", "fails")]
        return FeatureSet(
            onehot=("item", "skill"),
            scalar=("item_attempts", "item_wins", "total_attempts", "total_wins", *(f"item_{s}" for s in recency), *(f"total_{s}" for s in recency)),
            per_skill=("skill_attempts", "skill_wins", *(f"skill_{s}" for s in recency if config["skill_recency"])),
            extra=tuple(f"logit_{name}" for name in self._available()),
            decays=config["decays"],
        )

    # ---- fitting ----------------------------------------------------------------------------------
    def fit(self, responses: pl.DataFrame, callback: Callable[[int, int], None] | None = None) -> Self:
        """Fit (see the class docstring); `callback(done, total)` is called after each sub-model fit (progress
        reports only; total = sub-models x (folds + 1), once more for the selection when `candidates` is set)."""
        if int(self.n_folds) < 2:
            raise ValueError(f"best: n_folds must be >= 2, got {self.n_folds!r}")
        for name in ("submodels_", "selection_"):
            self.__dict__.pop(name, None)
        progress = _Progress(callback)
        students = responses["student_id"].n_unique() if "student_id" in responses.columns else 1
        final_folds = min(int(self.n_folds), max(students, 1)) + 1
        try:
            if self.candidates is not None:
                self.selection_ = self._select(responses, progress, final_folds)
            self.submodels_ = list(self._available())
            progress.plan_final(len(self.submodels_) * final_folds)
            self._on_fit = progress.step
            return super().fit(responses)
        finally:
            for name in ("_train_extra", "_on_fit", "_given_stack"):
                self.__dict__.pop(name, None)

    def _select(self, responses: pl.DataFrame, progress: _Progress, final_folds: int) -> Selection:
        """Choose among `candidates` on validation students held out of `responses` (training students only)."""
        if not self.candidates:
            raise ValueError("best: candidates is an empty list; give at least one configuration, or None for no selection")
        models = [self._candidate(c) for c in self.candidates]
        fit_part, held = validation_split(sequential_order(responses).drop(ROW), self.validation_fraction, self.random_state)
        names = list(dict.fromkeys(n for m in models for n in m._available()))
        # planned up front: the selection's fits, and the final fit's as if it used every candidate's sub-models
        progress.add(len(names) * (min(int(self.n_folds), fit_part["student_id"].n_unique()) + 1))
        progress.plan_final(len(names) * final_folds)
        shared = stack_submodels(fit_part, names, self.n_folds, self.random_state, progress.step)
        remaining = iter(models)
        return score_candidates(self.candidates, lambda _: next(remaining), fit_part, held, self.validation_fraction,
                                self.random_state, lambda model, frame: model._fit_on_stack(frame, shared))

    def _fit_on_stack(self, responses: pl.DataFrame, stack: Stack) -> Self:
        """Fit with the sub-model columns already computed on exactly these rows (shared by the candidates)."""
        self._given_stack = stack
        return self.fit(responses)

    def _fit_extra(self, ordered: pl.DataFrame) -> None:
        """Out-of-fold training columns, then each sub-model refitted on all training students."""
        given = getattr(self, "_given_stack", None)
        if given is None:
            columns, fitted = stack_submodels(ordered, self.submodels_, self.n_folds, self.random_state,
                                              getattr(self, "_on_fit", None))
        else:
            columns, fitted = given
            if any(columns[n].shape != (ordered.height,) for n in self.submodels_):
                raise RuntimeError("best: the shared sub-model columns do not match the rows being fitted")
        self._train_extra = {f"logit_{name}": columns[name] for name in self.submodels_}
        self.fitted_submodels_ = {name: fitted[name] for name in self.submodels_}

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
        out: dict[str, Any] = {"submodels_fitted": {name: model.to_dict() for name, model in self.fitted_submodels_.items()}}
        if getattr(self, "selection_", None) is not None:
            out["selection"] = self.selection_.to_dict()
        return out

    def _before_load(self, payload: Mapping[str, Any]) -> None:
        self.submodels_ = list(payload["submodels_fitted"])  # the feature set depends on them (and on the choice)
        if payload.get("selection") is not None:
            self.selection_ = Selection(**payload["selection"])

    def _extra_from_dict(self, payload: Mapping[str, Any]) -> None:
        stored = payload["submodels_fitted"]
        self.fitted_submodels_ = {name: SUBMODELS[name][1](stored[name]) for name in stored}
