"""Compiled BKT kernels (numba): Baum-Welch EM over every (skill, restart) pair at once, and the forward filter.

Why numba: a BKT E-step is a recursion along each sequence. Numpy can vectorize it across sequences but
then pays a Python-level step per time index and per EM iteration (hundreds of thousands of tiny calls);
a compiled loop over a flat, skill-sorted response array does the same arithmetic with no overhead and
runs the independent (skill, restart) fits in parallel threads.

Array layout (built by `models.bkt.data`): responses are sorted by skill, then student, then order, so every
(student, skill) sequence is a contiguous slice `obs[seq_start[s]:seq_start[s + 1]]` and every skill's
sequences are contiguous `skill_seq[k]:skill_seq[k + 1]`. Emission classes (guess/slip rows: one per skill,
or one per (skill, item) pair for KT-IDEM) and prior classes (one per skill, or one per (skill, student
group) for multiprior) are numbered so each skill's classes are contiguous too.

P(learned) and P(unlearned) are carried separately (not as p and 1 - p): after a long run of correct
answers P(unlearned) is ~1e-20, which `1 - p` rounds to 0, and the state could then never move again.

Observations may be fractional (partial credit): the emission uses the mixture c*(1-slip) + (1-c)*slip,
exact for 0/1 answers.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_TINY = 1e-300


@njit(cache=True, nogil=True)
def _em_one(
    obs, emis, seq_start, seq_prior, s_lo, s_hi, e_lo, e_hi, p_lo, p_hi,
    prior, learn, forget, guess, slip, fit_forget, max_iter, tol, lo, max_guess, max_slip,
):  # pragma: no cover - compiled
    """EM for one skill from one starting point; parameters are updated in place. Returns (loglik, iters)."""
    n_e = e_hi - e_lo
    n_p = p_hi - p_lo
    max_len = 0
    for s in range(s_lo, s_hi):
        length = seq_start[s + 1] - seq_start[s]
        if length > max_len:
            max_len = length
    filt = np.empty(max_len)  # P(L_t | y_1..t)
    filt_u = np.empty(max_len)  # P(U_t | y_1..t), kept apart so values near 1 keep their precision
    pred = np.empty(max_len)  # P(L_t | y_1..t-1)
    pred_u = np.empty(max_len)
    g_num = np.empty(n_e)
    g_den = np.empty(n_e)
    s_num = np.empty(n_e)
    s_den = np.empty(n_e)
    pr_num = np.empty(n_p)
    pr_den = np.empty(n_p)
    prev_ll = -np.inf
    ll = -np.inf
    it = 0
    for it in range(1, max_iter + 1):
        g_num[:] = 0.0
        g_den[:] = 0.0
        s_num[:] = 0.0
        s_den[:] = 0.0
        pr_num[:] = 0.0
        pr_den[:] = 0.0
        n_ul = 0.0
        n_u = 0.0
        n_lu = 0.0
        n_l = 0.0
        ll = 0.0
        prod = 1.0
        lr = learn[0]
        fg = forget[0]
        for s in range(s_lo, s_hi):
            a = seq_start[s]
            n = seq_start[s + 1] - a
            pc = seq_prior[s] - p_lo
            p_l = prior[pc]
            p_u = 1.0 - p_l
            for t in range(n):
                c = obs[a + t]
                e = emis[a + t] - e_lo
                g = guess[e]
                sl = slip[e]
                b_l = c * (1.0 - sl) + (1.0 - c) * sl
                b_u = c * g + (1.0 - c) * (1.0 - g)
                pred[t] = p_l
                pred_u[t] = p_u
                num_l = p_l * b_l
                num_u = p_u * b_u
                z = num_l + num_u
                prod *= z  # log-likelihood: one log per ~1e-280 of probability, not one per response
                if prod < 1e-280:
                    ll += np.log(prod)
                    prod = 1.0
                inv = 1.0 / z
                post_l = num_l * inv
                post_u = num_u * inv
                filt[t] = post_l
                filt_u[t] = post_u
                p_l = post_l * (1.0 - fg) + post_u * lr
                p_u = post_l * fg + post_u * (1.0 - lr)
            # backward (smoothing): gamma_t from gamma_{t+1} and the filtered/predicted values
            g_l = filt[n - 1]
            g_u = filt_u[n - 1]
            c = obs[a + n - 1]
            e = emis[a + n - 1] - e_lo
            g_num[e] += g_u * c
            g_den[e] += g_u
            s_num[e] += g_l * (1.0 - c)
            s_den[e] += g_l
            for t in range(n - 2, -1, -1):
                r_l = g_l / max(pred[t + 1], _TINY)
                r_u = g_u / max(pred_u[t + 1], _TINY)
                f_l = filt[t]
                f_u = filt_u[t]
                x_ll = f_l * (1.0 - fg) * r_l
                x_lu = f_l * fg * r_u
                x_ul = f_u * lr * r_l
                x_uu = f_u * (1.0 - lr) * r_u
                n_ul += x_ul
                n_u += x_ul + x_uu
                n_lu += x_lu
                n_l += x_ll + x_lu
                g_l = x_ll + x_lu
                g_u = x_ul + x_uu
                c = obs[a + t]
                e = emis[a + t] - e_lo
                g_num[e] += g_u * c
                g_den[e] += g_u
                s_num[e] += g_l * (1.0 - c)
                s_den[e] += g_l
            pr_num[pc] += g_l
            pr_den[pc] += g_l + g_u
        ll += np.log(prod)
        # convergence on the log-likelihood of the parameters just used (as pyBKT: absolute change)
        if it > 1 and abs(ll - prev_ll) < tol:
            break
        prev_ll = ll
        # M-step, clipped to the identifiable box
        if n_u > _TINY:
            learn[0] = min(max(n_ul / n_u, lo), 1.0 - lo)
        if fit_forget and n_l > _TINY:
            forget[0] = min(max(n_lu / n_l, lo), 1.0 - lo)
        for e in range(n_e):
            if g_den[e] > _TINY:
                guess[e] = min(max(g_num[e] / g_den[e], lo), max_guess)
            if s_den[e] > _TINY:
                slip[e] = min(max(s_num[e] / s_den[e], lo), max_slip)
        for p in range(n_p):
            if pr_den[p] > 0.0:
                prior[p] = min(max(pr_num[p] / pr_den[p], lo), 1.0 - lo)
    return ll, it


@njit(cache=True, parallel=True, nogil=True)
def em_fit_all(
    obs, emis, seq_start, seq_prior, skill_seq, skill_emis, skill_prior, order,
    prior, learn, forget, guess, slip, fit_forget, max_iter, tol, lo, max_guess, max_slip,
):  # pragma: no cover - compiled
    """Run EM for every (skill, restart) pair in parallel.

    Parameter arrays have a leading restart axis R: prior (R, n_prior_classes), learn/forget (R, K),
    guess/slip (R, n_emission_classes); they hold the starting points and are overwritten with the fits.
    `order` lists skills largest first so the parallel loop balances. Returns loglik (R, K), iters (R, K).
    """
    n_r = prior.shape[0]
    n_k = skill_seq.shape[0] - 1
    ll = np.empty((n_r, n_k))
    iters = np.zeros((n_r, n_k), dtype=np.int64)
    for task in prange(n_k * n_r):
        k = order[task // n_r]
        r = task % n_r
        e_lo, e_hi = skill_emis[k], skill_emis[k + 1]
        p_lo, p_hi = skill_prior[k], skill_prior[k + 1]
        ll[r, k], iters[r, k] = _em_one(
            obs, emis, seq_start, seq_prior, skill_seq[k], skill_seq[k + 1], e_lo, e_hi, p_lo, p_hi,
            prior[r, p_lo:p_hi], learn[r, k:k + 1], forget[r, k:k + 1], guess[r, e_lo:e_hi], slip[r, e_lo:e_hi],
            fit_forget, max_iter, tol, lo, max_guess, max_slip,
        )
    return ll, iters


@njit(cache=True, parallel=True, nogil=True)
def forward_predict(obs, seq_start, seq_prior, seq_learn, seq_forget, guess, slip):  # pragma: no cover - compiled
    """P(correct) of each response before it is seen (no look-ahead); P(learned), P(unlearned) after each sequence.

    Per-response guess/slip and per-sequence prior/learn/forget are given directly (already looked up).
    """
    n_s = seq_start.shape[0] - 1
    p_correct = np.empty(obs.shape[0])
    final = np.empty(n_s)
    final_u = np.empty(n_s)
    for s in prange(n_s):
        p_l = seq_prior[s]
        p_u = 1.0 - p_l
        lr = seq_learn[s]
        fg = seq_forget[s]
        for i in range(seq_start[s], seq_start[s + 1]):
            g = guess[i]
            sl = slip[i]
            c = obs[i]
            p_correct[i] = p_l * (1.0 - sl) + p_u * g
            num_l = p_l * (c * (1.0 - sl) + (1.0 - c) * sl)
            num_u = p_u * (c * g + (1.0 - c) * (1.0 - g))
            inv = 1.0 / (num_l + num_u)
            post_l = num_l * inv
            post_u = num_u * inv
            p_l = post_l * (1.0 - fg) + post_u * lr
            p_u = post_l * fg + post_u * (1.0 - lr)
        final[s] = p_l
        final_u[s] = p_u
    return p_correct, final, final_u


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) every kernel on a tiny problem."""
    obs = np.array([1.0, 0.0, 1.0])
    idx = np.zeros(3, dtype=np.int64)
    starts = np.array([0, 3], dtype=np.int64)
    one = np.array([0, 1], dtype=np.int64)
    em_fit_all(
        obs, idx, starts, np.zeros(1, dtype=np.int64), one, one, one, np.zeros(1, dtype=np.int64),
        np.full((1, 1), 0.5), np.full((1, 1), 0.1), np.zeros((1, 1)), np.full((1, 1), 0.2), np.full((1, 1), 0.1),
        False, 2, 1e-3, 1e-6, 0.5, 0.5,
    )
    forward_predict(obs, starts, np.array([0.5]), np.array([0.1]), np.array([0.0]), np.full(3, 0.2), np.full(3, 0.1))
