"""What each resource teaches, measured from a response log that records the resource behind each answer.

A platform's log may say, per answer, which resource the student used just before it (optional column
`resource_id`; a random-practice log draws the resource at random, so resources are compared on like students).
The learning law (`engine.recommend.law`) measures what a step teaches by its difficulty; this adds one factor per
resource to the same additive-factors model, with the law's other terms held fixed (`LawFit.offset`, same guessing
floor), and the students' intercepts refitted:

    logit P(correct) = offset + alpha_student + sum_r delta_r * U_r(student, skill)

U_r counts the student's uses of resource r that covered the answer's skill, up to and including the answer's own step
(the resource comes before the answer). delta_r is the logit learning a use of r leaves behind beyond the log's
average step, on every later answer on the skill. Standard errors are clustered by student, as the law's.

Resources are believed as far as the log tells them apart, in two levels of empirical-Bayes shrinkage (DerSimonian &
Laird's moment estimate of the spread beyond noise, as `LearningLaw.shrunk_gamma`): each resource toward the mean of its
kind at its level, each kind's mean toward its level's. What the policy serves is each resource's learning relative to
the average step of its level, in units of the law's average step:

    value_r = max(0, average + shrunk delta_r - level mean) / average

so 1 is an average resource of its level; a resource the log never showed gets its kind's value. With no informative
law, or no resource the log shows apart from the others, every value is 1.

Between levels the scorer has its own model of what readiness does to each (`RecommenderConfig.level_efficacy`: core
and advanced work scale with the student's readiness, remedial work does not), which the log measures once: how much a
remedial use taught against a core use (`LevelContrast`: each level's deltas averaged, weighted by the answers they
reached; the difference's SE from the fit's clustered covariance). The contrast is believed beyond its noise, as the
resources are (one contrast: tau^2 = max(0, d^2 - se^2), believed share tau^2 / (tau^2 + se^2)), and the ratio

    ratio = (average + core mean + believed x difference) / (average + core mean)

scales the remedial efficacy the platform configured: the configured value is what remedial work is worth in the
scorer's units when a use of it teaches what a core use does in such a log, and the log says how far that holds.
Advanced work is not contrasted: a random-practice log sends mostly unready students to it, which is what its readiness
model already charges. What the contrast measures in the suite's worlds and what it is worth there:
`experiments/results/level_contrast.md`.

The same log shows what a use teaches the skills a resource covers that nobody answered in that step (a remedial
resource's prerequisites, an advanced project's next skills): one coefficient on the count of such uses before each
answer, fitted the same way (`fit_cover_learning`); over the law's average step, clipped to [0, 1], it is the share of
a skill's learn rate the mastery engine gives those skills when told the resource (`MasteryEngine.learn_from_resources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from engine.catalog import Catalog
from engine.catalog.schema import CORE, REMEDIAL, RESOURCE_KINDS
from engine.errors import ConfigError
from engine.recommend.law import LearningLaw, _clustered_covariance, _newton

RESOURCE_COLUMN = "resource_id"
PENALTY = 0.1  # ridge on the resource factors and intercepts, as the law's


@dataclass(frozen=True)
class ResourceValue:
    """Per catalog resource (R,): `value` (what the policy multiplies a resource's expected gain by), `answers` (the
    fitted answers that followed a use of it on their skill), `delta` and `se` (logit learning beyond the average step,
    NaN where unused), and `shrunk` delta."""

    resource_ids: tuple[str, ...]
    value: np.ndarray
    answers: np.ndarray
    delta: np.ndarray
    se: np.ndarray
    shrunk: np.ndarray
    remedial: LevelContrast | None = None  # the remedial-against-core contrast (None: not measured)

    def to_dict(self) -> dict[str, Any]:
        """{resource_id: [value, answers, delta, se, shrunk]} for the resources the log measured or valued (the rest are
        served at 1); NaN is written as None."""
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None
        return {r: [float(v), int(n), num(d), num(s), num(k)]
                for r, v, n, d, s, k in zip(self.resource_ids, self.value, self.answers, self.delta, self.se, self.shrunk)
                if n > 0 or v != 1.0}

    def note(self, catalog: Catalog) -> str:
        """One line for the build's diagnostics: how many resources were measured, the values' range, each kind's mean."""
        measured = self.answers > 0
        if not measured.any():
            return ("resource values: the log's resource_id column named no resource the fit could use; every resource is "
                    "served as average")
        kinds = ", ".join(f"{RESOURCE_KINDS[k]} {self.value[catalog.resource_kind == k].mean():.2f}"
                          for k in np.unique(catalog.resource_kind))
        return (f"resource values measured from the log's resource_id column: {int(measured.sum())} of {measured.size} "
                f"resources, {self.value.min():.2f} to {self.value.max():.2f} (1 = the average step of its level); by kind "
                f"{kinds}")


def multipliers(payload: dict[str, Any] | None, resource_ids: tuple[str, ...]) -> np.ndarray:
    """(R,) each catalog resource's value from a `ResourceValue.to_dict()` payload (1 for resources it does not name)."""
    out = np.ones(len(resource_ids))
    if not payload:
        return out
    index = {r: i for i, r in enumerate(resource_ids)}
    for r, fields in payload.items():
        value = fields[0] if isinstance(fields, (list, tuple)) and fields else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise ConfigError(f"policy learning resource_value {r!r}: expected [value >= 0, answers, delta, se, shrunk]")
        if r in index:
            out[index[r]] = float(value)
    return out


def resource_uses(student: np.ndarray, skill: np.ndarray, position: np.ndarray, resource: np.ndarray,
                  resource_skills: np.ndarray) -> sparse.csr_matrix:
    """(n, R) per answer, the uses of each resource covering the answer's skill by the same student at or before the
    answer's position. Per answer: `student` row, `skill`, `position` in the student's log, `resource` index (-1: none);
    `resource_skills` (R, S) the catalog's coverage."""
    pairs = _covering_uses(student, skill, position, resource, resource_skills, cover_only=False)
    pairs = pairs.group_by("row", "resource").len()
    return sparse.csr_matrix((pairs["len"].to_numpy().astype(float), (pairs["row"].to_numpy(), pairs["resource"].to_numpy())),
                             shape=(student.size, resource_skills.shape[0]))


def cover_only_uses(student: np.ndarray, skill: np.ndarray, position: np.ndarray, resource: np.ndarray,
                    resource_skills: np.ndarray) -> np.ndarray:
    """(n,) per answer, the student's earlier uses of resources covering the answer's skill in steps whose own answer
    was on another skill: what a resource taught a skill nobody answered then (arguments as `resource_uses`)."""
    counts = _covering_uses(student, skill, position, resource, resource_skills, cover_only=True).group_by("row").len()
    out = np.zeros(student.size)
    out[counts["row"].to_numpy()] = counts["len"].to_numpy()
    return out


def _covering_uses(student: np.ndarray, skill: np.ndarray, position: np.ndarray, resource: np.ndarray,
                   resource_skills: np.ndarray, cover_only: bool) -> pl.DataFrame:
    """One row (answer `row`, `resource`) per answer and use, by the same student, of a resource covering the answer's
    skill at or before its step; `cover_only`: only uses in earlier steps whose own answer was on another skill."""
    used = np.flatnonzero(resource >= 0)
    event, covered = np.nonzero(resource_skills[resource[used]])
    keep = covered != skill[used][event] if cover_only else np.ones(event.size, dtype=bool)
    uses = pl.DataFrame({"student": student[used][event][keep], "skill": covered[keep].astype(np.int64),
                         "resource": resource[used][event][keep], "from": position[used][event][keep]})
    answers = pl.DataFrame({"row": np.arange(student.size), "student": student, "skill": skill.astype(np.int64),
                            "position": position})
    later = pl.col("position") > pl.col("from") if cover_only else pl.col("position") >= pl.col("from")
    return answers.join(uses, on=["student", "skill"]).filter(later)


@dataclass(frozen=True)
class LevelContrast:
    """What a use of a remedial resource taught against a use of a core one (module docstring): `difference` (logits a
    use), its `se`, the `believed` share and the `ratio` the remedial efficacy is scaled by (1: no contrast)."""

    ratio: float
    difference: float
    se: float
    believed: float

    def to_dict(self) -> dict[str, float]:
        return {"ratio": self.ratio, "difference": self.difference, "se": self.se, "believed": self.believed}

    def note(self) -> str:
        return (f"a remedial use taught {self.difference:+.3f} +- {self.se:.3f} logits against a core use (believed "
                f"{self.believed:.2f}): remedial efficacy x {self.ratio:.2f}")


NO_CONTRAST = LevelContrast(1.0, 0.0, 0.0, 0.0)
MAX_LEVEL_RATIO = 3.0  # a ratio measured on a near-zero core step is noise: served at most this


def level_contrast(coef: np.ndarray, cov: np.ndarray, count: np.ndarray, level: np.ndarray, average: float) -> LevelContrast:
    """The remedial-against-core contrast of the resources' fitted `coef` (their `cov`, the `count` of answers each
    reached and each one's `level`, all over the fitted columns) on a law whose average step is `average`."""
    weights = np.zeros(coef.size)
    for lv, sign in ((REMEDIAL, 1.0), (CORE, -1.0)):
        mine = level == lv
        if not mine.any() or count[mine].sum() <= 0:
            return NO_CONTRAST
        weights[mine] = sign * count[mine] / count[mine].sum()
    difference = float(weights @ coef)
    se = float(np.sqrt(max(weights @ cov @ weights, 0.0)))
    core_step = average - float(np.minimum(weights, 0.0) @ coef)  # the law's average step plus the core mean
    believed = max(0.0, 1.0 - se**2 / difference**2) if difference != 0 else 0.0
    if core_step <= 0:
        return LevelContrast(1.0, difference, se, 0.0)
    ratio = float(np.clip((core_step + believed * difference) / core_step, 0.0, MAX_LEVEL_RATIO))
    return LevelContrast(ratio, difference, se, believed)


@dataclass(frozen=True)
class CoverLearning:
    """What a use of a resource teaches a skill it covers but nobody answered in that step: `delta` logits per use
    (`se`), over `answers` answers that followed such a use; `share` = delta / the law's average step, in [0, 1] (what
    `MasteryConfig.resource_learning` takes)."""

    share: float
    delta: float
    se: float
    answers: int

    def to_dict(self) -> dict[str, float]:
        return {"share": self.share, "delta": self.delta, "se": self.se, "answers": self.answers}


def fit_cover_learning(law: LearningLaw, offset: np.ndarray, student: np.ndarray, correct: np.ndarray,
                       cover_uses: np.ndarray) -> CoverLearning:
    """The logit learning a cover-only use leaves on later answers on the skill (`cover_only_uses`), with the law's
    terms held fixed and the students' intercepts refitted, as `fit_resource_value`; its share of the law's average
    step. No informative law, or no such use: share 0 (only answers move P(learned), as before)."""
    reached = int((cover_uses > 0).sum())
    if not law.informative or reached == 0:
        return CoverLearning(0.0, 0.0, 0.0, reached)
    design = sparse.csr_matrix(cover_uses[:, None])
    _, s_idx = np.unique(student, return_inverse=True)
    y = correct.astype(float)
    u, coef, inverse_schur = _newton(s_idx, design, y, PENALTY, floor=law.floor, offset=offset)
    cov = _clustered_covariance(s_idx, design, y, u, coef, inverse_schur, PENALTY, law.floor, offset)
    delta, se = float(coef[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    return CoverLearning(float(np.clip(delta / law.average, 0.0, 1.0)), delta, se, reached)


def fit_resource_value(law: LearningLaw, offset: np.ndarray, student: np.ndarray, correct: np.ndarray,
                       uses: sparse.csr_matrix, catalog: Catalog) -> ResourceValue:
    """Each resource's value (module docstring) from the answers the law was fitted on: their law `offset`, `student`
    index, `correct`, and `uses` (`resource_uses`)."""
    n_res = catalog.n_resources
    count = np.asarray((uses > 0).sum(axis=0)).ravel()  # answers each resource's uses reached
    nan = np.full(n_res, np.nan)
    flat = ResourceValue(catalog.resource_ids, np.ones(n_res), np.zeros(n_res, dtype=np.int64), nan, nan, nan)
    columns = np.flatnonzero(count > 0)
    if not law.informative or columns.size < 2:
        return flat
    design = uses[:, columns].tocsr()
    _, s_idx = np.unique(student, return_inverse=True)
    y = correct.astype(float)
    u, coef, inverse_schur = _newton(s_idx, design, y, PENALTY, floor=law.floor, offset=offset)
    cov = _clustered_covariance(s_idx, design, y, u, coef, inverse_schur, PENALTY, law.floor, offset)
    delta, se = nan.copy(), nan.copy()
    delta[columns], se[columns] = coef, np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    kind_level = catalog.resource_kind * 8 + catalog.resource_level
    shrunk = _shrunk_by_cluster(delta, se, kind_level, catalog.resource_level)
    average = law.average
    level_mean = np.zeros(n_res)
    for level in np.unique(catalog.resource_level):
        mine = (catalog.resource_level == level) & np.isfinite(shrunk)
        if mine.any():
            level_mean[catalog.resource_level == level] = np.average(shrunk[mine], weights=count[mine])
    value = np.where(np.isfinite(shrunk), np.maximum(average + shrunk - level_mean, 0.0) / average, 1.0)
    remedial = level_contrast(coef, cov, count[columns], catalog.resource_level[columns], average)
    return ResourceValue(catalog.resource_ids, value, count.astype(np.int64), delta, se, shrunk, remedial)


def _shrunk_by_cluster(delta: np.ndarray, se: np.ndarray, cluster: np.ndarray, level: np.ndarray) -> np.ndarray:
    """(R,) each measured resource's delta shrunk toward its cluster's (kind at a level) mean, each cluster's mean toward
    its level's; a resource without a measure gets its cluster's shrunk mean (NaN when the cluster has none)."""
    measured = np.isfinite(delta)
    clusters = np.unique(cluster[measured])
    kind_mean, kind_se, kind_level_of = [], [], []
    for g in clusters:
        mine = measured & (cluster == g)
        w = 1.0 / se[mine] ** 2
        kind_mean.append(float((w * delta[mine]).sum() / w.sum()))
        kind_se.append(float(1.0 / np.sqrt(w.sum())))
        kind_level_of.append(int(level[mine][0]))
    tops = _dl_toward_means(np.array(kind_mean), np.array(kind_se), np.array(kind_level_of))
    mean_of = {int(g): value for g, value in zip(clusters, tops)}
    centre = np.array([mean_of.get(int(g), np.nan) for g in cluster])
    within = _dl_toward_means(delta[measured], se[measured], cluster[measured], centres=centre[measured])
    out = centre.copy()
    out[measured] = within
    return out


def _dl_toward_means(x: np.ndarray, se: np.ndarray, cluster: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
    """Each x shrunk toward its cluster's precision-weighted mean (or the given `centres`) by tau^2 / (tau^2 + se^2),
    tau^2 the spread within clusters beyond noise (DerSimonian & Laird's moment estimate pooled over clusters); a
    cluster of one keeps its value when no centre is given."""
    w = 1.0 / np.maximum(se, 1e-9) ** 2
    means = np.zeros_like(x)
    q, c, df = 0.0, 0.0, 0
    for g in np.unique(cluster):
        mine = cluster == g
        wg = w[mine]
        means[mine] = (wg * x[mine]).sum() / wg.sum()
        q += float((wg * (x[mine] - means[mine]) ** 2).sum())
        c += float(wg.sum() - (wg**2).sum() / wg.sum())
        df += int(mine.sum()) - 1
    if df <= 0 or c <= 0:
        return x.copy() if centres is None else centres + 0.0 * x
    tau2 = max(0.0, (q - df) / c)
    target = means if centres is None else centres
    return target + tau2 / (tau2 + se**2) * (x - target)
