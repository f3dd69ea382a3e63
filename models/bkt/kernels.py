"""Compiled BKT kernels (numba): Baum-Welch EM for every skill and restart, and the forward filter.

Why numba: a BKT E-step is a recursion along each sequence. Numpy can vectorize it across sequences but
then pays a Python-level step per time index and per EM iteration (hundreds of thousands of tiny calls);
a compiled loop over a flat, skill-sorted response array does the same arithmetic with no overhead.
Where the time goes, and what is done about it: skills are fitted in parallel threads (largest first);
within a skill all restarts walk the sequences together (their recursions are independent chains the
CPU overlaps); identical sequences of a skill are merged into one with a weight (`unique_sequences`:
58% of assist2015's responses repeat an earlier sequence).

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
def _em_skill(
    obs, emis, seq_start, seq_prior, seq_weight, s_lo, s_hi, e_lo, e_hi, p_lo, p_hi, k,
    prior, learn, forget, guess, slip, ll_out, it_out, fit_forget, max_iter, tol, lo, max_guess, max_slip,
):  # pragma: no cover - compiled
    """EM for skill `k` from all R starting points at once; writes its fits and (loglik, iterations) in place.

    Restart r reads and writes prior[r, p_lo:p_hi], learn[r, k], forget[r, k], guess[r, e_lo:e_hi],
    slip[r, e_lo:e_hi]. The restarts walk every sequence together, each with its own arithmetic
    unchanged: one restart's forward-backward is a chain of dependent divisions and products, and
    running the independent chains side by side lets the CPU overlap them (and reads each response once).
    A restart that has converged leaves the working set (its slot is taken by the last active one).
    Sequence s stands for seq_weight[s] identical sequences (see `unique_sequences`): its expected
    counts and log-likelihood are multiplied by that weight.
    """
    n_r = prior.shape[0]
    n_e = e_hi - e_lo
    n_p = p_hi - p_lo
    max_len = 0
    for s in range(s_lo, s_hi):
        length = seq_start[s + 1] - seq_start[s]
        if length > max_len:
            max_len = length
    # working copies with the restart slot last, so the inner loops run over contiguous memory
    slot = np.arange(n_r)  # restart held by each slot
    w_prior = np.empty((n_p, n_r))
    w_guess = np.empty((n_e, n_r))
    w_slip = np.empty((n_e, n_r))
    w_learn = np.empty(n_r)
    w_forget = np.empty(n_r)
    for j in range(n_r):
        for p in range(n_p):
            w_prior[p, j] = prior[j, p_lo + p]
        for e in range(n_e):
            w_guess[e, j] = guess[j, e_lo + e]
            w_slip[e, j] = slip[j, e_lo + e]
        w_learn[j] = learn[j, k]
        w_forget[j] = forget[j, k]
    filt = np.empty((max_len, n_r))  # P(L_t | y_1..t)
    filt_u = np.empty((max_len, n_r))  # P(U_t | y_1..t), kept apart so values near 1 keep their precision
    pred = np.empty((max_len, n_r))  # P(L_t | y_1..t-1)
    pred_u = np.empty((max_len, n_r))
    g_num = np.empty((n_e, n_r))
    g_den = np.empty((n_e, n_r))
    s_num = np.empty((n_e, n_r))
    s_den = np.empty((n_e, n_r))
    pr_num = np.empty((n_p, n_r))
    pr_den = np.empty((n_p, n_r))
    n_ul = np.empty(n_r)
    n_u = np.empty(n_r)
    n_lu = np.empty(n_r)
    n_l = np.empty(n_r)
    ll = np.empty(n_r)
    prod = np.empty(n_r)
    s_prod = np.empty(n_r)  # this sequence's likelihood (its log is added when tiny, and at its end)
    s_log = np.empty(n_r)
    prev_ll = np.full(n_r, -np.inf)
    p_l = np.empty(n_r)
    p_u = np.empty(n_r)
    g_l = np.empty(n_r)
    g_u = np.empty(n_r)
    done = np.zeros(n_r, dtype=np.bool_)
    n_act = n_r
    for it in range(1, max_iter + 1):
        g_num[:, :n_act] = 0.0
        g_den[:, :n_act] = 0.0
        s_num[:, :n_act] = 0.0
        s_den[:, :n_act] = 0.0
        pr_num[:, :n_act] = 0.0
        pr_den[:, :n_act] = 0.0
        n_ul[:n_act] = 0.0
        n_u[:n_act] = 0.0
        n_lu[:n_act] = 0.0
        n_l[:n_act] = 0.0
        ll[:n_act] = 0.0
        prod[:n_act] = 1.0
        for s in range(s_lo, s_hi):
            a = seq_start[s]
            n = seq_start[s + 1] - a
            pc = seq_prior[s] - p_lo
            w = seq_weight[s]
            for j in range(n_act):
                p_l[j] = w_prior[pc, j]
                p_u[j] = 1.0 - p_l[j]
                s_prod[j] = 1.0
                s_log[j] = 0.0
            for t in range(n):
                c = obs[a + t]
                e = emis[a + t] - e_lo
                for j in range(n_act):
                    g = w_guess[e, j]
                    sl = w_slip[e, j]
                    b_l = c * (1.0 - sl) + (1.0 - c) * sl
                    b_u = c * g + (1.0 - c) * (1.0 - g)
                    pl_ = p_l[j]
                    pu_ = p_u[j]
                    pred[t, j] = pl_
                    pred_u[t, j] = pu_
                    num_l = pl_ * b_l
                    num_u = pu_ * b_u
                    z = num_l + num_u
                    pz = s_prod[j] * z  # log-likelihood: one log per ~1e-280 of probability, not one per response
                    if pz < 1e-280:
                        s_log[j] += np.log(pz)
                        pz = 1.0
                    s_prod[j] = pz
                    inv = 1.0 / z
                    post_l = num_l * inv
                    post_u = num_u * inv
                    filt[t, j] = post_l
                    filt_u[t, j] = post_u
                    lr = w_learn[j]
                    fg = w_forget[j]
                    p_l[j] = post_l * (1.0 - fg) + post_u * lr
                    p_u[j] = post_l * fg + post_u * (1.0 - lr)
            for j in range(n_act):
                if w == 1.0:  # the common case: fold into the running product (no log per sequence)
                    pz = prod[j] * s_prod[j]
                    if pz < 1e-280:  # (both factors are >= 1e-280, their product may underflow: log each)
                        ll[j] += np.log(prod[j]) + np.log(s_prod[j])
                        pz = 1.0
                    prod[j] = pz
                    ll[j] += s_log[j]
                else:
                    ll[j] += w * (s_log[j] + np.log(s_prod[j]))
            # backward (smoothing): gamma_t from gamma_{t+1} and the filtered/predicted values
            c = obs[a + n - 1]
            e = emis[a + n - 1] - e_lo
            for j in range(n_act):
                gl = filt[n - 1, j]
                gu = filt_u[n - 1, j]
                g_num[e, j] += gu * c * w
                g_den[e, j] += gu * w
                s_num[e, j] += gl * (1.0 - c) * w
                s_den[e, j] += gl * w
                g_l[j] = gl
                g_u[j] = gu
            for t in range(n - 2, -1, -1):
                c = obs[a + t]
                e = emis[a + t] - e_lo
                for j in range(n_act):
                    lr = w_learn[j]
                    fg = w_forget[j]
                    r_l = g_l[j] / max(pred[t + 1, j], _TINY)
                    r_u = g_u[j] / max(pred_u[t + 1, j], _TINY)
                    f_l = filt[t, j]
                    f_u = filt_u[t, j]
                    x_ll = f_l * (1.0 - fg) * r_l
                    x_lu = f_l * fg * r_u
                    x_ul = f_u * lr * r_l
                    x_uu = f_u * (1.0 - lr) * r_u
                    n_ul[j] += x_ul * w
                    n_u[j] += (x_ul + x_uu) * w
                    n_lu[j] += x_lu * w
                    n_l[j] += (x_ll + x_lu) * w
                    gl = x_ll + x_lu
                    gu = x_ul + x_uu
                    g_l[j] = gl
                    g_u[j] = gu
                    g_num[e, j] += gu * c * w
                    g_den[e, j] += gu * w
                    s_num[e, j] += gl * (1.0 - c) * w
                    s_den[e, j] += gl * w
            for j in range(n_act):
                pr_num[pc, j] += g_l[j] * w
                pr_den[pc, j] += (g_l[j] + g_u[j]) * w
        for j in range(n_act):
            ll[j] += np.log(prod[j])
            # convergence on the log-likelihood of the parameters just used (as pyBKT: absolute change)
            if it > 1 and abs(ll[j] - prev_ll[j]) < tol:
                done[j] = True
                continue
            prev_ll[j] = ll[j]
            # M-step, clipped to the identifiable box
            if n_u[j] > _TINY:
                w_learn[j] = min(max(n_ul[j] / n_u[j], lo), 1.0 - lo)
            if fit_forget and n_l[j] > _TINY:
                w_forget[j] = min(max(n_lu[j] / n_l[j], lo), 1.0 - lo)
            for e in range(n_e):
                if g_den[e, j] > _TINY:
                    w_guess[e, j] = min(max(g_num[e, j] / g_den[e, j], lo), max_guess)
                if s_den[e, j] > _TINY:
                    w_slip[e, j] = min(max(s_num[e, j] / s_den[e, j], lo), max_slip)
            for p in range(n_p):
                if pr_den[p, j] > 0.0:
                    w_prior[p, j] = min(max(pr_num[p, j] / pr_den[p, j], lo), 1.0 - lo)
        # retire the converged restarts; the last active slot moves into each freed one
        j = 0
        while j < n_act:
            if not done[j]:
                j += 1
                continue
            _store(j, slot[j], k, it, w_prior, w_learn, w_forget, w_guess, w_slip, ll, p_lo, e_lo, prior, learn, forget, guess, slip, ll_out, it_out)
            last = n_act - 1
            slot[j] = slot[last]
            done[j] = done[last]
            prev_ll[j] = prev_ll[last]
            ll[j] = ll[last]
            w_learn[j] = w_learn[last]
            w_forget[j] = w_forget[last]
            w_prior[:, j] = w_prior[:, last]
            w_guess[:, j] = w_guess[:, last]
            w_slip[:, j] = w_slip[:, last]
            n_act = last
        if n_act == 0:
            return
    for j in range(n_act):  # max_iter reached: parameters after the last M-step, loglik of the ones before it
        _store(j, slot[j], k, max_iter, w_prior, w_learn, w_forget, w_guess, w_slip, ll, p_lo, e_lo, prior, learn, forget, guess, slip, ll_out, it_out)


@njit(cache=True, nogil=True, inline="always")
def _store(j, r, k, it, w_prior, w_learn, w_forget, w_guess, w_slip, ll, p_lo, e_lo, prior, learn, forget, guess, slip, ll_out, it_out):  # pragma: no cover - compiled
    """Copy working slot j (restart r) back to the caller's parameter arrays."""
    for p in range(w_prior.shape[0]):
        prior[r, p_lo + p] = w_prior[p, j]
    for e in range(w_guess.shape[0]):
        guess[r, e_lo + e] = w_guess[e, j]
        slip[r, e_lo + e] = w_slip[e, j]
    learn[r, k] = w_learn[j]
    forget[r, k] = w_forget[j]
    ll_out[r, k] = ll[j]
    it_out[r, k] = it


@njit(cache=True, parallel=True, nogil=True)
def em_fit_all(
    obs, emis, seq_start, seq_prior, seq_weight, skill_seq, skill_emis, skill_prior, order,
    prior, learn, forget, guess, slip, fit_forget, max_iter, tol, lo, max_guess, max_slip,
):  # pragma: no cover - compiled
    """Run EM for every skill (all its restarts together) in parallel over skills.

    Parameter arrays have a leading restart axis R: prior (R, n_prior_classes), learn/forget (R, K),
    guess/slip (R, n_emission_classes); they hold the starting points and are overwritten with the fits.
    seq_weight: how many identical sequences each one stands for (all 1.0 without `unique_sequences`).
    `order` lists skills largest first so the parallel loop balances. Returns loglik (R, K), iters (R, K).
    """
    n_r = prior.shape[0]
    n_k = skill_seq.shape[0] - 1
    ll = np.empty((n_r, n_k))
    iters = np.zeros((n_r, n_k), dtype=np.int64)
    for task in prange(n_k):
        k = order[task]
        _em_skill(
            obs, emis, seq_start, seq_prior, seq_weight, skill_seq[k], skill_seq[k + 1], skill_emis[k], skill_emis[k + 1],
            skill_prior[k], skill_prior[k + 1], k, prior, learn, forget, guess, slip, ll, iters,
            fit_forget, max_iter, tol, lo, max_guess, max_slip,
        )
    return ll, iters


@njit(cache=True, nogil=True)
def _estep_skill(
    obs, emis, seq_start, seq_prior, seq_weight, s_lo, s_hi, k, r, prior, learn, forget, guess, slip,
    ll, n_ul, n_u, n_lu, n_l, g_num, g_den, s_num, s_den, pr_num, pr_den, filt, filt_u, pred, pred_u,
):  # pragma: no cover - compiled
    """One E-step of skill k, restart r: add its forward-backward sums to the output arrays.

    The arithmetic, and the order in which it is summed, are those of `_em_skill` for one restart, so
    one partition holding the whole log gives the fused kernel's statistics bit for bit.
    """
    lr = learn[r, k]
    fg = forget[r, k]
    prod = 1.0
    acc = 0.0
    for s in range(s_lo, s_hi):
        a = seq_start[s]
        n = seq_start[s + 1] - a
        pc = seq_prior[s]
        w = seq_weight[s]
        p_l = prior[r, pc]
        p_u = 1.0 - p_l
        s_prod = 1.0
        s_log = 0.0
        for t in range(n):
            c = obs[a + t]
            e = emis[a + t]
            g = guess[r, e]
            sl = slip[r, e]
            b_l = c * (1.0 - sl) + (1.0 - c) * sl
            b_u = c * g + (1.0 - c) * (1.0 - g)
            pred[t] = p_l
            pred_u[t] = p_u
            num_l = p_l * b_l
            num_u = p_u * b_u
            z = num_l + num_u
            pz = s_prod * z
            if pz < 1e-280:
                s_log += np.log(pz)
                pz = 1.0
            s_prod = pz
            inv = 1.0 / z
            post_l = num_l * inv
            post_u = num_u * inv
            filt[t] = post_l
            filt_u[t] = post_u
            p_l = post_l * (1.0 - fg) + post_u * lr
            p_u = post_l * fg + post_u * (1.0 - lr)
        if w == 1.0:
            pz = prod * s_prod
            if pz < 1e-280:
                acc += np.log(prod) + np.log(s_prod)
                pz = 1.0
            prod = pz
            acc += s_log
        else:
            acc += w * (s_log + np.log(s_prod))
        c = obs[a + n - 1]
        e = emis[a + n - 1]
        gl = filt[n - 1]
        gu = filt_u[n - 1]
        g_num[r, e] += gu * c * w
        g_den[r, e] += gu * w
        s_num[r, e] += gl * (1.0 - c) * w
        s_den[r, e] += gl * w
        for t in range(n - 2, -1, -1):
            c = obs[a + t]
            e = emis[a + t]
            r_l = gl / max(pred[t + 1], _TINY)
            r_u = gu / max(pred_u[t + 1], _TINY)
            f_l = filt[t]
            f_u = filt_u[t]
            x_ll = f_l * (1.0 - fg) * r_l
            x_lu = f_l * fg * r_u
            x_ul = f_u * lr * r_l
            x_uu = f_u * (1.0 - lr) * r_u
            n_ul[r, k] += x_ul * w
            n_u[r, k] += (x_ul + x_uu) * w
            n_lu[r, k] += x_lu * w
            n_l[r, k] += (x_ll + x_lu) * w
            gl = x_ll + x_lu
            gu = x_ul + x_uu
            g_num[r, e] += gu * c * w
            g_den[r, e] += gu * w
            s_num[r, e] += gl * (1.0 - c) * w
            s_den[r, e] += gl * w
        pr_num[r, pc] += gl * w
        pr_den[r, pc] += (gl + gu) * w
    ll[r, k] = acc + np.log(prod)


@njit(cache=True, parallel=True, nogil=True)
def expected_counts_all(
    obs, emis, seq_start, seq_prior, seq_weight, skill_seq, active, prior, learn, forget, guess, slip,
):  # pragma: no cover - compiled
    """The E-step of every (restart, skill) with `active[r, k]`, at the given parameters, over these sequences.

    Same array layout and parameter shapes as `em_fit_all` (emission and prior classes indexed directly).
    Returns ll, n_ul, n_u, n_lu, n_l (R, K); g_num, g_den, s_num, s_den (R, emission classes); pr_num,
    pr_den (R, prior classes): the sums `_em_skill` forms before its M-step. They add across any split
    of the sequences, which is what lets student partitions be fitted apart and reduced (engine.distributed).
    Inactive pairs are left at 0.
    """
    n_r = prior.shape[0]
    n_k = skill_seq.shape[0] - 1
    n_e = guess.shape[1]
    n_p = prior.shape[1]
    ll = np.zeros((n_r, n_k))
    n_ul = np.zeros((n_r, n_k))
    n_u = np.zeros((n_r, n_k))
    n_lu = np.zeros((n_r, n_k))
    n_l = np.zeros((n_r, n_k))
    g_num = np.zeros((n_r, n_e))
    g_den = np.zeros((n_r, n_e))
    s_num = np.zeros((n_r, n_e))
    s_den = np.zeros((n_r, n_e))
    pr_num = np.zeros((n_r, n_p))
    pr_den = np.zeros((n_r, n_p))
    for k in prange(n_k):
        s_lo, s_hi = skill_seq[k], skill_seq[k + 1]
        max_len = 0
        for s in range(s_lo, s_hi):
            max_len = max(max_len, seq_start[s + 1] - seq_start[s])
        filt = np.empty(max_len)
        filt_u = np.empty(max_len)
        pred = np.empty(max_len)
        pred_u = np.empty(max_len)
        for r in range(n_r):
            if active[r, k]:
                _estep_skill(
                    obs, emis, seq_start, seq_prior, seq_weight, s_lo, s_hi, k, r, prior, learn, forget, guess, slip,
                    ll, n_ul, n_u, n_lu, n_l, g_num, g_den, s_num, s_den, pr_num, pr_den, filt, filt_u, pred, pred_u,
                )
    return ll, n_ul, n_u, n_lu, n_l, g_num, g_den, s_num, s_den, pr_num, pr_den


@njit(cache=True, nogil=True)
def _sequence_hashes(obs_bits, emis, seq_start, seq_prior):  # pragma: no cover - compiled
    """FNV-1a hash of each sequence's (prior class, emission classes, answers, length)."""
    prime = np.uint64(1099511628211)
    n_s = seq_start.shape[0] - 1
    out = np.empty(n_s, dtype=np.uint64)
    for s in range(n_s):
        h = (np.uint64(14695981039346656037) ^ np.uint64(seq_prior[s])) * prime
        for i in range(seq_start[s], seq_start[s + 1]):
            h = (h ^ obs_bits[i]) * prime
            h = (h ^ np.uint64(emis[i])) * prime
        out[s] = h ^ np.uint64(seq_start[s + 1] - seq_start[s])
    return out


@njit(cache=True, nogil=True)
def _merge_duplicates(obs, emis, seq_start, seq_prior, ranked, same_key):  # pragma: no cover - compiled
    """Weight of each sequence after merging: the first of identical sequences gets their count, the others 0.

    `ranked` lists sequences by (skill, hash, length, position); `same_key[i]` says ranked[i] has the key of
    ranked[i - 1]. Members of a run are compared element by element with the run's first (a hash collision
    leaves a sequence on its own).
    """
    weight = np.ones(seq_start.shape[0] - 1)
    head = -1
    for i in range(ranked.shape[0]):
        s = ranked[i]
        if not same_key[i]:
            head = s
            continue
        a, b = seq_start[head], seq_start[s]
        n = seq_start[s + 1] - b
        same = seq_prior[s] == seq_prior[head]
        for t in range(n):
            if not same:
                break
            same = obs[a + t] == obs[b + t] and emis[a + t] == emis[b + t]
        if same:
            weight[head] += 1.0
            weight[s] = 0.0
    return weight


def unique_sequences(obs, emis, seq_start, seq_prior, seq_skill, n_skills):
    """Merge identical sequences of a skill (same answers, emission and prior classes) into one, weighted.

    Their forward-backward passes are identical, so EM needs each only once, times its count: on
    assist2015 58% of the responses are in a sequence that repeats an earlier one (many are 1-3 long).
    Returns obs, emis, seq_start, seq_prior, seq_weight, skill_seq of the kept sequences, in their order.
    """
    lengths = np.diff(seq_start)
    hashes = _sequence_hashes(obs.view(np.uint64), emis, seq_start, seq_prior)
    ranked = np.lexsort((np.arange(lengths.size), lengths, hashes, seq_skill))
    key_skill, key_hash, key_len = seq_skill[ranked], hashes[ranked], lengths[ranked]
    same_key = np.zeros(ranked.size, dtype=np.bool_)
    same_key[1:] = (key_skill[1:] == key_skill[:-1]) & (key_hash[1:] == key_hash[:-1]) & (key_len[1:] == key_len[:-1])
    weight = _merge_duplicates(obs, emis, seq_start, seq_prior, ranked.astype(np.int64), same_key)
    kept = weight > 0
    rows = np.repeat(kept, lengths)
    return (
        obs[rows], emis[rows], np.concatenate(([0], np.cumsum(lengths[kept]))).astype(np.int64),
        seq_prior[kept], weight[kept], np.searchsorted(seq_skill[kept], np.arange(n_skills + 1)).astype(np.int64),
    )


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
        obs, idx, starts, np.zeros(1, dtype=np.int64), np.ones(1), one, one, one, np.zeros(1, dtype=np.int64),
        np.full((1, 1), 0.5), np.full((1, 1), 0.1), np.zeros((1, 1)), np.full((1, 1), 0.2), np.full((1, 1), 0.1),
        False, 2, 1e-3, 1e-6, 0.5, 0.5,
    )
    unique_sequences(obs, idx, starts, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), 1)
    expected_counts_all(
        obs, idx, starts, np.zeros(1, dtype=np.int64), np.ones(1), one, np.ones((1, 1), dtype=np.bool_),
        np.full((1, 1), 0.5), np.full((1, 1), 0.1), np.zeros((1, 1)), np.full((1, 1), 0.2), np.full((1, 1), 0.1),
    )
    forward_predict(obs, starts, np.array([0.5]), np.array([0.1]), np.array([0.0]), np.full(3, 0.2), np.full(3, 0.1))
