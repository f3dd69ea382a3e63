"""Differential item functioning (DIF): Mantel-Haenszel and logistic regression, two or more groups.

Responses: a (students x items) float matrix of 0/1 with NaN for not answered. Students are matched on
a score: the sum of the anchor items' responses plus the studied item ("score", difR's default) or
without the studied item ("rest"); NaN responses are left out of the sum, and a student who did not
answer the studied item is left out of that item's analysis only.

Mantel-Haenszel (Holland & Thayer 1988), per item over score strata holding more than one student:
- alpha_MH = sum(A D / T) / sum(B C / T), A/B = reference right/wrong, C/D = focal right/wrong; alpha > 1
  means the reference group has the higher odds of success at equal score (the item favours it);
- chi2 = (|sum(A - E[A])| - 0.5)^2 / sum(Var A), continuity corrected, 1 df (computed exactly as difR and
  statsmodels do, which leaves a tiny positive value rather than 0 when |sum(A - E[A])| < 0.5);
- ETS delta D = -2.35 ln(alpha_MH) with SE from the Robins-Breslow-Greenland variance of ln(alpha_MH);
- ETS class (Zwick 2012; significance at `alpha`): A if |D| < 1 or chi2 not significant; C if |D| >= 1.5
  and |D| significantly greater than 1 (one-sided z = (|D| - 1) / SE(D) > z_{1-alpha}); B otherwise.
  Negative D: the item is harder for the focal group than for matched reference students.

More than two groups: the generalized MH statistic (Somes 1986; df = groups - 1) per item, plus the
pairwise MH of each focal group against the reference with its ETS class.

Logistic regression (Swaminathan & Rogers 1990): M0 y ~ score, M1 + group, M2 + score x group.
Likelihood-ratio tests: uniform (M1 vs M0), non-uniform (M2 vs M1), both (M2 vs M0); effect size:
the difference in Nagelkerke R^2; Jodoin & Gierl (2001) classes: A if not significant or dR2 < 0.035,
B if 0.035 <= dR2 < 0.070, C if dR2 >= 0.070 (Zumbo-Thomas cut-offs 0.13 / 0.26 also reported).

Purification (iterative, as difR): items flagged (p < alpha) are removed from the matching score of
the other items and the analysis repeated until the flagged set stops changing (`max_iter` rounds).
p-values are adjusted across items with Holm or Benjamini-Hochberg after purification.
C items are marked `flag_for_review`: the catalog should stop serving them until a person reviews them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from engine.errors import ConfigError, DataValidationError, Problem
from engine.fairness.stats import adjust_pvalues, fit_logistic

DELTA_SCALE = -2.35
JG_CUTS = (0.035, 0.070)
ZT_CUTS = (0.13, 0.26)
Match = Literal["score", "rest"]


# ---------------------------------------------------------------- inputs
def check_responses(responses: np.ndarray, item_ids: Sequence[str]) -> np.ndarray:
    """Float matrix of 0/1/NaN; DataValidationError naming items with other values or no answers."""
    X = np.asarray(responses, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(item_ids):
        raise ConfigError(f"responses must be (students x items) with {len(item_ids)} item columns, got shape {X.shape}")
    problems = []
    bad = ~np.isnan(X) & (X != 0) & (X != 1)
    for j in np.flatnonzero(bad.any(axis=0)):
        row = int(np.flatnonzero(bad[:, j])[0])
        problems.append(Problem(row + 1, item_ids[j], float(X[row, j]),
                                "DIF needs 0/1 item scores (blank for not answered); rescore this item",
                                count=int(bad[:, j].sum())))
    for j in np.flatnonzero(np.all(np.isnan(X), axis=0)):
        problems.append(Problem(None, item_ids[j], None, "item has no answers; remove it"))
    if problems:
        raise DataValidationError(problems, source="item responses")
    return X


def matching_scores(X: np.ndarray, anchor: np.ndarray, match: Match) -> np.ndarray:
    """(students x items) matching score per studied item: anchor sum, plus the item unless `rest`."""
    anchor_sum = np.nansum(X[:, anchor], axis=1)
    Xz = np.nan_to_num(X)
    in_anchor = np.zeros(X.shape[1], dtype=bool)
    in_anchor[anchor] = True
    if match == "score":
        return anchor_sum[:, None] + Xz * ~in_anchor[None, :]
    if match == "rest":
        return anchor_sum[:, None] - Xz * in_anchor[None, :]
    raise ConfigError(f"unknown matching {match!r}; use 'score' or 'rest'")


# ---------------------------------------------------------------- Mantel-Haenszel
@dataclass(frozen=True)
class MHStatistics:
    alpha_mh: float
    log_alpha_se: float
    chi2: float
    p: float


def _strata_counts(y: np.ndarray, code: np.ndarray, score: np.ndarray, n_codes: int) -> np.ndarray:
    """(strata, n_codes, 2) counts of [right, wrong] per group code per score stratum (strata with T > 1)."""
    ok = ~np.isnan(y)
    _, stratum = np.unique(score[ok], return_inverse=True)
    n_strata = int(stratum.max()) + 1 if stratum.size else 0
    cell = (stratum * n_codes + code[ok]) * 2 + (y[ok] < 0.5)
    counts = np.bincount(cell, minlength=n_strata * n_codes * 2).reshape(n_strata, n_codes, 2).astype(float)
    return counts[counts.sum(axis=(1, 2)) > 1]


def mh_from_counts(counts: np.ndarray, correct: bool = True) -> MHStatistics:
    """MH statistics from (strata, 2, 2) counts, group axis [reference, focal], outcome axis [right, wrong].

    Strata with fewer than two students add nothing to any sum (no variance, A equal to its expectation) and
    would divide 0 by 0, so they are left out (a score level that holds neither group of a pair)."""
    counts = counts[counts.sum(axis=(1, 2)) > 1]
    A, B = counts[:, 0, 0], counts[:, 0, 1]
    C, D = counts[:, 1, 0], counts[:, 1, 1]
    T = A + B + C + D
    n_ref, n_foc, right, wrong = A + B, C + D, A + C, B + D
    expected = n_ref * right / T
    var = n_ref * n_foc * right * wrong / (T ** 2 * (T - 1))
    dev = abs(np.sum(A - expected))
    num = (dev - 0.5) ** 2 if correct else dev ** 2  # as difR and statsmodels (no clamp when dev < 0.5)
    chi2 = num / var.sum() if var.sum() > 0 else float("nan")
    R, S = A * D / T, B * C / T
    P, Q = (A + D) / T, (B + C) / T
    sR, sS = R.sum(), S.sum()
    alpha = sR / sS if sS > 0 else float("inf") if sR > 0 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        var_log = (np.sum(P * R) / (2 * sR ** 2) + np.sum(P * S + Q * R) / (2 * sR * sS) + np.sum(Q * S) / (2 * sS ** 2))
    return MHStatistics(float(alpha), float(np.sqrt(var_log)), float(chi2), float(stats.chi2.sf(chi2, 1)))


def generalized_mh(counts: np.ndarray, reference: int = 0) -> tuple[float, int, float]:
    """Generalized MH chi2 (Somes 1986) from (strata, groups, 2) counts: (statistic, df, p); strata with fewer
    than two students add nothing and are left out (as in `mh_from_counts`)."""
    counts = counts[counts.sum(axis=(1, 2)) > 1]
    a = counts[:, :, 0]
    n = counts.sum(axis=2)
    T = n.sum(axis=1)
    right = a.sum(axis=1)
    wrong = T - right
    f = right * wrong / (T ** 2 * (T - 1))
    d = (a - n * (right / T)[:, None]).sum(axis=0)
    V = np.diag((f * T) @ n) - (n * f[:, None]).T @ n
    keep = np.arange(counts.shape[1]) != reference
    d, V = d[keep], V[np.ix_(keep, keep)]
    stat = float(d @ np.linalg.pinv(V) @ d)
    df = int(keep.sum())
    return stat, df, float(stats.chi2.sf(stat, df))


def ets_class(delta: float, delta_se: float, p: float, alpha: float = 0.05) -> str:
    """ETS A/B/C from delta D, its SE and the MH chi2 p-value (rule in the module docstring)."""
    if not np.isfinite(delta):
        return "C" if np.isinf(delta) and p < alpha else "A"
    size = abs(delta)
    if size < 1.0 or p >= alpha:
        return "A"
    z = stats.norm.ppf(1 - alpha)
    if size >= 1.5 and delta_se > 0 and (size - 1.0) / delta_se > z:
        return "C"
    return "B"


# ---------------------------------------------------------------- results
@dataclass
class DifItem:
    item_id: str
    focal: str
    reference: str
    n_reference: int
    n_focal: int
    chi2: float
    p: float
    p_adjusted: float = float("nan")
    alpha_mh: float | None = None
    delta: float | None = None
    delta_se: float | None = None
    ets_class: str | None = None
    delta_r2: float | None = None
    jg_class: str | None = None
    zt_class: str | None = None
    lr_uniform: float | None = None
    p_uniform: float | None = None
    lr_nonuniform: float | None = None
    p_nonuniform: float | None = None
    flag_for_review: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class DifResult:
    method: str
    items: list[DifItem]
    match: str
    purified: bool
    iterations: int
    converged: bool
    adjust: str
    alpha: float
    anchor_items: list[str] = field(default_factory=list)
    global_tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        """Items to withhold from serving until reviewed (ETS / Jodoin-Gierl class C)."""
        return sorted({i.item_id for i in self.items if i.flag_for_review})

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "match": self.match, "purified": self.purified, "iterations": self.iterations,
                "converged": self.converged, "adjust": self.adjust, "alpha": self.alpha,
                "anchor_items": self.anchor_items, "flag_for_review": self.flagged,
                "items": [i.to_dict() for i in self.items], "global_tests": self.global_tests}


# ---------------------------------------------------------------- drivers
def _group_codes(group: np.ndarray, reference: str, focal: Sequence[str]) -> np.ndarray:
    """Code 0 for the reference, 1..k for the focal groups, -1 for anyone else (left out)."""
    labels = np.asarray(group).astype(str)
    codes = np.full(labels.size, -1)
    codes[labels == str(reference)] = 0
    for k, f in enumerate(focal, start=1):
        codes[labels == str(f)] = k
    for name, code in [(reference, 0), *[(f, k) for k, f in enumerate(focal, start=1)]]:
        if not np.any(codes == code):
            raise DataValidationError([Problem(None, "group", name, "no student has this group value; check --focal/--reference")],
                                      source="DIF groups")
    return codes


def _mh_round(X: np.ndarray, codes: np.ndarray, n_codes: int, anchor: np.ndarray, match: Match, correct: bool) -> list[dict[str, Any]]:
    """MH of every item and every focal code against code 0, plus the generalized MH when k > 1."""
    keep = codes >= 0
    scores = matching_scores(X[keep], anchor, match)
    out = []
    for j in range(X.shape[1]):
        counts = _strata_counts(X[keep, j], codes[keep], scores[:, j], n_codes)
        pair = [mh_from_counts(counts[:, [0, k], :], correct) for k in range(1, n_codes)]
        gmh = generalized_mh(counts) if n_codes > 2 else None
        out.append({"pairs": pair, "gmh": gmh})
    return out


def _purify(run, flag, purify: bool, max_iter: int, anchor: np.ndarray):
    """Iterate `run(anchor)` removing flagged items from the anchor until the flagged set repeats.

    Returns (final result, anchor used for it, purification rounds, converged).
    """
    result = run(anchor)
    if not purify:
        return result, anchor, 0, True
    flagged = flag(result)
    rounds, converged = 0, not flagged.any()
    while not converged and rounds < max_iter:
        rounds += 1
        anchor = np.flatnonzero(~flagged)
        result = run(anchor)
        new = flag(result)
        converged = bool(np.array_equal(new, flagged))
        flagged = new
    return result, anchor, rounds, converged


def mh_dif(responses: np.ndarray, group: np.ndarray, item_ids: Sequence[str], *, reference: str, focal: Sequence[str],
           match: Match = "score", purify: bool = False, max_iter: int = 10, correct: bool = True,
           alpha: float = 0.05, adjust: str = "none") -> DifResult:
    """Mantel-Haenszel DIF of each focal group against `reference` (see module docstring)."""
    X = check_responses(responses, item_ids)
    focal = [str(f) for f in focal]
    codes = _group_codes(group, str(reference), focal)
    n_codes = len(focal) + 1

    def run(anchor: np.ndarray) -> list[dict[str, Any]]:
        return _mh_round(X, codes, n_codes, anchor, match, correct)

    def flag(result: list[dict[str, Any]]) -> np.ndarray:
        if n_codes > 2:
            return np.array([r["gmh"][2] < alpha for r in result])
        return np.array([r["pairs"][0].p < alpha for r in result])

    result, anchor, iterations, converged = _purify(run, flag, purify, max_iter, np.arange(X.shape[1]))
    items = []
    for j, r in enumerate(result):
        answered = ~np.isnan(X[:, j])
        for k, s in enumerate(r["pairs"], start=1):
            delta = DELTA_SCALE * np.log(s.alpha_mh) if s.alpha_mh > 0 else float("inf")
            delta_se = abs(DELTA_SCALE) * s.log_alpha_se
            items.append(DifItem(item_id=str(item_ids[j]), focal=focal[k - 1], reference=str(reference),
                                 n_reference=int(np.sum(answered & (codes == 0))), n_focal=int(np.sum(answered & (codes == k))),
                                 chi2=s.chi2, p=s.p, alpha_mh=s.alpha_mh, delta=float(delta), delta_se=float(delta_se)))
    _finish(items, adjust, alpha, lambda it: ets_class(it.delta, it.delta_se, it.p_adjusted, alpha), "ets_class")
    global_tests = []
    if n_codes > 2:
        stat = np.array([r["gmh"][0] for r in result])
        pvals = np.array([r["gmh"][2] for r in result])
        adjusted = adjust_pvalues(pvals, adjust)
        global_tests = [{"item_id": str(item_ids[j]), "chi2": float(stat[j]), "df": n_codes - 1, "p": float(pvals[j]),
                         "p_adjusted": float(adjusted[j])} for j in range(X.shape[1])]
    return DifResult("mh", items, match, purify, iterations, converged, adjust, alpha,
                     [str(item_ids[j]) for j in anchor], global_tests)


def _finish(items: list[DifItem], adjust: str, alpha: float, classify, attribute: str) -> None:
    """Adjust p-values across all items x focal groups, classify, and flag class C for review."""
    adjusted = adjust_pvalues(np.array([i.p for i in items]), adjust)
    for item, p_adj in zip(items, adjusted):
        item.p_adjusted = float(p_adj)
        setattr(item, attribute, classify(item))
        item.flag_for_review = getattr(item, attribute) == "C"


# ---------------------------------------------------------------- logistic regression
def nagelkerke(loglik: float, loglik_null: float, n: int) -> float:
    """Nagelkerke R^2 from Bernoulli log-likelihoods of the model and the intercept-only model."""
    cox_snell = 1 - np.exp(2 * (loglik_null - loglik) / n)
    ceiling = 1 - np.exp(2 * loglik_null / n)  # 0 when every answer is the same: R^2 is 0/0, undefined
    return float(cox_snell / ceiling) if ceiling > 0 else math.nan


def jodoin_gierl(delta_r2: float, p: float, alpha: float) -> str:
    if p >= alpha or delta_r2 < JG_CUTS[0]:
        return "A"
    return "B" if delta_r2 < JG_CUTS[1] else "C"


def zumbo_thomas(delta_r2: float, p: float, alpha: float) -> str:
    if p >= alpha or delta_r2 < ZT_CUTS[0]:
        return "A"
    return "B" if delta_r2 < ZT_CUTS[1] else "C"


def _logistic_item(y: np.ndarray, score: np.ndarray, codes: np.ndarray, n_codes: int) -> dict[str, float]:
    """Fit M0/M1/M2 on (score, group) cells; LR statistics and Nagelkerke R^2 of each model."""
    ok = ~np.isnan(y)
    y, score, codes = y[ok], score[ok], codes[ok]
    cells, inverse = np.unique(np.column_stack([score, codes]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    trials = np.bincount(inverse).astype(float)
    successes = np.bincount(inverse, weights=y)
    s = cells[:, 0]
    center = score.mean()
    sc = s - center
    dummies = np.column_stack([(cells[:, 1] == k).astype(float) for k in range(1, n_codes)])
    X0 = np.column_stack([np.ones_like(sc), sc])
    X1 = np.column_stack([X0, dummies])
    X2 = np.column_stack([X1, dummies * sc[:, None]])
    ll = [fit_logistic(X, successes, trials).loglik for X in (X0, X1, X2)]
    n = int(y.size)
    rate = y.mean()
    ll_null = float(n * (rate * np.log(rate) + (1 - rate) * np.log(1 - rate))) if 0 < rate < 1 else 0.0
    r2 = [nagelkerke(v, ll_null, n) for v in ll]
    return {"ll0": ll[0], "ll1": ll[1], "ll2": ll[2], "r2_0": r2[0], "r2_1": r2[1], "r2_2": r2[2]}


def logistic_dif(responses: np.ndarray, group: np.ndarray, item_ids: Sequence[str], *, reference: str,
                 focal: Sequence[str], dif_type: Literal["both", "uniform", "nonuniform"] = "both",
                 match: Match = "score", purify: bool = False, max_iter: int = 10, alpha: float = 0.05,
                 adjust: str = "none") -> DifResult:
    """Logistic-regression DIF with all focal groups in one model per item (see module docstring)."""
    if dif_type not in ("both", "uniform", "nonuniform"):
        raise ConfigError(f"unknown DIF type {dif_type!r}; use both, uniform or nonuniform")
    X = check_responses(responses, item_ids)
    focal = [str(f) for f in focal]
    codes = _group_codes(group, str(reference), focal)
    n_codes = len(focal) + 1
    keep = codes >= 0
    k = n_codes - 1

    def run(anchor: np.ndarray) -> list[dict[str, float]]:
        scores = matching_scores(X[keep], anchor, match)
        return [_logistic_item(X[keep, j], scores[:, j], codes[keep], n_codes) for j in range(X.shape[1])]

    def tested(r: dict[str, float]) -> tuple[float, float, int]:
        """(LR statistic, delta R^2, df) of the chosen DIF type."""
        if dif_type == "both":
            return 2 * (r["ll2"] - r["ll0"]), r["r2_2"] - r["r2_0"], 2 * k
        if dif_type == "uniform":
            return 2 * (r["ll1"] - r["ll0"]), r["r2_1"] - r["r2_0"], k
        return 2 * (r["ll2"] - r["ll1"]), r["r2_2"] - r["r2_1"], k

    def flag(result: list[dict[str, float]]) -> np.ndarray:
        return np.array([stats.chi2.sf(*tested(r)[::2]) < alpha for r in result])

    result, anchor, iterations, converged = _purify(run, flag, purify, max_iter, np.arange(X.shape[1]))
    items = []
    for j, r in enumerate(result):
        lr, dr2, df = tested(r)
        answered = ~np.isnan(X[:, j])
        lr_u, lr_n = 2 * (r["ll1"] - r["ll0"]), 2 * (r["ll2"] - r["ll1"])
        items.append(DifItem(
            item_id=str(item_ids[j]), focal=",".join(focal), reference=str(reference),
            n_reference=int(np.sum(answered & (codes == 0))), n_focal=int(np.sum(answered & (codes > 0))),
            chi2=float(lr), p=float(stats.chi2.sf(lr, df)), delta_r2=float(dr2),
            lr_uniform=float(lr_u), p_uniform=float(stats.chi2.sf(lr_u, k)),
            lr_nonuniform=float(lr_n), p_nonuniform=float(stats.chi2.sf(lr_n, k))))
    _finish(items, adjust, alpha, lambda it: jodoin_gierl(it.delta_r2, it.p_adjusted, alpha), "jg_class")
    for item in items:
        item.zt_class = zumbo_thomas(item.delta_r2, item.p_adjusted, alpha)
    return DifResult(f"logistic-{dif_type}", items, match, purify, iterations, converged, adjust, alpha,
                     [str(item_ids[j]) for j in anchor])
