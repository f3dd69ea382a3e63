"""What produces learning, learned from outcomes: the value of practising at each difficulty band.

The recommender does not assume a success rate at which students learn most; it measures it. The
difficulty of an item for a student is its predicted success p (the mastery engine's prediction before
the answer), binned into bands (`BAND_EDGES`). The learning a practice step produced shows up in the
student's *next* answer on the same skill: if the step taught something, that answer beats its own
prediction. So each step's progress is the change in residual from that step's answer to the next answer on the
same skill, (r' - r) / 2 with r = y - p, credited to the band of the earlier step. Under a calibrated
predictor with no learning residuals have mean zero whatever band was chosen (the prediction already
uses everything observed), so differences between the bands' mean progress are differences in what they
teach; taking the change rather than r' alone cancels a predictor's bias that persists between the two
answers.

Known limit (measured on the suite, `engine.simulate.suite`): the mastery engine's blended IRT/BKT
prediction is not calibrated per skill in continuous-proficiency worlds, and the bias of the residual
depends on the band, so the bands' estimates do not yet find where learning peaks (on a world whose
learning peaks at 40% success they favour 60-75%). That is why `RecommenderConfig.learn_difficulty` is off
by default: a calibrated per-skill proficiency (a Kalman-filtered skill offset on the IRT scale) is the
planned fix.

Per band a normal model with known noise: posterior mean sum / (n + prior_strength) (prior mean 0, no
band favoured) and variance noise_var / (n + prior_strength). The population's statistics come from a
response log (`fit_from_log`, run by `model build` on a platform's log: a random-practice log explores
every band) and keep being updated online from the outcomes the policy observes; a student's own
statistics are shrunk toward the population's (`student_values`). Thompson draws keep exploring bands
with little evidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataError

FORMAT = "equilearn-policy-learning"
FORMAT_VERSION = 1
BAND_EDGES: tuple[float, ...] = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)


def band_of(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of each predicted success probability (NaN -> -1)."""
    p = np.asarray(p, dtype=float)
    band = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    return np.where(np.isfinite(p), band, -1)


class DifficultyProgress:
    """Population statistics (count, sum, sum of squares of progress) per difficulty band."""

    def __init__(self, edges: tuple[float, ...] = BAND_EDGES, prior_strength: float = 30.0, noise_var: float = 0.2) -> None:
        e = np.asarray(edges, dtype=float)
        if e.ndim != 1 or e.size < 3 or e[0] != 0.0 or e[-1] != 1.0 or np.any(np.diff(e) <= 0):
            raise ConfigError("band edges must rise strictly from 0 to 1 with at least two bands")
        if not prior_strength > 0 or not noise_var > 0:
            raise ConfigError("prior_strength and noise_var must be > 0")
        self.edges = e
        self.prior_strength, self.noise_var = float(prior_strength), float(noise_var)
        self.count = np.zeros(e.size - 1)
        self.total = np.zeros(e.size - 1)
        self.total_sq = np.zeros(e.size - 1)

    @property
    def n_bands(self) -> int:
        return self.count.size

    def band(self, p: np.ndarray) -> np.ndarray:
        return band_of(p, self.edges)

    def observe(self, bands: np.ndarray, progress: np.ndarray) -> None:
        """Add outcomes: `bands` (n,) of the earlier steps, `progress` (n,) residuals of the next answers."""
        b = np.asarray(bands, dtype=np.int64)
        x = np.asarray(progress, dtype=float)
        keep = (b >= 0) & np.isfinite(x)
        if b.shape != x.shape or np.any(np.abs(x[keep]) > 1) or np.any(b[keep] >= self.n_bands):
            raise DataError("progress outcomes need matching shapes, known bands and residuals in [-1, 1]")
        np.add.at(self.count, b[keep], 1.0)
        np.add.at(self.total, b[keep], x[keep])
        np.add.at(self.total_sq, b[keep], x[keep] ** 2)

    @property
    def mean(self) -> np.ndarray:
        return self.total / (self.count + self.prior_strength)

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.noise_var / (self.count + self.prior_strength))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, B) Thompson draws of each band's value."""
        return self.mean + self.sd * rng.standard_normal((n, self.n_bands))

    def values(self, p: np.ndarray, band_values: np.ndarray) -> np.ndarray:
        """Value of practising at predicted success `p` (N, ...) for per-student band values (N, B),
        rescaled per student to [0, 1] (best band 1, worst 0), so it is comparable across worlds."""
        lo = band_values.min(axis=1, keepdims=True)
        span = np.maximum(band_values.max(axis=1, keepdims=True) - lo, 1e-12)
        scaled = (band_values - lo) / span  # (N, B)
        b = self.band(p)
        rows = np.arange(p.shape[0]).reshape(-1, *([1] * (p.ndim - 1)))
        return np.where(b >= 0, scaled[rows, np.maximum(b, 0)], 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "band_edges": self.edges.tolist(),
                "prior_strength": self.prior_strength, "noise_var": self.noise_var,
                "count": self.count.tolist(), "total": self.total.tolist(), "total_sq": self.total_sq.tolist()}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DifficultyProgress:
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {FORMAT} v{FORMAT_VERSION} payload")
        out = cls(tuple(payload["band_edges"]), payload["prior_strength"], payload["noise_var"])
        for name in ("count", "total", "total_sq"):
            values = np.asarray(payload[name], dtype=float)
            if values.shape != (out.n_bands,):
                raise ConfigError(f"policy learning {name}: expected {out.n_bands} values, got {values.size}")
            setattr(out, name, values)
        return out

    def summary(self) -> list[dict[str, float]]:
        """Per band: range of predicted success, observations, mean progress and its SD (for reports)."""
        return [{"from": float(self.edges[b]), "to": float(self.edges[b + 1]), "n": int(self.count[b]),
                 "progress": float(self.mean[b]), "sd": float(self.sd[b])} for b in range(self.n_bands)]


class ProgressTracker:
    """Per student and skill, the band of the last practice step still waiting for its outcome (-1: none);
    `step` credits each new answer's residual to the band of the student's previous step on that skill."""

    def __init__(self, n_students: int, n_skills: int) -> None:
        self.pending = np.full((n_students, n_skills), -1, dtype=np.int64)
        self.residual = np.zeros((n_students, n_skills))

    def step(self, progress: DifficultyProgress, rows: np.ndarray, skills: np.ndarray, predicted: np.ndarray,
             correct: np.ndarray) -> None:
        """One answer per given student row: `skills` practised, `predicted` P(correct) before, `correct`."""
        earlier = self.pending[rows, skills]
        residual = correct - predicted
        progress.observe(earlier, np.clip(0.5 * (residual - self.residual[rows, skills]), -1.0, 1.0))
        self.pending[rows, skills] = progress.band(predicted)
        self.residual[rows, skills] = residual


def fit_from_log(engine: Any, responses: pl.DataFrame, progress: DifficultyProgress | None = None) -> dict[str, Any]:
    """Band statistics from a canonical response log (student_id, item_id, correct, seq): each response is
    predicted by `engine` (a MasteryEngine) before it updates the student's state, in order, students in
    parallel; the JSON component `policy_learning` of a model set."""
    progress = progress or DifficultyProgress()
    if responses.height == 0:
        return progress.to_dict()
    cat = engine.catalog
    ordered = responses.sort(["student_id", "seq"]).with_columns(pl.int_range(pl.len()).over("student_id").alias("__pos"))
    students = ordered["student_id"].unique(maintain_order=True).to_list()
    row_of = {s: i for i, s in enumerate(students)}
    item_index = {s: i for i, s in enumerate(cat.item_ids)}
    try:
        items = np.array([item_index[i] for i in ordered["item_id"].to_list()], dtype=np.int64)
    except KeyError as exc:
        raise DataError(f"item {exc.args[0]!r} of the log is not in catalog {cat.name!r}; build with the catalog the log was made with") from None
    rows = np.array([row_of[s] for s in ordered["student_id"].to_list()], dtype=np.int64)
    y = ordered["correct"].to_numpy().astype(float)
    pos = ordered["__pos"].to_numpy()
    batch = engine.new_batch(students)
    tracker = ProgressTracker(len(students), cat.n_skills)
    for k in range(int(pos.max()) + 1):
        sel = pos == k
        r, i = rows[sel], items[sel]
        sub = _rows(batch, r)
        predicted = engine.predict_pairs(sub, i)
        tracker.step(progress, r, cat.item_skill[i], predicted, y[sel])
        engine.update_batch(batch, r, i, y[sel])
    return progress.to_dict()


def _rows(batch: Any, rows: np.ndarray) -> Any:
    """A MasteryBatch of the given rows (copies)."""
    from engine.mastery import MasteryBatch  # noqa: PLC0415

    return MasteryBatch([batch.student_ids[r] for r in rows], *(getattr(batch, f)[rows] for f in (
        "theta", "theta_sd", "p_learned", "evidence", "last_practice", "n_responses", "last_time",
        "responses_since_progress", "first_time")))
