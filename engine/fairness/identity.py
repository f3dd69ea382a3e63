"""Identity-predictiveness test: does knowing a student's group improve on the model's own prediction?

If the learning data explained outcomes, group membership would add nothing once the model's prediction
is known. We compare, out of sample, two logistic recalibrations of the model's prediction p:

    base:        logit P(y=1) = a + b * logit(p)
    augmented:   logit P(y=1) = a + b * logit(p) + sum_g c_g * [student in group g]

cross-fitted by student (K folds of students; each fold is predicted by models fitted on the others).
Per student s, d_s = sum over their rows of (log-lik augmented - log-lik base) on held-out predictions.
- `lr_stat` = 2 * sum_s d_s, the out-of-sample likelihood-ratio statistic;
- `p_value`: one-sided test that mean(d_s) > 0 (z = mean / SE over students, so the dependence of a
  student's responses is respected). Out of sample, extra parameters that carry no signal only cost
  likelihood, so under the null the test is conservative;
- `delta_auc` = AUC(augmented) - AUC(base) on the held-out predictions, with a student-level bootstrap
  interval (students of the held-out predictions are resampled; the fold fits are not repeated).
Groups smaller than the minimum size are pooled into one level before fitting, so no coefficient
describes a suppressed group; only these pooled statistics are reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from engine.fairness.metrics import AUCMetric, Block
from engine.fairness.stats import bernoulli_loglik, bootstrap_weights, fit_logistic, logit

RIDGE = 1e-4  # keeps group coefficients finite when a group is all-correct in a fold


@dataclass(frozen=True)
class IdentityResult:
    delta_auc: float
    delta_auc_ci: tuple[float, float]
    delta_auc_se: float
    lr_stat: float
    p_value: float
    delta_logloss: float
    n_students: int
    n_rows: int
    n_folds: int
    n_group_parameters: int

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["delta_auc_ci"] = list(self.delta_auc_ci)
        return out


def identity_predictiveness(y: np.ndarray, p: np.ndarray, student: np.ndarray, dummies: np.ndarray, *,
                            n_folds: int = 5, n_boot: int = 200, confidence: float = 0.95,
                            random_state: int | None = 0) -> IdentityResult:
    """Cross-fitted test of whether group `dummies` (rows x levels-1, 0/1) add to prediction `p` of `y`.

    y: (n,) outcomes in [0, 1]; p: (n,) model predictions; student: (n,) index 0..S-1.
    """
    y = np.asarray(y, float)
    n_students = int(student.max()) + 1
    rng = np.random.default_rng(random_state)
    fold_of_student = rng.permutation(np.arange(n_students) % n_folds)
    fold = fold_of_student[student]
    lp = logit(p)
    base_X = np.column_stack([np.ones_like(lp), lp])
    aug_X = np.column_stack([base_X, dummies])
    q_base = np.empty_like(y)
    q_aug = np.empty_like(y)
    for k in range(n_folds):
        train, test = fold != k, fold == k
        if not test.any():
            continue
        q_base[test] = fit_logistic(base_X[train], y[train], ridge=RIDGE).predict(base_X[test])
        q_aug[test] = fit_logistic(aug_X[train], y[train], ridge=RIDGE).predict(aug_X[test])
    ones = np.ones_like(y)
    d_row = bernoulli_loglik(y, ones, q_aug) - bernoulli_loglik(y, ones, q_base)
    d_student = np.bincount(student, weights=d_row, minlength=n_students)
    mean, sd = d_student.mean(), d_student.std(ddof=1)
    z = mean / (sd / np.sqrt(n_students)) if sd > 0 else 0.0
    p_value = float(stats.norm.sf(z))
    block = Block(student=student, n_students=n_students, cols={"y": y, "base": q_base, "aug": q_aug})
    auc_base, auc_aug = AUCMetric(p="base"), AUCMetric(p="aug")
    s_base, s_aug = auc_base.prepare(block), auc_aug.prepare(block)
    ones_w = np.ones((1, n_students))
    delta = float(auc_aug.evaluate(s_aug, ones_w)[0] - auc_base.evaluate(s_base, ones_w)[0])
    reps = np.concatenate([auc_aug.evaluate(s_aug, w) - auc_base.evaluate(s_base, w)
                           for w in bootstrap_weights(n_students, n_boot, random_state)])
    reps = reps[np.isfinite(reps)]
    tail = (1 - confidence) / 2 * 100
    lo, hi = (np.percentile(reps, [tail, 100 - tail]) if reps.size >= 20 else (np.nan, np.nan))
    return IdentityResult(
        delta_auc=delta, delta_auc_ci=(float(lo), float(hi)),
        delta_auc_se=float(np.std(reps, ddof=1)) if reps.size >= 20 else float("nan"),
        lr_stat=float(2 * d_student.sum()), p_value=p_value,
        delta_logloss=float(-d_row.mean()), n_students=n_students, n_rows=int(y.size), n_folds=n_folds,
        n_group_parameters=int(dummies.shape[1]),
    )
