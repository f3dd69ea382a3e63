"""Elo learner model (Pelanek 2016): online student skill and item difficulty with an uncertainty function.

Model: logit P(correct) = theta_s + mean_{k in K(i)} theta_sk - d_i, with theta_s the student's global
skill, theta_sk the student's skill on knowledge component k (0 until practised) and d_i the item
difficulty. After a response with score c and prediction p, with error e = c - p:

    theta_s  += U(n_s)  * e        d_i -= U(n_i) * e        theta_sk += U(n_sk) * e  for k in K(i)

where n_* counts the earlier updates of that parameter and U(n) = alpha / (1 + beta * n) is the
uncertainty function: large steps while a parameter is new, small once it is well estimated.
Items unseen in training get difficulty 0 (the average; difficulties are centred), unseen skills 0.

`fit` runs the training responses through this update to learn item difficulties (the training
students' skills are then dropped: test students are new). To keep the pass vectorized, the responses of
all students at the same position t of their sequences are processed together (one numpy step per
position; several students' responses to one item in the same step make one update with their mean error). `predict_proba` keeps
item difficulties fixed and updates only each test student's skills, again one vectorized step per
position, so a prediction uses that student's earlier responses and the trained difficulties only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import polars as pl
from scipy.special import expit

from models.base import Hyperparameters, check_fitted, check_format
from models.logistic.design import vocabulary_index as _encode
from models.logistic.features import ROW, sequential_order


class _Steps:
    """Responses of an ordered frame grouped by position within the student (step t = t-th response)."""

    def __init__(self, ordered: pl.DataFrame, item_index: Mapping[str, int], skill_index: Mapping[str, int]) -> None:
        frame = ordered.with_columns(
            pl.int_range(pl.len()).over("student_id").alias("__t__"),
            pl.col("student_id").rank("dense").cast(pl.Int64).alias("__s__") - 1,
        )
        self.n = frame.height
        self.n_students = int(frame["__s__"].max() or 0) + 1 if self.n else 0
        self.student = frame["__s__"].to_numpy()
        self.item = _encode(frame["item_id"], item_index)
        self.correct = frame["correct"].to_numpy().astype(float)
        step = frame["__t__"].to_numpy()
        order = np.argsort(step, kind="stable")
        bounds = np.searchsorted(step[order], np.arange(int(step.max()) + 2 if self.n else 1))
        self.blocks = [order[bounds[t] : bounds[t + 1]] for t in range(len(bounds) - 1)]
        # (response position, skill index) pairs for skills in the vocabulary, and skills per response
        exploded = (
            frame.select(pl.col("skill_ids"))
            .with_row_index("pos")
            .explode("skill_ids")
            .filter(pl.col("skill_ids").is_not_null())
            .unique(["pos", "skill_ids"], keep="first", maintain_order=True)
        )
        pos = exploded["pos"].to_numpy().astype(np.int64)
        self.n_skills_of = np.bincount(pos, minlength=self.n).astype(float)
        sk = _encode(exploded["skill_ids"], skill_index)
        keep = sk >= 0
        self.pair_pos, self.pair_skill = pos[keep], sk[keep]
        # for each step block, the pairs whose response is in it
        pair_step = step[self.pair_pos]
        porder = np.argsort(pair_step, kind="stable")
        pbounds = np.searchsorted(pair_step[porder], np.arange(len(self.blocks) + 1))
        self.pair_blocks = [porder[pbounds[t] : pbounds[t + 1]] for t in range(len(self.blocks))]
        self.local = np.empty(self.n, dtype=np.int64)  # index of each response inside its step block
        for rows in self.blocks:
            self.local[rows] = np.arange(rows.size)


def vocabularies(ordered: pl.DataFrame) -> tuple[list[str], list[str]]:
    """The sorted distinct item ids and skill ids (text) of a response frame."""
    return (sorted(ordered["item_id"].cast(pl.Utf8).unique().to_list()),
            sorted(ordered["skill_ids"].explode().drop_nulls().cast(pl.Utf8).unique().to_list()))


def item_sums(items: np.ndarray, err: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Per item (n_items,): the sum of the errors of a step's responses to it, and their number."""
    return np.bincount(items, weights=err, minlength=n_items), np.bincount(items, minlength=n_items)


class _Students:
    """The students' global and per-skill skills and their update counts during one pass over `steps`."""

    def __init__(self, steps: _Steps, n_skills: int) -> None:
        self.steps = steps
        self.theta = np.zeros(steps.n_students)
        self.n_theta = np.zeros(steps.n_students)
        self.theta_k = np.zeros((steps.n_students, max(n_skills, 1)))
        self.n_k = np.zeros_like(self.theta_k)

    def step(self, model: Elo, t: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step t (every student's t-th response) at difficulties `d`: (rows, logits, errors), the students updated."""
        steps, theta, n_theta, theta_k, n_k = self.steps, self.theta, self.n_theta, self.theta_k, self.n_k
        rows, pairs = steps.blocks[t], steps.pair_blocks[t]
        s, it, c = steps.student[rows], steps.item[rows], steps.correct[rows]
        ps, pk = steps.student[steps.pair_pos[pairs]], steps.pair_skill[pairs]
        local = steps.local[steps.pair_pos[pairs]]
        skill_sum = np.bincount(local, weights=theta_k[ps, pk], minlength=rows.size)
        known = it >= 0
        z = theta[s] + skill_sum / np.maximum(steps.n_skills_of[rows], 1.0) - np.where(known, d[np.maximum(it, 0)], 0.0)
        err = c - expit(z)
        theta[s] += model.alpha / (1.0 + model.beta * n_theta[s]) * err
        n_theta[s] += 1.0
        theta_k[ps, pk] += model.skill_alpha / (1.0 + model.skill_beta * n_k[ps, pk]) * err[local]
        n_k[ps, pk] += 1.0
        return rows, z, err


class Elo(Hyperparameters):
    """Elo with a global and per-skill student skill and item difficulties; see the module docstring.

    Parameters: `alpha`, `beta` of the uncertainty function U(n) = alpha / (1 + beta n) for the student
    (global), `skill_alpha`, `skill_beta` for the per-skill skills, `item_alpha`, `item_beta` for the item
    difficulties; `epochs` passes over the training data (difficulties carry over, counts restart);
    `random_state` is accepted for the common interface (the fit is deterministic).
    """

    format_version = 1
    model_name = "elo"

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.05,
        skill_alpha: float = 0.8,
        skill_beta: float = 0.1,
        item_alpha: float = 1.0,
        item_beta: float = 0.05,
        epochs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.skill_alpha = skill_alpha
        self.skill_beta = skill_beta
        self.item_alpha = item_alpha
        self.item_beta = item_beta
        self.epochs = epochs
        self.random_state = random_state

    def _check_params(self) -> None:
        for name in ("alpha", "skill_alpha", "item_alpha", "beta", "skill_beta", "item_beta"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"Elo: {name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if int(self.epochs) < 1:
            raise ValueError(f"Elo: epochs must be >= 1, got {self.epochs!r}")

    # ---- the vectorized pass ----------------------------------------------------------------------
    def _run(self, steps: _Steps, n_skills: int, learn_items: bool) -> np.ndarray:
        """Logit of every response (before its own update), updating students and optionally items."""
        students = _Students(steps, n_skills)
        d = self.difficulty_
        logits = np.empty(steps.n)
        for t in range(len(steps.blocks)):
            rows, z, err = students.step(self, t, d)
            logits[rows] = z
            if learn_items:
                it = steps.item[rows]
                known = it >= 0
                if known.any():
                    self._update_items(*item_sums(it[known], err[known], d.size))
        return logits

    def _update_items(self, err_sum: np.ndarray, count: np.ndarray) -> np.ndarray:
        """One step's item update from the per-item sums of error and counts of its responses (all students);
        returns the items it moved. Shared by `fit` and the partitioned fit (engine.distributed.elo), whose
        partitions' sums add up to these."""
        # One update per item per step, with the mean error of the step's responses to it: summing
        # them (no feedback between the students of a step) overshoots when thousands answer one item.
        d, n_d = self.difficulty_, self._item_counts
        hit = count > 0
        mean_err = err_sum[hit] / count[hit]
        d[hit] -= self.item_alpha / (1.0 + self.item_beta * n_d[hit]) * mean_err
        n_d[hit] += 1.0
        return np.flatnonzero(hit)

    def _start_fit(self, items: list[str], skills: list[str]) -> None:
        """The vocabularies (sorted item and skill ids of the training log) and difficulties 0."""
        self.items_, self.skills_ = items, skills
        self._item_index = {v: i for i, v in enumerate(self.items_)}
        self._skill_index = {v: i for i, v in enumerate(self.skills_)}
        self.difficulty_ = np.zeros(len(self.items_))

    def _end_fit(self) -> Self:
        self.difficulty_ -= self.difficulty_.mean()
        self.item_counts_ = self._item_counts
        del self._item_counts
        return self

    def fit(self, responses: pl.DataFrame) -> Self:
        """Learn item difficulties by running the training responses through the Elo updates."""
        self._check_params()
        ordered = sequential_order(responses)
        if ordered.height == 0:
            raise ValueError("Elo: cannot fit on an empty response frame")
        self._start_fit(*vocabularies(ordered))
        steps = _Steps(ordered, self._item_index, self._skill_index)
        for _ in range(int(self.epochs)):
            self._item_counts = np.zeros(len(self.items_))
            self._run(steps, len(self.skills_), learn_items=True)
        return self._end_fit()

    def decision_function(self, responses: pl.DataFrame) -> np.ndarray:
        """Logit of P(correct) per input row (sequential within each student, item difficulties fixed)."""
        check_fitted(self, "difficulty_")
        ordered = sequential_order(responses)
        out = np.empty(ordered.height)
        if ordered.height:
            logits = self._run(_Steps(ordered, self._item_index, self._skill_index), len(self.skills_), learn_items=False)
            out[ordered[ROW].to_numpy()] = logits
        return out

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        return expit(self.decision_function(responses))

    # ---- online -----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        """A new student: global skill 0 with no updates yet, no per-skill skills (JSON-ready)."""
        return {"theta": 0.0, "n": 0, "skills": {}}

    def logit_next(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> float:
        check_fitted(self, "difficulty_")
        skills = list(dict.fromkeys(skill_ids))
        per_skill = state["skills"]
        skill_term = sum(per_skill[k][0] for k in skills if k in per_skill) / max(len(skills), 1)
        j = self._item_index.get(str(item_id))
        return float(state["theta"]) + skill_term - (float(self.difficulty_[j]) if j is not None else 0.0)

    def predict_next(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> float:
        """P(correct) on `item_id` (tagged `skill_ids`) for a student in `state`."""
        return float(expit(self.logit_next(state, item_id, skill_ids)))

    def update(self, state: dict[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        """Add one response (`item_id`, `skill_ids`, `correct`) to the student's state in place; O(skills)."""
        item_id, skill_ids, c = str(response["item_id"]), list(response["skill_ids"]), float(response["correct"])
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"Elo.update: correct must lie in [0, 1], got {c!r}")
        err = c - float(expit(self.logit_next(state, item_id, skill_ids)))
        state["theta"] = float(state["theta"]) + self.alpha / (1.0 + self.beta * state["n"]) * err
        state["n"] = int(state["n"]) + 1
        for k in dict.fromkeys(skill_ids):
            if k not in self._skill_index:
                continue  # the batch path gives unseen skills no parameter; keep both paths equal
            value, n = state["skills"].get(k, (0.0, 0))
            state["skills"][k] = [value + self.skill_alpha / (1.0 + self.skill_beta * n) * err, n + 1]
        return state

    # ---- serialization ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "difficulty_")
        return {
            "model": self.model_name,
            "format_version": self.format_version,
            "params": self.get_params(),
            "items": self.items_,
            "skills": self.skills_,
            "difficulty": self.difficulty_.tolist(),
            "item_counts": self.item_counts_.tolist(),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Elo:
        check_format(dict(payload), cls.model_name, cls.format_version)
        model = cls(**payload["params"])
        model.items_ = [str(v) for v in payload["items"]]
        model.skills_ = [str(v) for v in payload["skills"]]
        model._item_index = {v: i for i, v in enumerate(model.items_)}
        model._skill_index = {v: i for i, v in enumerate(model.skills_)}
        model.difficulty_ = np.asarray(payload["difficulty"], dtype=float)
        model.item_counts_ = np.asarray(payload["item_counts"], dtype=float)
        if model.difficulty_.size != len(model.items_):
            raise ValueError(f"elo: {model.difficulty_.size} difficulties for {len(model.items_)} items")
        return model
