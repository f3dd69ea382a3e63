"""Which items answer another skill better than the one the catalog tags them with (Q-matrix validation).

A catalog's Q-matrix is written by hand, and an item tagged to the wrong skill misleads both models: its answers move
the tagged skill's estimate, and the recommender offers it as practice for a skill it does not exercise (in the suite's
misspecified worlds, a set built on the true tags taught about +0.02 more, below). The build reports such items, and
retags them only when asked (`build_model_set(apply_item_tags=True)`, `--apply-item-tags`): the catalog is the
platform's, and a log of a few hundred students tells too little (below).

The test, per item tagged with one skill (answered by at least MIN_ANSWERS students): each answer is set beside the
same student's standing on every skill, the mean of their item-centred scores (answer minus the item's mean) on the
skill's other items, leaving this item out. If the item exercises its tagged skill, its answers follow that standing
more closely than any other skill's. The item's correlation with the best other skill is compared with its
correlation with the tagged one, both on the same answers, by Meng, Rosenthal & Rubin's (1992) z for correlated
correlations that share a variable (it takes the two standings' own correlation into account: every skill's standing
carries the student's general ability). Its null is not "equal correlations" but the correlation the tagged skill's
answers would have with the other standing if one ability drove both: a standing averaged over few or weakly
discriminating answers follows any ability less closely, so the tagged correlation is scaled by the square root of the
ratio of the two standings' reliabilities (`reliabilities`; without it, on a log simulated from one ability, the
skill with the most reliable standing drew a false flag). One-sided p-values, Bonferroni over the other skills tried,
then Holm over the items at `alpha`.

What it can tell (`experiments/results/item_tags.md`, the suite's worlds, 2 seeds pooled): each student answers about
two items of each of the 32 skills in a random-practice log of 60 steps, so each standing is noisy. From 300 students
it flags nothing; from 3,000, 9 of 76 and 10 of 102 mis-tagged items; from 10,000, 40 of 76 and 49 of 102, every one
with its true skill; no correctly tagged item was flagged in any of the ten worlds at any size. Retagging the flagged
items and building again from the same log taught +0.006 [+0.004, +0.008] and +0.012 [+0.009, +0.016] more from
10,000 students (the true tags: +0.023 in both), nothing beyond the noise from 3,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import norm

from engine.catalog import Catalog
from engine.data.steering import STEERED

MIN_ANSWERS = 50  # students who answered the item: fewer and the item is not tested
MIN_PAIRS = 20  # answers whose student has a standing on the skill: fewer and that skill is not compared
ALPHA = 0.05  # family-wise error over the items tested (Holm)
LISTED = 10  # flagged items named in the build's note
MIN_RELIABILITY = 0.05  # a standing's reliability is taken as at least this (a skill with almost no spread)


@dataclass(frozen=True)
class FlaggedItem:
    """An item whose answers follow `suggested` more closely than its tag `tagged` (correlations `r_*` over `n` answers)."""

    item_id: str
    tagged: str
    suggested: str
    r_tagged: float
    r_suggested: float
    z: float
    p_adjusted: float
    n: int


@dataclass(frozen=True)
class ItemTagCheck:
    """Items tested, items flagged (most significant first) and the family-wise level used."""

    tested: int
    flagged: list[FlaggedItem] = field(default_factory=list)
    alpha: float = ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {"tested": self.tested, "alpha": self.alpha, "method": "Meng-Rosenthal-Rubin z, Bonferroni over skills, "
                "Holm over items", "flagged": [vars(f) for f in self.flagged]}

    def note(self) -> str:
        """One line for the build's diagnostics."""
        head = (f"item tags checked against the answers: {self.tested} item(s) tested, {len(self.flagged)} answer another "
                f"skill better than their tag (Holm {self.alpha:.0%})")
        if not self.flagged:
            return head
        shown = "; ".join(f"{f.item_id} (tagged {f.tagged}) follows {f.suggested}: r {f.r_suggested:+.2f} vs {f.r_tagged:+.2f}"
                          for f in self.flagged[:LISTED])
        more = f"; and {len(self.flagged) - LISTED} more (build.item_tags)" if len(self.flagged) > LISTED else ""
        return f"{head}: {shown}{more}. Check these items' skills in the catalog and build again"


def _grouped(item: np.ndarray, n_items: int, *values: np.ndarray) -> list[np.ndarray]:
    """Per item, the sum of each of `values` (n,)."""
    return [np.bincount(item, weights=v, minlength=n_items) for v in values]


def _correlation(n: np.ndarray, sx: np.ndarray, sy: np.ndarray, sxx: np.ndarray, syy: np.ndarray,
                 sxy: np.ndarray) -> np.ndarray:
    """Pearson correlation from grouped sums (NaN where a variance is 0 or n < 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        var_x, var_y = sxx - sx**2 / n, syy - sy**2 / n
        r = cov / np.sqrt(var_x * var_y)
    return np.where((n >= 2) & (var_x > 1e-12) & (var_y > 1e-12), r, np.nan)


@dataclass(frozen=True)
class Standings:
    """Per answer (n,): catalog `item`, `student` index, `centred` answer (minus the item's mean) and `owner`, its item's
    primary skill; per student and skill (U, S), the `total` and `count` of their centred answers; per answer, the
    `own_total` / `own_count` of the student's answers on the same item (left out of that skill's standing)."""

    item: np.ndarray
    student: np.ndarray
    centred: np.ndarray
    owner: np.ndarray
    total: np.ndarray
    count: np.ndarray
    own_total: np.ndarray
    own_count: np.ndarray

    def column(self, skill: int | np.ndarray) -> np.ndarray:
        """(n,) each answer's student's mean centred score on `skill` (one skill, or one per answer), the answered item
        left out (NaN: no other answer there). Computed per call, so no (answers x skills) array is ever held."""
        leave = self.owner == skill
        t = self.total[self.student, skill] - np.where(leave, self.own_total, 0.0)
        c = self.count[self.student, skill] - np.where(leave, self.own_count, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, t / np.where(c > 0, c, 1.0), np.nan)


def standings(responses: pl.DataFrame, catalog: Catalog) -> Standings:
    """The answers of `responses` (catalog items) arranged for the standings (`Standings`)."""
    item = responses["item_id"].replace_strict(list(catalog.item_ids), list(range(catalog.n_items)),
                                               return_dtype=pl.Int64).to_numpy()
    student = (responses["student_id"].rank("dense").to_numpy() - 1).astype(np.int64)  # 0..U-1, as np.unique's inverse
    y = responses["correct"].to_numpy().astype(float)
    n_item = np.bincount(item, minlength=catalog.n_items)
    centred = y - (np.bincount(item, weights=y, minlength=catalog.n_items) / np.maximum(n_item, 1))[item]
    n_students, n_skills = int(student.max()) + 1, catalog.n_skills
    owner = catalog.item_skill[item]  # every answer counts toward its item's primary skill's standing
    total = np.zeros((n_students, n_skills))
    count = np.zeros((n_students, n_skills))
    np.add.at(total, (student, owner), centred)
    np.add.at(count, (student, owner), 1.0)
    pair = student * catalog.n_items + item  # the student's own answers on this item
    own_total = np.bincount(pair, weights=centred, minlength=n_students * catalog.n_items)[pair]
    own_count = np.bincount(pair, minlength=n_students * catalog.n_items)[pair].astype(float)
    return Standings(item, student, centred, owner, total, count, own_total, own_count)


def reliabilities(student: np.ndarray, skill: np.ndarray, centred: np.ndarray, n_skills: int) -> np.ndarray:
    """(S,) how much of the spread of students' standings on each skill is theirs rather than the noise of their few
    answers: 1 - mean(within-student answer variance / answers) / variance of the standings, over the students with
    answers on the skill (clipped to [MIN_RELIABILITY, 1]). A standing made of few or uninformative answers follows any
    ability less closely, so correlations with it are compared after dividing by its square root (Spearman's correction
    for attenuation)."""
    n_students = int(student.max()) + 1
    cell = student * n_skills + skill
    m = np.bincount(cell, minlength=n_students * n_skills).astype(float)
    total = np.bincount(cell, weights=centred, minlength=m.size)
    squares = np.bincount(cell, weights=centred**2, minlength=m.size)
    seen = m > 0
    mean = np.where(seen, total / np.maximum(m, 1), 0.0)
    within_ss = np.where(seen, squares - m * mean**2, 0.0).reshape(n_students, n_skills)
    m, mean, seen = m.reshape(n_students, n_skills), mean.reshape(n_students, n_skills), seen.reshape(n_students, n_skills)
    dof = np.maximum(m - 1, 0).sum(axis=0)
    within = within_ss.sum(axis=0) / np.maximum(dof, 1)  # pooled within-student variance of one answer
    k = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (np.where(seen, mean**2, 0).sum(axis=0) - np.where(seen, mean, 0).sum(axis=0) ** 2 / k) / (k - 1)
        error = np.where(seen, within[None, :] / np.maximum(m, 1), 0).sum(axis=0) / k
        rel = 1.0 - error / spread
    return np.clip(np.nan_to_num(rel, nan=MIN_RELIABILITY), MIN_RELIABILITY, 1.0)


def check_item_tags(responses: pl.DataFrame, catalog: Catalog, alpha: float = ALPHA) -> ItemTagCheck:
    """The items of `responses` (canonical log of catalog items: student_id, item_id, correct) that answer another skill
    better than their tag (module docstring). Answers marked `steered` (to items the served policy chose, by the state
    it read: `engine.data.steering`) are left out, as from the item bank."""
    if STEERED in responses.columns:
        responses = responses.filter(~pl.col(STEERED).fill_null(False))
    if responses.height == 0 or catalog.n_skills < 2:
        return ItemTagCheck(0, [], alpha)
    st = standings(responses, catalog)
    item, student, y = st.item, st.student, st.centred
    n_items, n_skills = catalog.n_items, catalog.n_skills
    own = np.where(catalog.item_skills.sum(axis=1) == 1, catalog.item_skill, -1)  # (I,) the single tag, -1: several
    rel = np.sqrt(reliabilities(student, st.owner, y, n_skills))
    r = np.full((n_items, n_skills), np.nan)
    for s in range(n_skills):  # one pass per skill over all answers: grouped sums per item
        x = st.column(s)
        ok = ~np.isnan(x)
        xs, ys = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
        n, sx, sy, sxx, syy, sxy = _grouped(item, n_items, ok.astype(float), xs, ys, xs * xs, ys * ys, xs * ys)
        r[:, s] = np.where(n >= MIN_PAIRS, _correlation(n, sx, sy, sxx, syy, sxy), np.nan) / rel[s]  # disattenuated
    # students who answered each item: each of a student's answers on it counts 1 / their answers on it
    answered = np.rint(np.bincount(item, weights=1.0 / st.own_count, minlength=n_items)).astype(np.int64)
    enough = (answered >= MIN_ANSWERS) & (own >= 0)
    r_own = np.where(own >= 0, r[np.arange(n_items), np.maximum(own, 0)], np.nan)
    others = np.where(np.arange(n_skills)[None, :] == own[:, None], np.nan, r)
    testable = enough & np.isfinite(r_own) & np.isfinite(others).any(axis=1)
    best = np.where(testable, np.nanargmax(np.where(np.isfinite(others), others, -np.inf), axis=1), 0)
    z, r_tagged, r_best, n_pairs = _meng_z(st, own, best, testable, rel)
    p = np.minimum(1.0, norm.sf(z) * (n_skills - 1))  # one-sided, Bonferroni over the other skills tried
    tested = np.flatnonzero(testable & np.isfinite(z))
    flagged = _holm(tested, p, alpha)
    out = [FlaggedItem(catalog.item_ids[i], catalog.skill_ids[own[i]], catalog.skill_ids[best[i]], float(r_tagged[i]),
                       float(r_best[i]), float(z[i]), float(adj), int(n_pairs[i])) for i, adj in flagged]
    return ItemTagCheck(int(tested.size), out, alpha)


def _meng_z(st: Standings, own: np.ndarray, best: np.ndarray, testable: np.ndarray,
            root_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item, on the answers whose student has both standings (tagged, best other): Meng, Rosenthal & Rubin's z for
    r(answer, best other standing) beyond what it would be if the answer followed the tagged skill, r(answer, tagged
    standing) x sqrt(reliability of the other / of the tagged) (`root_rel` (S,): the roots of the standings'
    reliabilities; the same ability read through a more reliable standing correlates more), the two correlations, and
    how many answers."""
    n_items, item, y = own.size, st.item, st.centred
    xa, xb = st.column(np.maximum(own, 0)[item]), st.column(best[item])
    ok = np.isfinite(xa) & np.isfinite(xb) & testable[item]
    xa, xb, yy = np.where(ok, xa, 0.0), np.where(ok, xb, 0.0), np.where(ok, y, 0.0)
    n, sa, sb, sy, saa, sbb, syy, sab, say, sby = _grouped(item, n_items, ok.astype(float), xa, xb, yy, xa * xa, xb * xb,
                                                           yy * yy, xa * xb, xa * yy, xb * yy)
    r12 = np.clip(np.nan_to_num(_correlation(n, sa, sb, saa, sbb, sab)), -0.999, 0.999)
    r_own, r_best = _correlation(n, sa, sy, saa, syy, say), _correlation(n, sb, sy, sbb, syy, sby)
    r1, r2 = np.clip(r_best, -0.999, 0.999), np.clip(r_own, -0.999, 0.999)
    expected = np.clip(r2 * root_rel[best] / root_rel[np.maximum(own, 0)], -0.999, 0.999)  # r1 if both follow one ability
    mean_sq = (r1**2 + r2**2) / 2
    f = np.minimum((1 - r12) / (2 * (1 - mean_sq)), 1.0)
    h = (1 - f * mean_sq) / (1 - mean_sq)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (np.arctanh(r1) - np.arctanh(expected)) * np.sqrt(np.maximum(n - 3, 0) / (2 * (1 - r12) * h))
    return np.where(testable & (n > 3), z, np.nan), r_own, r_best, n.astype(np.int64)


def _holm(tested: np.ndarray, p: np.ndarray, alpha: float) -> list[tuple[int, float]]:
    """(item, Holm-adjusted p) of the tested items rejected at family-wise `alpha`, most significant first."""
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return [(int(i), float(a)) for i, a in zip(order, adjusted, strict=True) if a <= alpha]
