"""`models.bkt.kernels.unique_sequences` against a plain-Python grouping of identical sequences.

Two sequences are merged only when they belong to the same skill and have the same prior class, the same
answers (fractional credit included) and the same emission classes, element by element; the first of
them is kept with a weight equal to their number, in the original order. (The compiled kernels
themselves are decorated with numba's `@njit`, which mutmut does not mutate: see docs/testing.md.)
"""

from __future__ import annotations

import numpy as np

from models.bkt import kernels

# (skill, prior class, answers, emission classes); skills ascending as `models.bkt.data` lays them out
SEQUENCES = [
    (0, 0, [1.0, 0.0], [0, 0]),
    (0, 0, [1.0, 0.0], [0, 0]),      # duplicate of the first
    (0, 0, [1.0, 0.0, 1.0], [0, 0, 0]),  # same start, longer
    (0, 1, [1.0, 0.0], [0, 0]),      # other prior class
    (0, 0, [1.0, 0.0], [0, 1]),      # other emission class on the 2nd answer
    (0, 0, [1.0, 0.5], [0, 0]),      # partial credit
    (0, 0, [1.0, 0.0], [0, 0]),      # third copy of the first
    (2, 0, [1.0, 0.0], [0, 0]),      # same as the first but another skill (skill 1 has no sequence)
    (2, 0, [0.0], [0]),
    (2, 0, [0.0], [0]),
    (2, 0, [1.0, 0.5], [0, 0]),
    (2, 0, [1.0, 0.5], [0, 0]),
]


def _flat(seqs: list) -> tuple[np.ndarray, ...]:
    obs = np.array([c for s in seqs for c in s[2]], dtype=float)
    emis = np.array([e for s in seqs for e in s[3]], dtype=np.int64)
    start = np.r_[0, np.cumsum([len(s[2]) for s in seqs])].astype(np.int64)
    return obs, emis, start, np.array([s[1] for s in seqs], np.int64), np.array([s[0] for s in seqs], np.int64)


def test_unique_sequences_equals_a_plain_grouping() -> None:
    obs, emis, start, prior, skill = _flat(SEQUENCES)
    got = kernels.unique_sequences(obs, emis, start, prior, skill, 3)
    got_obs, got_emis, got_start, got_prior, got_weight, got_skill_seq = got

    first: dict[tuple, int] = {}
    count: dict[tuple, int] = {}
    for i, (k, pr, answers, classes) in enumerate(SEQUENCES):
        key = (k, pr, tuple(answers), tuple(classes))
        first.setdefault(key, i)
        count[key] = count.get(key, 0) + 1
    kept = sorted(first.values())
    exp_obs, exp_emis, exp_start, exp_prior, exp_skill = _flat([SEQUENCES[i] for i in kept])
    weight = [count[(SEQUENCES[i][0], SEQUENCES[i][1], tuple(SEQUENCES[i][2]), tuple(SEQUENCES[i][3]))] for i in kept]

    np.testing.assert_array_equal(got_obs, exp_obs)
    np.testing.assert_array_equal(got_emis, exp_emis)
    np.testing.assert_array_equal(got_start, exp_start)
    np.testing.assert_array_equal(got_prior, exp_prior)
    np.testing.assert_array_equal(got_weight, weight)
    assert got_weight.sum() == len(SEQUENCES)
    # skill k's kept sequences are got_skill_seq[k]:got_skill_seq[k + 1]; skill 1 has none
    np.testing.assert_array_equal(got_skill_seq, np.searchsorted(exp_skill, np.arange(4)))
    assert got_skill_seq.tolist() == [0, 5, 5, 8]
    assert got_start.dtype == np.int64 and got_skill_seq.dtype == np.int64
