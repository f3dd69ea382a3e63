"""The served predictor of success: the engine's logit blend of IRT and the skill model (`irt_weight`),
scored on held-out students by sequential prediction (each response predicted from that student's earlier
responses only, then folded in), and the weight chosen by AUC for `--predictor auto`.

The states do not depend on `irt_weight` (it enters predictions only), so one replay of the held-out
students gives the IRT and the skill-model prediction of every response, and every weight's blend is
computed from those two afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.errors import ConfigError
from engine.evaluation.metrics import auc, logloss, response_logloss
from engine.mastery import MasteryBatch, MasteryEngine
from engine.mastery.engine import SECONDS_PER_DAY

WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Held-out students replayed per value when a build tries a grid of settings (forgetting, item evidence):
# each replay costs time in proportion to the students, and the grids' log-losses differ by far more than
# the sampling noise of 500 students' answers.
GRID_STUDENTS = 500
# A setting departs from the one assumed without evidence only when the held-out log-loss says so beyond this many
# standard errors (`clearly_smaller`): 2, about a 2.3% one-sided chance that noise alone moves a single comparison.
BEYOND_NOISE_Z = 2.0
FIXED = {"bkt": 0.0, "blend": 0.5, "irt": 1.0}
PREDICTORS = ("auto", *FIXED)


@dataclass(frozen=True)
class HeldOut:
    """Sequential predictions of the held-out responses: labels, IRT and skill-model P(correct)."""

    y: np.ndarray
    p_irt: np.ndarray
    p_skill: np.ndarray
    n_students: int
    student: np.ndarray | None = None  # (n,) each response's student, 0..n_students-1 (None: not recorded)

    def blend(self, weight: float) -> np.ndarray:
        """The engine's prediction at `irt_weight = weight` (logit blend, as `MasteryEngine.predict_pairs`)."""
        z = weight * _logit(self.p_irt) + (1.0 - weight) * _logit(self.p_skill)
        return 1.0 / (1.0 + np.exp(-z))

    def scores(self, weights: tuple[float, ...] = WEIGHTS) -> dict[float, dict[str, float | None]]:
        """AUC and log-loss of each weight's blend (AUC None when the held-out labels are all one class)."""
        out = {}
        for w in weights:
            p = self.blend(w)
            a = auc(self.y, p)
            out[w] = {"auc": None if math.isnan(a) else round(a, 6), "logloss": round(logloss(self.y, p), 6)}
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def sample_students(responses: pl.DataFrame, limit: int = GRID_STUDENTS, seed: int = 0) -> pl.DataFrame:
    """The responses of at most `limit` students (a seeded draw; all of them when there are fewer)."""
    students = responses["student_id"].unique().sort()
    if students.len() <= limit:
        return responses
    keep = students.gather(np.sort(np.random.default_rng(seed).permutation(students.len())[:limit]))
    return responses.filter(pl.col("student_id").is_in(keep.to_list()))


def smallest_replay_loss(engines: Mapping[Any, MasteryEngine], held_out: pl.DataFrame,
                         prediction: Callable[[HeldOut], np.ndarray], null: Any = None,
                         z: float = BEYOND_NOISE_Z, seed: int = 0) -> tuple[Any, dict[Any, float]]:
    """(value, log-loss of every value): each engine replays the same draw (`seed`) of at most GRID_STUDENTS held-out
    students and `prediction` picks what is scored; values are the grid's numbers or any other ordered keys (a
    model's name); the value with the smallest log-loss wins, ties going to
    the larger value. With `null` (the value assumed without evidence), another value wins only when its log-loss is
    below the null's by more than `z` standard errors of the paired difference (`clearly_smaller`), and then the
    smallest of those: on a small held-out sample the argmin over a grid otherwise follows the noise."""
    chosen, losses = replay_choices(engines, held_out, prediction, null, (z,), seed)
    return chosen[z], losses


def replay_choices(engines: Mapping[Any, MasteryEngine], held_out: pl.DataFrame,
                   prediction: Callable[[HeldOut], np.ndarray], null: Any, zs: tuple[float, ...],
                   seed: int = 0) -> tuple[dict[float, Any], dict[Any, float]]:
    """`smallest_replay_loss`'s value at each of `zs` from one set of replays ({z: value}, log-losses): a choice that
    needs less evidence to leave the null than another (`ForgettingChoice.claim_stability_days`) costs no replay more."""
    sample = sample_students(held_out, seed=seed)
    losses: dict[Any, float] = {}
    replays: dict[Any, tuple[HeldOut, np.ndarray]] = {}
    for value, engine in engines.items():
        held = sequential_predictions(engine, sample)
        p = prediction(held)
        losses[value] = logloss(held.y, p)
        replays[value] = (held, p)
    if null is None:
        best = min(losses.values())
        return dict.fromkeys(zs, max(value for value, loss in losses.items() if loss == best)), losses
    if null not in replays:
        raise ConfigError(f"the null value {null} is not among the values tried ({', '.join(map(str, losses))})")
    chosen: dict[float, Any] = {}
    for z in zs:
        beyond = [v for v in losses if v != null and clearly_smaller(*replays[v], *replays[null], z)]
        best = min((losses[v] for v in beyond), default=None)
        chosen[z] = null if best is None else max(v for v in beyond if losses[v] == best)
    return chosen, losses


def clearly_smaller(held: HeldOut, p: np.ndarray, held_null: HeldOut, p_null: np.ndarray, z: float) -> bool:
    """True when predictions `p` have a smaller mean log-loss than `p_null` on the same responses by more than `z`
    standard errors of the paired difference, the responses clustered by student (one student's answers are not
    independent): SE = sqrt(S var(d_s)) / n, d_s the student's summed difference, S students, n responses."""
    if held.student is None or not np.array_equal(held.y, held_null.y):
        raise ConfigError("a paired comparison needs the same held-out responses, with their students, in both replays")
    d = response_logloss(held.y, p) - response_logloss(held.y, p_null)
    if held.n_students < 2:
        return False
    return float(d.mean()) < -z * clustered_se(d, held.student, held.n_students)


def clustered_se(d: np.ndarray, student: np.ndarray, n_students: int) -> float:
    """SE of the mean of per-response differences `d`, the responses clustered by `student` (0..n_students-1):
    sqrt(S var(d_s)) / n, d_s a student's summed difference, S students, n responses."""
    per_student = np.bincount(student, weights=d, minlength=n_students)
    return math.sqrt(per_student.size * float(np.var(per_student, ddof=1))) / d.size


def sequential_predictions(engine: MasteryEngine, responses: pl.DataFrame) -> HeldOut:
    """Replay `responses` (catalog items only; student_id, item_id, correct, seq[, timestamp]) through the
    engine from cold start, predicting each response before it is folded in (no look-ahead)."""
    ordered = responses.sort(["student_id", "seq"]).with_columns(pl.int_range(pl.len()).over("student_id").alias("__pos"))
    students = ordered["student_id"].unique(maintain_order=True).to_list()
    batch = engine.new_batch(students)
    row_of = {s: i for i, s in enumerate(students)}
    rows = np.array([row_of[s] for s in ordered["student_id"].to_list()], dtype=np.int64)
    index = engine.catalog._item_index  # noqa: SLF001 - dict lookup per response
    items = np.array([index[i] for i in ordered["item_id"].to_list()], dtype=np.int64)
    y = ordered["correct"].to_numpy().astype(float)
    if "timestamp" in ordered.columns and ordered["timestamp"].dtype != pl.Null:
        t = ordered["timestamp"].dt.epoch("us").to_numpy().astype(float) / 1e6 / SECONDS_PER_DAY
    else:
        t = np.full(ordered.height, np.nan)
    pos = ordered["__pos"].to_numpy()
    p_irt, p_skill = np.empty(y.size), np.empty(y.size)
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(int(pos.max(initial=-1)) + 2))
    for k in range(bounds.size - 1):  # the k-th response of every student at once
        sel = order[bounds[k]:bounds[k + 1]]
        sub = batch.rows(rows[sel])
        start = engine.p_start(sub)  # the prediction and the update start from the same state
        p_irt[sel], p_skill[sel] = engine.predict_pair_parts(sub, items[sel], t[sel], start)
        engine.update_batch(batch, rows[sel], items[sel], y[sel], t[sel], start=start)
    return HeldOut(y, p_irt, p_skill, len(students), rows)


def choose_weight(predictor: str, held_out: HeldOut | None) -> tuple[float, dict[float, dict[str, float | None]]]:
    """(irt_weight to serve, figures per weight tried). `auto`: the weight of WEIGHTS with the highest held-out
    AUC (ties go to the first, i.e. the smaller weight); a named predictor: its fixed weight."""
    if predictor not in PREDICTORS:
        raise ConfigError(f"--predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    figures = held_out.scores() if held_out is not None else {}
    if predictor != "auto":
        return FIXED[predictor], figures
    if held_out is None:
        raise ConfigError("--predictor auto needs held-out students: give --test-fraction above 0")
    scored = [(w, f["auc"]) for w, f in figures.items() if f["auc"] is not None]
    if not scored:
        raise ConfigError("--predictor auto cannot choose: the held-out responses are all right or all wrong, so no AUC "
                          "exists; choose --predictor blend|bkt|irt or use a larger log")
    return max(scored, key=lambda wa: wa[1])[0], figures  # max keeps the first of equals: the smaller weight
