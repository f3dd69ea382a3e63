"""Bock-Aitkin EM for one calibration problem, accelerated with SQUAREM.

`EMMap` binds the model, priors, the quadrature and which items are free or fixed (anchors from a
bank); `EMProblem` adds the coded responses held in this process. The EM map takes the flat vector
of free parameters (see `ParameterLayout`) to the next EM iterate; `run_em` iterates it with SQUAREM
extrapolation (Varadhan & Roland 2008, scheme S3), falling back to the plain EM step whenever an
extrapolated point would lower the log posterior, so the sequence stays monotone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.irt.data import ResponseData
from models.irt.estep import ExpectedCounts, Posterior, e_step, expected_counts, log_tables, responding_students
from models.irt.layout import ParameterLayout
from models.irt.mstep import ItemCoords, maximize, objective
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature

SCORE_CHUNK = 65_536  # responses per block when per-student scores are gathered


class EMMap:
    """The EM map and the exact score of one calibration problem, over the E-step's sufficient statistics.

    Item arrays cover all data items, `free` marks the estimated ones; `anchors` holds (d, a, c) for every
    item (used for fixed items only); `latent` estimates the ability mean and sd. Where the statistics
    come from is the subclass's business (`expected_counts`): one process over the whole log
    (`EMProblem`), or a sum over student partitions computed elsewhere (a distributed engine). Both give
    the same numbers, so both run the same M-step and the same `run_em`.
    """

    def __init__(
        self, model: str, priors: Priors, quadrature: Quadrature, free: np.ndarray,
        anchors: tuple[np.ndarray, np.ndarray, np.ndarray], latent: bool,
    ) -> None:
        self.model, self.priors, self.quadrature = model, priors, quadrature
        self.free, self.latent = free, latent
        self.free_index = np.flatnonzero(free)
        self.anchor_d, self.anchor_a, self.anchor_c = (np.asarray(v, dtype=float).copy() for v in anchors)
        self.layout = ParameterLayout(model, len(self.free_index), latent)
        self.template = ItemCoords(np.zeros(len(self.free_index)), np.ones(len(self.free_index)), np.full(len(self.free_index), -np.inf))

    # --- parameters -------------------------------------------------------------------------
    def unpack(self, vector: np.ndarray) -> tuple[ItemCoords, Quadrature]:
        coords, mean, sd = self.layout.unpack(vector, self.template)
        quad = self.quadrature.with_prior(mean, sd) if self.latent else self.quadrature
        return coords, quad

    def valid(self, vector: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(vector))) and (not self.latent or vector[-1] > 0)

    def all_items(self, coords: ItemCoords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(d, a, c) for every item: anchors for fixed items, `coords` for free ones."""
        d, a, c = self.anchor_d.copy(), self.anchor_a.copy(), self.anchor_c.copy()
        d[self.free_index], a[self.free_index] = coords.d, coords.a
        c[self.free_index] = 1.0 / (1.0 + np.exp(-coords.g)) if self.model == "3pl" else 0.0
        return d, a, c

    def log_table(self, vector: np.ndarray) -> tuple[np.ndarray, ItemCoords, Quadrature]:
        """(log P(wrong); log P(right)) per item and node at `vector` (2I, K), with its coordinates and quadrature."""
        coords, quad = self.unpack(vector)
        return log_tables(*self.all_items(coords), quad.nodes), coords, quad

    def prior_value(self, coords: ItemCoords) -> float:
        guessing = self.model == "3pl"
        value = float(self.priors.item_terms(coords.a, coords.d, coords.g, guessing)[0].sum())
        if self.model in ("2pl", "3pl"):
            value += float(self.priors.slope_terms(coords.a)[0].sum())
        elif self.model == "1pl" and len(coords.a):
            value += float(self.priors.slope_terms(coords.a[:1])[0][0])
        return value

    # --- E-step and EM map -------------------------------------------------------------------
    def expected_counts(self, vector: np.ndarray) -> ExpectedCounts:
        """The E-step's sufficient statistics at `vector` over every student of the problem."""
        raise NotImplementedError

    def em_map(self, vector: np.ndarray) -> tuple[np.ndarray, float]:
        """(next EM iterate, log posterior at `vector`)."""
        counts = self.expected_counts(vector)
        coords, quad = self.unpack(vector)
        objective_value = counts.loglik + self.prior_value(coords)
        f = self.free_index
        new = maximize(coords, counts.right[f], counts.total[f], quad.nodes, self.model, self.priors)
        mean, sd = 0.0, 1.0
        if self.latent:
            mass = counts.mass
            mean = float(mass @ quad.nodes / mass.sum())
            sd = float(np.sqrt(mass @ (quad.nodes - mean) ** 2 / mass.sum()))
        return self.layout.pack(new, mean, sd), objective_value

    # --- derivatives of the marginal log posterior ---------------------------------------------
    def latent_gradient(self, counts: ExpectedCounts, quad: Quadrature) -> np.ndarray:
        """d log L / d(mean, sd) of the grid-normalized normal prior: sum_k (N_k - n w_k) h_k."""
        q, mean, sd = quad.nodes, quad.mean, quad.sd
        weights = np.exp(quad.log_weights)
        excess = counts.mass - counts.n_responding * weights
        return np.array([excess @ ((q - mean) / sd**2), excess @ ((q - mean) ** 2 / sd**3)])

    def score(self, vector: np.ndarray) -> np.ndarray:
        """Exact gradient of the marginal log posterior (Fisher's identity: the expected complete-data
        gradient with the posterior taken at the same parameters)."""
        counts = self.expected_counts(vector)
        coords, quad = self.unpack(vector)
        f = self.free_index
        _, grad, _ = objective(coords, counts.right[f], counts.total[f], quad.nodes, self.model, self.priors)
        common = float(self.priors.slope_terms(coords.a[:1])[1][0]) if self.model == "1pl" and len(f) else 0.0
        latent = self.latent_gradient(counts, quad) if self.latent else None
        return self.layout.gather(grad, common, latent)


class EMProblem(EMMap):
    """An `EMMap` over coded responses held in this process; `kept` marks items whose responses enter
    the likelihood (fixed + free). Also gives each student's posterior and score vector."""

    def __init__(
        self, data: ResponseData, model: str, priors: Priors, quadrature: Quadrature,
        free: np.ndarray, kept: np.ndarray, anchors: tuple[np.ndarray, np.ndarray, np.ndarray], latent: bool,
    ) -> None:
        super().__init__(model, priors, quadrature, free, anchors, latent)
        self.data, self.kept = data, kept
        self.by_student, self.by_column = data.incidence(kept)
        self.n_responding = responding_students(self.by_student)

    def posterior(self, vector: np.ndarray) -> tuple[Posterior, ItemCoords, Quadrature]:
        table, coords, quad = self.log_table(vector)
        return e_step(self.by_student, self.by_column, table, quad.log_weights), coords, quad

    def expected_counts(self, vector: np.ndarray) -> ExpectedCounts:
        """The E-step over this process's students (one partition of a larger log, or all of it)."""
        table, _, quad = self.log_table(vector)
        return expected_counts(self.by_student, self.by_column, table, quad.log_weights)

    def student_scores(self, vector: np.ndarray) -> sp.csr_matrix:
        """Each student's gradient of their own marginal log-likelihood, sparse (S, P): the rows whose
        cross-product estimates the information. Built per response in blocks (no S x I matrix)."""
        post, coords, quad = self.posterior(vector)
        data, q = self.data, quad.nodes
        n_free = len(self.free_index)
        position = np.full(data.n_items, -1, dtype=np.int64)
        position[self.free_index] = np.arange(n_free)
        z = coords.a[:, None] * q[None, :] + coords.d[:, None]
        s = 1.0 / (1.0 + np.exp(-z))
        c = (1.0 / (1.0 + np.exp(-coords.g)))[:, None] if self.model == "3pl" else np.zeros((n_free, 1))
        p = c + (1.0 - c) * s
        # per (free item, outcome) and node: d log p / dz and d log p / dg
        s_over_p = s / p if self.model == "3pl" else np.ones_like(s)
        resid = np.vstack([-p, 1.0 - p])  # rows: item (wrong), n_free + item (right)
        dz = resid * np.vstack([s_over_p, s_over_p])
        dg = resid * np.vstack([c / p, c / p]) if self.model == "3pl" else None
        index = self.layout.item_index()
        rows, cols, vals = [], [], []
        chosen = np.flatnonzero(position[data.item] >= 0)
        for start in range(0, len(chosen), SCORE_CHUNK):
            r = chosen[start : start + SCORE_CHUNK]
            fpos = position[data.item[r]]
            col = fpos + n_free * data.correct[r].astype(np.int64)
            weights = post.post[data.student[r]]
            parts = [(weights * dz[col]).sum(axis=1), (weights * (dz[col] * q)).sum(axis=1)]
            parts.append((weights * dg[col]).sum(axis=1) if dg is not None else None)
            for j, values in enumerate(parts):
                where = index[fpos, j]
                if values is None or where[0] < 0:
                    continue
                rows.append(data.student[r]), cols.append(where), vals.append(values)
        if self.latent:
            h = np.stack([(q - quad.mean) / quad.sd**2, (q - quad.mean) ** 2 / quad.sd**3], axis=1)
            latent = post.post @ h - np.exp(quad.log_weights) @ h  # (S, 2)
            students = np.arange(data.n_students)
            for j in range(2):
                rows.append(students), cols.append(np.full(data.n_students, self.layout.size - 2 + j)), vals.append(latent[:, j])
        shape = (data.n_students, self.layout.size)
        if not rows:
            return sp.csr_matrix(shape)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)


@dataclass(frozen=True)
class EMResult:
    vector: np.ndarray
    n_iter: int  # EM map evaluations (E-steps), extrapolation steps included
    max_change: float  # largest parameter change of the last plain EM step
    converged: bool


def run_em(problem: EMMap, start: np.ndarray, max_iter: int, tol: float, accelerate: bool = True,
           callback: Callable[[int, int], None] | None = None) -> EMResult:
    """Iterate the EM map until the largest parameter change of an EM step is below `tol`.

    `callback(n_iter, max_iter)`, when given, is called after each plain EM step (for progress reports;
    it does not change the iterations)."""
    x, n_iter, change, step_max = start, 0, np.inf, 1.0
    while n_iter < max_iter:
        x1, _ = problem.em_map(x)
        n_iter += 1
        if callback is not None:
            callback(n_iter, max_iter)
        change = float(np.max(np.abs(x1 - x))) if x1.size else 0.0
        if change < tol or not accelerate or n_iter >= max_iter:
            x = x1
            if change < tol:
                break
            continue
        x2, objective1 = problem.em_map(x1)
        n_iter += 1
        r, v = x1 - x, x2 - 2 * x1 + x
        vv = float(v @ v)
        if vv == 0.0:
            x = x2
            continue
        alpha = max(-step_max, min(-1.0, -float(np.sqrt((r @ r) / vv))))
        candidate = x - 2 * alpha * r + alpha**2 * v
        if problem.valid(candidate):
            x3, objective_candidate = problem.em_map(candidate)
            n_iter += 1
            if np.isfinite(objective_candidate) and objective_candidate >= objective1 - 1e-10 * abs(objective1):
                x = x3
                if alpha == -step_max:
                    step_max *= 4.0
                continue
        x = x2
    return EMResult(x, n_iter, change, change < tol)
