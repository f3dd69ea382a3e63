"""Which of the skills a student is ready for the list offers first: the ones they became ready for last.

The places after the first go in turn to skills on the fringe (prerequisites in place, not mastered). A
student is usually ready for many skills at once (12-20 of 32 in the suite's worlds), so a uniform turn
reaches a skill the student just became ready for only after several lists. The moment a prerequisite is
learned is the moment its next skill should be offered, so each fringe skill is weighted by how recently
it became ready: the last practice of its direct prerequisites, after the skill's own last practice
(a skill the student has already practised since then has been offered). Recency is ranked among the
student's fringe skills (0 = most recent; ties share a rank; skills whose prerequisites were never
practised here, roots included, share the last rank) and the weight is RECENCY_DECAY ** rank, so the
weights depend only on the order of events, not on the clock's unit. A skill's weight is split evenly
over its candidate resources, so a skill with many resources is not offered more often than one with few.
"""

from __future__ import annotations

import numpy as np

RECENCY_DECAY = 0.5  # weight of each later rank relative to the one before


def became_ready_at(last_practice: np.ndarray, direct: np.ndarray) -> np.ndarray:
    """(N, S) when each skill became ready, as far as the log tells: the last practice of any of its direct
    prerequisites (`direct` (S, S), direct[s, u]: u is a direct prerequisite of s), or -inf when none was
    practised here or the skill itself was practised since (it has had its turn)."""
    seen = np.where(np.isnan(last_practice), -np.inf, last_practice)  # (N, S)
    prereq_time = np.where(direct[None, :, :], seen[:, None, :], -np.inf).max(axis=2)  # (N, S)
    return np.where(seen >= prereq_time, -np.inf, prereq_time)


def ready_weights(last_practice: np.ndarray, direct: np.ndarray, on_fringe: np.ndarray,
                  primary: np.ndarray) -> np.ndarray:
    """(N, R) draw weight of each candidate resource on a fringe skill (`on_fringe` (N, R)), 0 elsewhere:
    RECENCY_DECAY ** (recency rank of its skill among the student's fringe skills) over the number of the
    student's candidates on that skill."""
    n_skills = direct.shape[0]
    on_skill = np.zeros((on_fringe.shape[0], n_skills), dtype=np.int64)  # candidates per (student, skill)
    np.add.at(on_skill, (np.nonzero(on_fringe)[0], primary[np.nonzero(on_fringe)[1]]), 1)
    fringe = on_skill > 0
    when = np.where(fringe, became_ready_at(last_practice, direct), np.nan)
    later = (when[:, None, :] > when[:, :, None]) & fringe[:, None, :]  # (N, S, S'): s' became ready after s
    rank = later.sum(axis=2)
    skill_weight = np.where(fringe, RECENCY_DECAY ** rank / np.maximum(on_skill, 1), 0.0)
    return np.where(on_fringe, skill_weight[:, primary], 0.0)
