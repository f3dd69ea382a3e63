"""How much a practice step teaches at each difficulty, estimated from a response log (the learning law).

The recommender must not assume the success rate at which students learn most; it estimates it. The law
is an additive-factors model (Cen, Koedinger & Junker 2006) whose learning term depends on how hard each
earlier practice step was for the student when it was taken:

    logit P(correct) = alpha_student + beta_skill + d * (-a_i b_i) + sum_b gamma_b * N_b(student, skill)

where N_b counts the student's earlier steps on the item's skill whose predicted success (the mastery
engine's per-skill IRT prediction just before the answer) fell in difficulty band b (`BAND_EDGES`), and
-a_i b_i is the item's calibrated easiness. gamma_b is the logit-scale learning a step in band b leaves
behind, measured on every later answer on the skill, not only the next one. Answers may be guessed: the fit's answer
model is P(correct) = g + (1 - g) sigmoid(logit above), with one floor g for the log chosen from FLOORS by the
likelihood (a floor other than 0 only when it raises the log-likelihood by more than FLOOR_BEYOND, half the 99%
point of chi-square with one degree of freedom). Without it, answers a weak student gets right by guessing on a
multiple-choice item read as learning left by the hardest steps: in the outside world with a guessing floor of 0.25 the
0-30% band came out the best (+0.21 logits, world 11) and equilearn fell below the gated curriculum. The student intercepts absorb
who the student is, so the gammas are identified by how success changes within a student over time; a
random-practice log varies the band of each step at random, which is what makes them comparable.

The fit is a ridge-penalised logistic regression by Newton's method over at most `max_students` students
drawn with a fixed seed (the student block of the Hessian is diagonal, so a step costs the small block
only). Standard errors of the gammas are clustered by student (a sandwich over the students' score blocks,
Liang & Zeger 1986): the model is only approximately right, so one student's answers are not independent
given it, and a band fed by few students' many steps is less sure than the Hessian says. The policy uses
`multiplier(p)`, each band's learning relative to the log's average step, on empirical-Bayes estimates of the
bands (`shrunk_gamma`): each band's difference from the average step counts by tau^2 / (tau^2 + se^2), where
tau^2 is how much the bands differ beyond their noise (DerSimonian & Laird's moment estimate). The policy picks
the band that teaches most, and the largest of six noisy estimates is biased upward (the winner's curse), most
of all for a rarely logged band; shrinking by the spread the log shows keeps a real peak (where the bands differ
far beyond their standard errors it barely moves them), serves a law the log cannot tell from flat as flat,
and serves a band it cannot place near the average step, neither favoured nor written off. (Pulled toward the
bands' precision-weighted mean instead, a rare band of a law with several negative bands was written off: strong
students then had nothing worth practising but advanced work, and the advanced-exposure audit failed on the
README pipeline's test platform.) The rule it replaces, a band's distance from the average counting only beyond
one standard error, made the rarest band the best whenever the average was pulled down by a large unproductive
band: in the outside world with 30 skills (a random-practice log spread thin, 253 steps in the 90-100% band at
0.30 +- 0.19 logits) it sent students to items they answer right 90% of the time and gained 0.047 (a flat law:
0.052), leaving the top quartile below the gated curriculum; with this rule 0.053, no quartile below it
(`experiments/results/outside_variants.md`). The law is fitted once from a log and not refitted from what the
policy serves, so nothing would correct a choice made on noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, ndtr

from engine.errors import ConfigError

FORMAT = "equilearn-learning-law"
FORMAT_VERSION = 1
MIN_STEPS = 200  # fewer logged steps than this and the law is not used (uninformative)
FLOORS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)  # guessing floors tried (multiple choice of 3-10 options: 0.1-0.33)
FLOOR_BEYOND = 3.32  # log-likelihood gain a floor above 0 needs: chi2(1) at 99% / 2


@dataclass(frozen=True)
class LearningLaw:
    """Per difficulty band (edges of predicted success): logit learning per step `gamma`, its `se`, and how
    many logged steps fell in the band (`n`); `floor`: the guessing floor of the fit's answer model."""

    edges: tuple[float, ...]
    gamma: tuple[float, ...]
    se: tuple[float, ...]
    n: tuple[int, ...]
    floor: float = 0.0

    def __post_init__(self) -> None:
        k = len(self.edges) - 1
        if k < 2 or not (len(self.gamma) == len(self.se) == len(self.n) == k):
            raise ConfigError(f"learning law: {k} bands need as many gamma, se and n values")
        if not all(np.isfinite(self.gamma)) or not all(s >= 0 for s in self.se):
            raise ConfigError("learning law: gamma must be finite and se >= 0")
        if not 0.0 <= self.floor < 1.0:
            raise ConfigError(f"learning law: the guessing floor must be in [0, 1), got {self.floor}")

    @property
    def informative(self) -> bool:
        """Enough logged steps, and measurable learning on average (else every band counts the same)."""
        return sum(self.n) >= MIN_STEPS and self.average > 0

    @property
    def average(self) -> float:
        """The log's average learning per step (bands weighted by their steps), clipped at 0 per band."""
        n = np.asarray(self.n, dtype=float)
        return float((n * np.maximum(self.gamma, 0.0)).sum() / max(n.sum(), 1.0))

    def band(self, p: np.ndarray) -> np.ndarray:
        edges = np.asarray(self.edges)
        return np.clip(np.searchsorted(edges, np.nan_to_num(p, nan=0.5), side="right") - 1, 0, edges.size - 2)

    def multiplier(self, p: np.ndarray) -> np.ndarray:
        """Learning of a step at predicted success `p` relative to the log's average step (1 everywhere when
        the law is not informative); see `band_multipliers`."""
        p = np.asarray(p, dtype=float)
        if not self.informative:
            return np.ones_like(p)
        return self.band_multipliers[self.band(p)]

    @cached_property
    def band_multipliers(self) -> np.ndarray:
        """(K,) each band's learning (`shrunk_gamma`, clipped at 0) over the log's average step; computed once per
        law (every recommendation reads it), read-only; all 1 for a law that is not informative, as `multiplier` serves
        it."""
        out = np.maximum(self.shrunk_gamma, 0.0) / self.average if self.informative else np.ones(len(self.gamma))
        out.flags.writeable = False
        return out

    @property
    def shrunk_gamma(self) -> np.ndarray:
        """(K,) each band's learning believed as far as the log tells the bands apart: the log's average step plus
        the band's difference from it times tau^2 / (tau^2 + se^2), tau^2 the bands' variance beyond their noise,
        max(0, (Q - (K - 1)) / (sum w - sum w^2 / sum w)) with w = 1 / se^2 (the denominator taken as 2 sum_{i<j} w_i w_j
        / sum w, which does not cancel to 0 when one band's w dwarfs the others') and Q = sum w (gamma - m)^2 around the
        precision-weighted mean m (DerSimonian & Laird 1986). A band the log cannot tell from the others is served
        as the average step, neither favoured nor written off. So is a band whose SE the fit could not measure (0 or not
        finite: a band of a few steps from one student, whose clustered SE collapses); it carries no weight in tau^2,
        which, with fewer than two measured bands, is 0."""
        gamma, se = np.asarray(self.gamma, dtype=float), np.asarray(self.se, dtype=float)
        measured = np.isfinite(se) & (se > 0)
        if measured.sum() < 2:
            return np.full(gamma.shape, self.average)
        g, w = gamma[measured], 1.0 / se[measured] ** 2
        mean = float((w * g).sum() / w.sum())
        q = float((w * (g - mean) ** 2).sum())
        pairs = 2.0 * float(np.triu(np.outer(w, w), 1).sum()) / float(w.sum())  # sum w - sum w^2 / sum w, no cancelling
        tau2 = max(0.0, (q - (g.size - 1)) / pairs)
        weight = np.zeros(gamma.shape)
        weight[measured] = tau2 / (tau2 + se[measured] ** 2)
        return self.average + weight * (gamma - self.average)

    def expected_multiplier(self, mean: np.ndarray, var: np.ndarray, a: np.ndarray, b: np.ndarray,
                            c: np.ndarray) -> np.ndarray:
        """`multiplier` averaged over the uncertainty of the student's ability: the 3PL success of an item (a, b, c)
        rises with ability, so each band edge is an ability threshold, and under ability ~ N(mean, var) the step falls
        in band k with probability Phi(upper_k) - Phi(lower_k). The value of a step whose difficulty is uncertain is
        the expected value over bands, not the value at the expected success (which, for a skill the student has not
        shown yet, sits in the middle bands whatever the truth)."""
        mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
        if not self.informative:
            return np.ones(np.broadcast_shapes(mean.shape, np.shape(a)))
        mean, var, a, b, c = np.broadcast_arrays(mean, var, *(np.asarray(x, dtype=float) for x in (a, b, c)))
        inner = np.asarray(self.edges[1:-1]).reshape((-1,) + (1,) * mean.ndim)  # edges strictly inside (0, 1)
        share = (inner - c[None]) / np.maximum(1.0 - c[None], 1e-12)  # (K-1, ...) the edge's share above guessing
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.where(share > 0, np.log(share / (1.0 - share)), -np.inf)
        z = (b[None] + logit / a[None] - mean[None]) / np.sqrt(np.maximum(var, 1e-12))[None]  # ability at each edge
        below = ndtr(z)  # (K-1, ...) P(success below each inner edge)
        cdf = np.concatenate([np.zeros((1,) + mean.shape), below, np.ones((1,) + mean.shape)], axis=0)
        prob = np.diff(cdf, axis=0)  # (K, ...) P(the step falls in each band)
        return np.tensordot(self.band_multipliers, prob, axes=(0, 0))

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "band_edges": list(self.edges),
                "gamma": list(self.gamma), "se": list(self.se), "n": list(self.n), "floor": self.floor}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> LearningLaw:
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {FORMAT} v{FORMAT_VERSION} payload")
        try:
            return cls(tuple(float(x) for x in payload["band_edges"]), tuple(float(x) for x in payload["gamma"]),
                       tuple(float(x) for x in payload["se"]), tuple(int(x) for x in payload["n"]),
                       float(payload.get("floor", 0.0)))  # a law written before floors were fitted had none
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"learning law: malformed payload ({exc})") from None

    def summary(self) -> list[dict[str, float]]:
        """Per band: range of predicted success, logged steps, learning per step (logits) and its SE."""
        return [{"from": self.edges[b], "to": self.edges[b + 1], "n": self.n[b], "gamma": self.gamma[b], "se": self.se[b]}
                for b in range(len(self.gamma))]


@dataclass(frozen=True)
class LawFit:
    """The fitted law and, per response given to `fit_law_with_offset`, the fit's logit without the student's intercept
    (skill, easiness and band terms; NaN for a response of a student left out of the fit): what a further factor's fit
    (`engine.recommend.resource_value`) holds fixed, with the same guessing floor."""

    law: LearningLaw
    offset: np.ndarray


def fit_law(student: np.ndarray, skill: np.ndarray, easiness: np.ndarray, counts: np.ndarray, correct: np.ndarray,
            step_band: np.ndarray, edges: tuple[float, ...], *, penalty: float = 0.1, max_students: int = 3000,
            seed: int = 0, floors: tuple[float, ...] = FLOORS) -> LearningLaw:
    """Fit the additive-factors law (module docstring). Per response: `student` and `skill` indices, the item's
    `easiness` (-a b), `counts` (n, B) of the student's earlier steps on the skill per band, `correct` (0/1), and
    `step_band`, the band this response's own step fell in (for the per-band step counts); `floors`: the guessing
    floors tried (module docstring)."""
    return fit_law_with_offset(student, skill, easiness, counts, correct, step_band, edges, penalty=penalty,
                               max_students=max_students, seed=seed, floors=floors).law


def fit_law_with_offset(student: np.ndarray, skill: np.ndarray, easiness: np.ndarray, counts: np.ndarray,
                        correct: np.ndarray, step_band: np.ndarray, edges: tuple[float, ...], *, penalty: float = 0.1,
                        max_students: int = 3000, seed: int = 0, floors: tuple[float, ...] = FLOORS) -> LawFit:
    """`fit_law`, with the fitted logit of each response net of its student's intercept (`LawFit`)."""
    n_bands = len(edges) - 1
    offset = np.full(correct.size, np.nan)
    kept = np.ones(correct.size, dtype=bool)
    students = np.unique(student)
    if students.size > max_students:
        kept = np.isin(student, np.random.default_rng(seed).choice(students, max_students, replace=False))
        student, skill, easiness, counts, correct = student[kept], skill[kept], easiness[kept], counts[kept], correct[kept]
    _, s_idx = np.unique(student, return_inverse=True)
    _, k_idx = np.unique(skill, return_inverse=True)
    n = correct.size
    steps = np.bincount(step_band[step_band >= 0], minlength=n_bands)
    if n < MIN_STEPS or np.unique(correct).size < 2:
        return LawFit(LearningLaw(tuple(edges), (0.0,) * n_bands, (0.0,) * n_bands, tuple(int(x) for x in steps)), offset)
    shared = shared_design(k_idx, easiness, counts)
    y = correct.astype(float)
    fits: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    start = None
    for floor in sorted(floors):  # each floor starts from the fit below it: a few Fisher-scoring steps, not fifty
        fits[floor] = _newton(s_idx, shared, y, penalty, floor=floor, start=start)
        start = fits[floor][:2]
    loglik = {floor: _loglik(s_idx, shared, y, u, v, floor) for floor, (u, v, _) in fits.items()}
    best = max(loglik, key=loglik.get)
    floor = best if loglik[best] - loglik.get(0.0, -np.inf) > FLOOR_BEYOND else min(floors)
    u, coef, inverse_schur = fits[floor]
    cov = _clustered_covariance(s_idx, shared, y, u, coef, inverse_schur, penalty, floor)
    se = np.sqrt(np.clip(np.diag(cov)[-n_bands:], 0.0, None))
    offset[kept] = shared @ coef
    return LawFit(LearningLaw(tuple(edges), tuple(float(x) for x in coef[-n_bands:]), tuple(float(x) for x in se),
                              tuple(int(x) for x in steps), float(floor)), offset)


def shared_design(skill: np.ndarray, easiness: np.ndarray, counts: np.ndarray) -> sparse.csr_matrix:
    """(n, skills + 1 + B) the law's columns besides the student intercepts: skill one-hot (`skill` indices 0..S-1),
    the item's easiness, the per-band step counts."""
    n = skill.size
    return sparse.hstack([sparse.csr_matrix((np.ones(n), (np.arange(n), skill)), shape=(n, int(skill.max()) + 1)),
                          sparse.csr_matrix(easiness[:, None]), sparse.csr_matrix(counts)]).tocsr()


def _membership(student: np.ndarray) -> sparse.csr_matrix:
    """(students, rows) 0/1: which rows belong to which student (sums a per-row quantity per student)."""
    n_students = int(student.max()) + 1
    return sparse.csr_matrix((np.ones(student.size), (student, np.arange(student.size))), shape=(n_students, student.size))


def _floored(eta: np.ndarray, y: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of P = floor + (1 - floor) sigmoid(eta): the score residual (d loglik / d eta) and the Fisher weight
    (dP/d eta)^2 / (P (1 - P)); at floor 0, y - p and p (1 - p), the logistic regression's."""
    p0 = expit(eta)
    slope = (1.0 - floor) * p0 * (1.0 - p0)
    p = floor + (1.0 - floor) * p0
    var = np.clip(p * (1.0 - p), 1e-12, None)
    return (y - p) * slope / var, slope * slope / var


def _loglik(student: np.ndarray, shared: sparse.csr_matrix, y: np.ndarray, u: np.ndarray, v: np.ndarray,
            floor: float, offset: np.ndarray | float = 0.0) -> float:
    p = np.clip(floor + (1.0 - floor) * expit(offset + u[student] + shared @ v), 1e-12, 1.0 - 1e-12)
    return float((y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum())


def _newton(student: np.ndarray, shared: sparse.csr_matrix, y: np.ndarray, penalty: float,
            max_iter: int = 50, tol: float = 1e-8, floor: float = 0.0,
            start: tuple[np.ndarray, np.ndarray] | None = None,
            offset: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge logistic regression logit = u[student] + shared @ v, penalty / 2 * (|u|^2 + |v|^2), by Newton's
    method (Fisher scoring with a guessing `floor`, P = floor + (1 - floor) sigmoid(logit), each step halved until the
    penalised likelihood does not fall). The student block of the Hessian is diagonal, so each step solves only the
    small `shared` block
    (its Schur complement): O(rows x columns^2) per step, whatever the number of students. `offset`: a fixed part of
    each row's logit (another fit's terms held fixed). Returns u, v and
    the inverse Schur complement (the shared block of the inverse Hessian: v's model-based covariance)."""
    members, q = _membership(student), shared.shape[1]
    n_students = members.shape[0]
    u, v = (np.zeros(n_students), np.zeros(q)) if start is None else (start[0].copy(), start[1].copy())

    def objective(u: np.ndarray, v: np.ndarray) -> float:
        return _loglik(student, shared, y, u, v, floor, offset) - penalty / 2 * (float(u @ u) + float(v @ v))

    current = objective(u, v)
    for _ in range(max_iter):
        r, w = _floored(offset + u[student] + shared @ v, y, floor)
        g_u = members @ r - penalty * u
        g_v = shared.T @ r - penalty * v
        h_uu = members @ w + penalty  # (n_students,) the diagonal block
        h_uv = (members @ shared.multiply(w[:, None])).toarray()  # (n_students, q)
        h_vv = (shared.T @ shared.multiply(w[:, None])).toarray() + penalty * np.eye(q)
        schur = h_vv - h_uv.T @ (h_uv / h_uu[:, None])
        dv = np.linalg.solve(schur, g_v - h_uv.T @ (g_u / h_uu))
        du = (g_u - h_uv @ dv) / h_uu
        step = 1.0  # halved until the penalised likelihood does not fall: with a floor it is not concave, and a full
        while (trial := objective(u + step * du, v + step * dv)) < current - 1e-9 * abs(current) and step > 1e-3:
            step /= 2  # Fisher step can overshoot a student whose answers all sit at the floor
        u, v, gained, current = u + step * du, v + step * dv, trial - current, trial
        settled = floor > 0 and 0 <= gained < 1e-8 * abs(current)  # Fisher scoring's slow tail moves nothing that matters
        if step * max(np.abs(du).max(), np.abs(dv).max()) < tol or settled:
            break
    return u, v, np.linalg.inv(schur)


def _clustered_covariance(student: np.ndarray, shared: sparse.csr_matrix, y: np.ndarray, u: np.ndarray, v: np.ndarray,
                          inverse_schur: np.ndarray, penalty: float, floor: float = 0.0,
                          offset: np.ndarray | float = 0.0) -> np.ndarray:
    """Covariance of v clustered by student: bread M^-1 (`inverse_schur`) around the meat sum_i s_i s_i^T x G / (G - 1)
    over the G students, s_i = sum over the student's rows of (x_t - h_i) r_t, the score on v net of the part the
    student's own intercept absorbs (h_i = the student's row of H_uv / H_uu, r_t the score residual, y_t - p_t
    without a floor; `_floored`): the v part of the penalised estimator's influence, summed over each student's
    answers."""
    members = _membership(student)
    n_students = members.shape[0]
    r, w = _floored(offset + u[student] + shared @ v, y, floor)
    h_uu = members @ w + penalty  # the penalised Hessian's diagonal block, as in the bread
    h_uv = (members @ shared.multiply(w[:, None])).toarray()
    scores = (members @ shared.multiply(r[:, None])).toarray() - (h_uv / h_uu[:, None]) * (members @ r)[:, None]
    meat = scores.T @ scores * n_students / max(n_students - 1, 1)
    return inverse_schur @ meat @ inverse_schur
