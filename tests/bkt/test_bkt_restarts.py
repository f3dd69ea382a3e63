"""The EM kernel runs a skill's restarts side by side: each must give exactly what it gives alone.

Restarts that converge early leave the working set while the others go on, so this compares a joint
run of several starting points (converging at different iterations) with one run per starting point.
"""

from __future__ import annotations

import numpy as np

from models.bkt import BKT, kernels
from models.bkt.data import build_sequences, ordered_pairs
from models.bkt.simulate import simulate_bkt


def fit_kernel(model: BKT, seqs, starts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """em_fit_all on the given starting points (copied); returns loglik, iterations and the fitted values."""
    emis, skill_emis, _ = model._emission_classes(seqs)
    seq_prior, skill_prior, _ = model._prior_classes(seqs, None)
    fitted = {k: v.copy() for k, v in starts.items()}
    order = np.arange(len(seqs.skills), dtype=np.int64)
    ll, iters = kernels.em_fit_all(
        seqs.obs, emis, seqs.seq_start, seq_prior, np.ones(seq_prior.size), seqs.skill_seq, skill_emis, skill_prior, order,
        fitted["prior"], fitted["learn"], fitted["forget"], fitted["guess"], fitted["slip"],
        True, 100, 1e-6, 1e-6, 0.4999, 0.4999,
    )
    return ll, iters, fitted


def test_bkt_restarts_together_equal_restarts_alone() -> None:
    truth = [dict(prior=0.3, learn=0.15, guess=0.2, slip=0.1, forget=0.03), dict(prior=0.6, learn=0.05, guess=0.3, slip=0.15)]
    data = simulate_bkt(truth, 150, 12, seed=21)
    model = BKT(forgets=True, n_restarts=6, random_state=8)
    seqs = build_sequences(ordered_pairs(data))
    starts = model._starting_points(len(seqs.skills), len(seqs.skills), len(seqs.skills))
    ll, iters, together = fit_kernel(model, seqs, starts)
    assert len(np.unique(iters)) > 2  # the restarts stop at different iterations (early leavers exercised)
    for r in range(model.n_restarts):
        one = {k: v[r:r + 1] for k, v in starts.items()}
        ll_r, iters_r, alone = fit_kernel(model, seqs, one)
        np.testing.assert_array_equal(iters_r[0], iters[r])
        np.testing.assert_array_equal(ll_r[0], ll[r])
        for name in starts:
            np.testing.assert_array_equal(alone[name][0], together[name][r], err_msg=f"restart {r} {name}")


def test_bkt_merged_identical_sequences_fit_like_all_of_them() -> None:
    # short sequences repeat a lot (here ~90% of them): EM on the merged, weighted set must give what it
    # gives on every sequence (same iterations; values equal up to the order of the sums)
    truth = [dict(prior=0.3, learn=0.15, guess=0.2, slip=0.1, forget=0.03), dict(prior=0.6, learn=0.05, guess=0.3, slip=0.15)]
    data = simulate_bkt(truth, 400, 3, seed=22)
    model = BKT(forgets=True, n_restarts=3, random_state=9)
    seqs = build_sequences(ordered_pairs(data))
    emis, skill_emis, _ = model._emission_classes(seqs)
    seq_prior, skill_prior, _ = model._prior_classes(seqs, None)
    obs, emis_u, seq_start, seq_prior_u, weight, skill_seq = kernels.unique_sequences(
        seqs.obs, emis, seqs.seq_start, seq_prior, seqs.seq_skill, len(seqs.skills))
    assert weight.sum() == seqs.seq_start.size - 1 and weight.size < 0.2 * weight.sum()
    starts = model._starting_points(len(seqs.skills), len(seqs.skills), len(seqs.skills))
    ll, iters, every = fit_kernel(model, seqs, starts)
    merged = {k: v.copy() for k, v in starts.items()}
    ll_m, iters_m = kernels.em_fit_all(
        obs, emis_u, seq_start, seq_prior_u, weight, skill_seq, skill_emis, skill_prior, np.arange(len(seqs.skills)),
        merged["prior"], merged["learn"], merged["forget"], merged["guess"], merged["slip"], True, 100, 1e-6, 1e-6, 0.4999, 0.4999,
    )
    np.testing.assert_array_equal(iters_m, iters)
    np.testing.assert_allclose(ll_m, ll, rtol=1e-12)
    for name in starts:
        np.testing.assert_allclose(merged[name], every[name], rtol=0, atol=1e-12, err_msg=name)
