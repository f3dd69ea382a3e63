"""What produces learning, learned from outcomes: the value of practising at each difficulty band.

Two estimators. `fit_from_log` (run by `model build`) fits the learning law (`engine.recommend.law`: an
additive-factors model with learning per difficulty band, every later answer on the skill counting) and
attaches it to the statistics as `law`; the policy uses the law when it is informative. It also measures
each skill's mean readiness over the log's steps on it (`skill_readiness`: P(the skill's direct prerequisites
learned) before the step, the same weight the law gives each step), with which the policy turns the
skill model's fitted learn rates into rates per ready step (`scoring.ready_learn_rates`). The online
statistics below (`DifficultyProgress`) are what the policy has before any log was built, and keep
growing from the outcomes it observes.

The recommender does not assume a success rate at which students learn most; it measures it. The
difficulty of an item for a student is its predicted success p (the mastery engine's per-skill IRT
prediction before the answer, `MasteryEngine.predict_skill_pairs`), binned into bands (`BAND_EDGES`).
The learning a practice step produced shows up in the student's *next* answer on the same skill: if the step taught something, that answer beats what the student's state
*before* the step predicted for it (with no learning since). So each step's progress is that surprise,
y' - p'(state before the step), credited to the step's band.

The surprise is not zero on average even without learning: a predictor is never exactly calibrated
(in the suite's proficiency worlds, students who already know a skill do better than the engine's prior
for an unpractised skill says), and its errors depend on the student's standing, which is also what
decides which bands an item falls in. So the comparison is made within strata of the student's standing
on the skill before the step (its predicted success on the skill's typical item, binned like the bands):
per stratum, each band's mean surprise minus the stratum's mean; a band's value is the average of those
deviations. Within a stratum the band varies with the item practised (randomly in a random-practice log,
by the randomesque draw online), so the deviations measure what the bands teach, not who was in them.

Each band's value is shrunk toward 0 (no band favoured) with `prior_strength` pseudo-observations and
has SD sqrt(noise_var / (n + prior_strength)). The population's statistics come from a response log
(`fit_from_log`, run by `model build` on a platform's log: a random-practice log explores every band)
and keep being updated online from the outcomes the policy observes. Values are taken one posterior SD
above their mean, so bands with little evidence keep being tried while the choice stays deterministic
given the state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from engine.data.steering import STEERED, unsteered_prefix
from engine.errors import ConfigError, DataError
from engine.mastery.engine import p3
from engine.recommend.law import MIN_STEPS, LearningLaw, fit_law_with_offset
from engine.recommend.resource_value import (MAX_LEVEL_RATIO, RESOURCE_COLUMN, cover_only_uses, fit_cover_learning,
                                             fit_resource_value, multipliers, resource_uses)

FORMAT = "equilearn-policy-learning"
FORMAT_VERSION = 1
BAND_EDGES: tuple[float, ...] = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)


def band_of(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of each predicted success probability (NaN -> -1)."""
    p = np.asarray(p, dtype=float)
    band = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    return np.where(np.isfinite(p), band, -1)


class DifficultyProgress:
    """Progress statistics per (stratum, band): the stratum is the student's standing on the skill before the
    step (predicted success on the skill's typical item, binned with the same edges), the band the practised
    item's predicted success. Arrays (K, B) of counts, sums and sums of squares."""

    def __init__(self, edges: tuple[float, ...] = BAND_EDGES, prior_strength: float = 30.0, noise_var: float = 0.2,
                 cell_prior: float = 5.0) -> None:
        e = np.asarray(edges, dtype=float)
        if e.ndim != 1 or e.size < 3 or e[0] != 0.0 or e[-1] != 1.0 or np.any(np.diff(e) <= 0):
            raise ConfigError("band edges must rise strictly from 0 to 1 with at least two bands")
        if not prior_strength > 0 or not noise_var > 0 or not cell_prior > 0:
            raise ConfigError("prior_strength, noise_var and cell_prior must be > 0")
        self.edges = e
        self.prior_strength, self.noise_var, self.cell_prior = float(prior_strength), float(noise_var), float(cell_prior)
        shape = (e.size - 1, e.size - 1)
        self.count, self.total, self.total_sq = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.law: LearningLaw | None = None  # fitted from a log by `fit_from_log` (model build), else None
        # (S,) mean readiness of the log's steps on each skill (`fit_from_log`: P(its direct prerequisites learned)
        # before the step, the weight the law gives the step), else None; see scoring.ready_learn_rates
        self.skill_readiness: np.ndarray | None = None
        # {resource_id: [value, ...]} what each resource teaches beyond its level's average step, measured by `fit_from_log`
        # from a log that records the resource behind each answer (`engine.recommend.resource_value`), else None
        self.resource_value: dict[str, list[Any]] | None = None
        self._multipliers: tuple[tuple[str, ...], np.ndarray] | None = None
        # what a use of a resource teaches the covered skills nobody answered then (`resource_value.CoverLearning`:
        # share of the law's average step, delta, se, answers), measured with `resource_value`, else None
        self.cover_learning: dict[str, float] | None = None
        # what a remedial use taught against a core use in such a log (`resource_value.LevelContrast`: ratio, difference,
        # se, believed); its ratio scales the configured remedial efficacy, else None
        self.remedial_contrast: dict[str, float] | None = None

    @property
    def remedial_ratio(self) -> float:
        """What the scorer multiplies the configured remedial efficacy by: the log's measured contrast, else 1."""
        return 1.0 if self.remedial_contrast is None else float(self.remedial_contrast["ratio"])

    def resource_multipliers(self, resource_ids: tuple[str, ...]) -> np.ndarray | None:
        """(R,) each resource's measured value for the catalog's `resource_ids` (1 where unmeasured), computed once per
        catalog; None without measured values."""
        if self.resource_value is None:
            return None
        if self._multipliers is None or self._multipliers[0] is not resource_ids:
            self._multipliers = (resource_ids, multipliers(self.resource_value, resource_ids))
        return self._multipliers[1]

    @property
    def n_bands(self) -> int:
        return self.edges.size - 1

    def band(self, p: np.ndarray) -> np.ndarray:
        return band_of(p, self.edges)

    def observe(self, strata: np.ndarray, bands: np.ndarray, progress: np.ndarray) -> None:
        """Add outcomes of earlier steps: their `strata` and `bands` (n,), and `progress` (n,), the surprise of
        the next answer on the same skill."""
        k, b = np.asarray(strata, dtype=np.int64), np.asarray(bands, dtype=np.int64)
        x = np.asarray(progress, dtype=float)
        if b.shape != x.shape or k.shape != x.shape:
            raise DataError("progress outcomes need matching shapes")
        keep = (b >= 0) & (k >= 0) & np.isfinite(x)
        if np.any(np.abs(x[keep]) > 1) or np.any(b[keep] >= self.n_bands) or np.any(k[keep] >= self.n_bands):
            raise DataError("progress outcomes need known strata and bands and residuals in [-1, 1]")
        np.add.at(self.count, (k[keep], b[keep]), 1.0)
        np.add.at(self.total, (k[keep], b[keep]), x[keep])
        np.add.at(self.total_sq, (k[keep], b[keep]), x[keep] ** 2)

    @property
    def mean(self) -> np.ndarray:
        """(B,) each band's progress relative to other bands at the same standing: per stratum, the band's
        mean (shrunk toward the stratum's) minus the stratum's mean over bands, averaged over strata weighted
        by the band's observations there, then shrunk toward 0 with `prior_strength`."""
        n_k = self.count.sum(axis=1, keepdims=True)
        stratum_mean = self.total.sum(axis=1, keepdims=True) / np.maximum(n_k, 1.0)
        cell = (self.total + self.cell_prior * stratum_mean) / (self.count + self.cell_prior)
        deviation = cell - stratum_mean  # (K, B)
        return (self.count * deviation).sum(axis=0) / (self.n + self.prior_strength)

    @property
    def n(self) -> np.ndarray:
        """(B,) observations per band."""
        return self.count.sum(axis=0)

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.noise_var / (self.n + self.prior_strength))

    def optimistic(self, n: int) -> np.ndarray:
        """(n, B) each band's value one posterior SD above its mean (optimism under uncertainty): bands with
        little evidence get tried, and the choice stays a deterministic function of the state, so the
        logged item propensities (randomesque) remain exact."""
        return np.broadcast_to(self.mean + self.sd, (n, self.n_bands))

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
                "prior_strength": self.prior_strength, "noise_var": self.noise_var, "cell_prior": self.cell_prior,
                "count": self.count.tolist(), "total": self.total.tolist(), "total_sq": self.total_sq.tolist(),
                **({"law": self.law.to_dict()} if self.law is not None else {}),
                **({"skill_readiness": self.skill_readiness.tolist()} if self.skill_readiness is not None else {}),
                **({"resource_value": self.resource_value} if self.resource_value is not None else {}),
                **({"cover_learning": self.cover_learning} if self.cover_learning is not None else {}),
                **({"remedial_contrast": self.remedial_contrast} if self.remedial_contrast is not None else {})}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DifficultyProgress:
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {FORMAT} v{FORMAT_VERSION} payload")
        out = cls(tuple(payload["band_edges"]), payload["prior_strength"], payload["noise_var"], payload["cell_prior"])
        for name in ("count", "total", "total_sq"):
            values = np.asarray(payload[name], dtype=float)
            if values.shape != (out.n_bands, out.n_bands):
                raise ConfigError(f"policy learning {name}: expected {out.n_bands} x {out.n_bands} values, got shape {values.shape}")
            setattr(out, name, values)
        if payload.get("skill_readiness") is not None:
            readiness = np.asarray(payload["skill_readiness"], dtype=float)
            if readiness.ndim != 1 or not np.all((readiness >= 0) & (readiness <= 1)):
                raise ConfigError("policy learning skill_readiness: expected one value in [0, 1] per skill")
            out.skill_readiness = readiness
        if payload.get("resource_value") is not None:
            if not isinstance(payload["resource_value"], dict):
                raise ConfigError("policy learning resource_value: expected an object {resource_id: [value, ...]}")
            multipliers(payload["resource_value"], ())  # checks every entry
            out.resource_value = payload["resource_value"]
        if payload.get("cover_learning") is not None:
            share = payload["cover_learning"].get("share") if isinstance(payload["cover_learning"], dict) else None
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise ConfigError("policy learning cover_learning: expected {\"share\": a number in [0, 1], ...}")
            out.cover_learning = dict(payload["cover_learning"])
        if payload.get("remedial_contrast") is not None:
            ratio = payload["remedial_contrast"].get("ratio") if isinstance(payload["remedial_contrast"], dict) else None
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= MAX_LEVEL_RATIO:
                raise ConfigError("policy learning remedial_contrast: expected {\"ratio\": a number in "
                                  f"[0, {MAX_LEVEL_RATIO:g}], ...}}")
            out.remedial_contrast = dict(payload["remedial_contrast"])
        if payload.get("law") is not None:
            out.law = LearningLaw.from_dict(payload["law"])
            if out.law.edges != tuple(out.edges.tolist()):
                raise ConfigError("policy learning: the learning law's band edges differ from the progress statistics'")
        return out

    def summary(self) -> list[dict[str, float]]:
        """Per band: range of predicted success, observations, relative progress and its SD (for reports)."""
        mean, sd, n = self.mean, self.sd, self.n
        return [{"from": float(self.edges[b]), "to": float(self.edges[b + 1]), "n": int(n[b]),
                 "progress": float(mean[b]), "sd": float(sd[b])} for b in range(self.n_bands)]


class ProgressTracker:
    """Per student and skill, the last practice step still waiting for its outcome: its band (-1: none), the
    student's standing on the skill before it (stratum) and the skill's ability (mean, variance) before it.
    `step` measures each new answer against what that earlier state predicted for the new item (no learning
    since), and credits the surprise to the earlier step's (stratum, band)."""

    def __init__(self, n_students: int, n_skills: int) -> None:
        self.pending = np.full((n_students, n_skills), -1, dtype=np.int64)
        self.stratum = np.full((n_students, n_skills), -1, dtype=np.int64)
        self.mean = np.zeros((n_students, n_skills))
        self.var = np.ones((n_students, n_skills))

    def step(self, progress: DifficultyProgress, engine: Any, batch: Any, rows: np.ndarray, items: np.ndarray,
             correct: np.ndarray) -> None:
        """One answer for each given row of `batch` (a MasteryBatch holding the states *before* the answers; the
        tracker's rows are the batch's), `items` the answered catalog items, `correct` the scores. Call before
        updating the states."""
        cat = engine.catalog
        skills = cat.item_skill[items]
        m_now, v_now = engine.skill_ability_at(batch, rows, skills)
        typical_a, typical_b = engine.typical_items
        standing = p3(m_now, v_now, typical_a[skills], typical_b[skills], 0.0)
        a, b, c = cat.item_a[items], cat.item_b[items], cat.item_c[items]
        p_then = p3(self.mean[rows, skills], self.var[rows, skills] + engine.config.skill_drift, a, b, c)
        progress.observe(self.stratum[rows, skills], self.pending[rows, skills], np.clip(correct - p_then, -1.0, 1.0))
        self.pending[rows, skills] = progress.band(p3(m_now, v_now, a, b, c))
        self.stratum[rows, skills] = progress.band(standing)
        self.mean[rows, skills], self.var[rows, skills] = m_now, v_now


LAW_BANDS = ("state", "entry")


def fit_from_log(engine: Any, responses: pl.DataFrame, progress: DifficultyProgress | None = None,
                 max_law_students: int = 3000, seed: int = 0, law_bands: str = "state",
                 notes: list[str] | None = None) -> dict[str, Any]:
    """Band statistics and the learning law (`engine.recommend.law`) from a canonical response log
    (student_id, item_id, correct, seq): each response is predicted by `engine` (a MasteryEngine) before it
    updates the student's state, in order, students in parallel; the JSON component `policy_learning` of a
    model set. Everything is measured on at most `max_law_students` students (a seeded draw, the one the
    law was always fitted on), so the replay's time stops growing with the log beyond them.

    `law_bands` says how the law bands and counts a step. "state" (what `model build` serves): the band of the
    item's prediction from the student's state just before the step, counts weighted by readiness. That band
    follows the student's standing on the skill, which the law's student intercept does not absorb, so in a
    world where nobody learns the law still finds learning rising with success. "entry": the band of the item's
    3PL success at the general ability the student had on first meeting the skill (its variance widened by
    `skill_spread`), counts unweighted; that ability comes from other skills' answers only, so it carries
    neither the student's standing on this skill nor the noise of its answers, and the zero line is flat. It is
    for studying the law: served, it taught less in three suite settings beyond their noise and more in one by a hair
    (experiments/results/law_zero_line.md), the served law's tilt away from low predicted success carrying information the flat estimator drops.

    A log whose `steered` column marks answers to items the adaptive policy chose (`engine.data.steering`) has the law
    fitted on each (student, skill) history up to its first steered answer, when those give the law at least MIN_STEPS
    answers (else on every answer); `notes`, when given, receives a line saying which."""
    if law_bands not in LAW_BANDS:
        raise ConfigError(f"law_bands must be one of {', '.join(LAW_BANDS)}, got {law_bands!r}")
    progress = progress or DifficultyProgress()
    if responses.height == 0:
        return progress.to_dict()
    cat = engine.catalog
    ordered = responses.sort(["student_id", "seq"]).with_columns(pl.int_range(pl.len()).over("student_id").alias("__pos"))
    students = ordered["student_id"].unique(maintain_order=True).to_list()
    if len(students) > max_law_students:
        drawn = _law_rows(len(students), max_law_students, seed) >= 0
        students = [s for s, keep in zip(students, drawn) if keep]
        ordered = ordered.filter(pl.col("student_id").is_in(students))
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
    law_row = _law_rows(len(students), max_law_students, seed)  # (n_students,) row in the law's arrays, -1 = not drawn
    counts = np.zeros((int(law_row.max()) + 1, cat.n_skills, progress.n_bands), dtype=np.float32)
    features = np.zeros((ordered.height, progress.n_bands), dtype=np.float32)
    step_band = np.full(ordered.height, -1, dtype=np.int64)
    ready_total, ready_steps = np.zeros(cat.n_skills), np.zeros(cat.n_skills)
    entry = EntryAbility(len(students), cat.n_skills, engine.config.skill_spread) if law_bands == "entry" else None
    for k in range(int(pos.max()) + 1):
        sel = np.flatnonzero(pos == k)
        r, i = rows[sel], items[sel]
        mine = law_row[r] >= 0
        lr, skill = law_row[r][mine], cat.item_skill[i][mine]
        states = batch.rows(r)
        practised = cat.item_skill[i]
        start = engine.p_start(states)  # what the update below starts from too
        ready = engine.prerequisites_learned(start, practised)  # P(the direct prerequisites learned)
        np.add.at(ready_total, practised, ready)
        np.add.at(ready_steps, practised, 1.0)
        if entry is None:
            band, weight = progress.band(engine.predict_skill_pairs(states.rows(mine), i[mine])), ready[mine]
        else:
            band, weight = progress.band(entry.success(batch, r, i, cat)[mine]), 1.0
        features[sel[mine]] = counts[lr, skill]
        step_band[sel[mine]] = band
        counts[lr, skill, band] += weight
        tracker.step(progress, engine, batch, r, i, y[sel])
        engine.update_batch(batch, r, i, y[sel], start=start)
    progress.skill_readiness = np.where(ready_steps > 0, ready_total / np.maximum(ready_steps, 1.0), 1.0)
    drawn = _law_answers(step_band >= 0, rows, cat.item_skill[items], ordered, notes)
    fit = fit_law_with_offset(rows[drawn], cat.item_skill[items[drawn]], -cat.item_a[items[drawn]] * cat.item_b[items[drawn]],
                              features[drawn].astype(float), y[drawn], step_band[drawn], tuple(progress.edges.tolist()),
                              seed=seed)
    progress.law = fit.law
    if RESOURCE_COLUMN in ordered.columns and ordered[RESOURCE_COLUMN].is_not_null().any():
        resources = engine.resource_column(ordered)  # unknown resources: a DataValidationError naming them
        uses = resource_uses(rows, cat.item_skill[items], pos, resources, cat.resource_skills)
        fitted = np.isfinite(fit.offset)
        value = fit_resource_value(fit.law, fit.offset[fitted], rows[drawn][fitted], y[drawn][fitted],
                                   uses[np.flatnonzero(drawn)[fitted]], cat)
        progress.resource_value = value.to_dict()
        cover_uses = cover_only_uses(rows, cat.item_skill[items], pos, resources, cat.resource_skills)
        cover = fit_cover_learning(fit.law, fit.offset[fitted], rows[drawn][fitted], y[drawn][fitted],
                                   cover_uses[drawn][fitted])
        progress.cover_learning = cover.to_dict()
        if value.remedial is not None:
            progress.remedial_contrast = value.remedial.to_dict()
        if notes is not None:
            notes.append(value.note(cat))
            if value.remedial is not None:
                notes.append(value.remedial.note())
            notes.append(f"a resource teaches the skills it covers that nobody answered then {cover.share:.2f} of the average "
                         f"step ({cover.delta:+.3f} +- {cover.se:.3f} logits a use, {cover.answers} answers after such uses)")
    return progress.to_dict()


def _law_answers(drawn: np.ndarray, rows: np.ndarray, skills: np.ndarray, ordered: pl.DataFrame,
                 notes: list[str] | None) -> np.ndarray:
    """The answers the law is fitted on (`fit_from_log`): `drawn` (the law's students), and where the log marks steered
    answers, only each (student, skill) history before its first steered answer, if those are at least MIN_STEPS."""
    if STEERED not in ordered.columns or not ordered[STEERED].any():
        return drawn
    before = drawn & unsteered_prefix(rows, skills, ordered[STEERED].to_numpy())
    if before.sum() >= MIN_STEPS:
        line = (f"learning law: fitted on the {int(before.sum())} of its {int(drawn.sum())} answers that came before the "
                "adaptive policy steered the student's skill (engine.data.steering)")
        drawn = before
    else:
        line = (f"learning law: only {int(before.sum())} answers came before the adaptive policy steered the student's skill "
                f"(fewer than {MIN_STEPS}), so it is fitted on every answer, steered ones too; a law measured under the "
                "policy's steering loses its contrast between bands (engine.data.steering)")
    if notes is not None:
        notes.append(line)
    return drawn


class EntryAbility:
    """Per (student, skill): the general ability (EAP mean, variance + skill_spread^2) the student had when first
    answering on the skill, frozen there."""

    def __init__(self, n_students: int, n_skills: int, skill_spread: float) -> None:
        self.mean = np.full((n_students, n_skills), np.nan)
        self.var = np.full((n_students, n_skills), np.nan)
        self.spread_var = float(skill_spread) ** 2

    def success(self, batch: Any, rows: np.ndarray, items: np.ndarray, catalog: Any) -> np.ndarray:
        """(n,) 3PL success of each item at the ability its student had on first meeting the item's skill
        (recorded now for the pairs met for the first time; one row per student per call)."""
        skills = catalog.item_skill[items]
        first = np.isnan(self.mean[rows, skills])
        self.mean[rows[first], skills[first]] = batch.theta[rows[first]]
        self.var[rows[first], skills[first]] = batch.theta_sd[rows[first]] ** 2 + self.spread_var
        return p3(self.mean[rows, skills], self.var[rows, skills], catalog.item_a[items], catalog.item_b[items],
                  catalog.item_c[items])


def _law_rows(n_students: int, limit: int, seed: int) -> np.ndarray:
    """Row of each student in the law's arrays (a seeded draw of at most `limit` students), -1 for the rest."""
    out = np.full(n_students, -1, dtype=np.int64)
    drawn = np.sort(np.random.default_rng(seed).permutation(n_students)[:limit])
    out[drawn] = np.arange(drawn.size)
    return out
