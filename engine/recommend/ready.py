"""Which of the skills a student is ready for the list offers first: the ones they became ready for last.

The places after the first go in turn to skills the student is ready for (`scoring.probably_ready_resources`).
A student is usually ready for many skills at once, so a uniform turn reaches a skill the student just became
ready for only after several lists. The moment a prerequisite is learned is the moment its next skill should be
offered, so each ready skill is weighted by how recently it became ready: the last practice of its direct
prerequisites, unless the skill itself was practised since (it has had its turn). Recency is ranked among the
student's ready skills (0 = most recent; ties share a rank; skills whose prerequisites were never practised
here, roots included, share the last rank) and the weight is RECENCY_DECAY ** rank, so the weights depend
only on the order of events, not on the clock's unit. A skill's weight is split evenly over its ready
resources, so a skill with many resources is not offered more often than one with few.

Recency alone does not reach every ready skill in time: a student is often ready for ten or twenty skills at once
(by the models' "probably"), every answer makes the dependents of the practised skill the newest, and a weighted
draw of three places a list then leaves an older ready skill out for many lists. So the skills also take turns
(`rotation_due`): with a period of P answers, skill s is *due* in the lists served after n answers when
(s - n) mod P = 0, and the ready places take the due ready skills first (by the same weights), then the others.
Every ready skill is due once in any P consecutive lists, whatever the list offered before (the state keeps no
record of offers); with three places a list, P = 5 covers up to 15 ready skills, matching the issue's "offered
within 5 steps".
"""

from __future__ import annotations

import numpy as np

from engine.mastery.graph_bounds import ClosurePairs

RECENCY_DECAY = 0.5  # weight of each later rank relative to the one before


def became_ready_at(last_practice: np.ndarray, direct_pairs: ClosurePairs) -> np.ndarray:
    """(N, S) when each skill became ready, as far as the log tells: the last practice of any of its direct
    prerequisites (`direct_pairs`: `ClosurePairs.of(graph.direct)`), or -inf when none was practised here or the
    skill itself was practised since (it has had its turn). O(students x prerequisite edges)."""
    seen = np.where(np.isnan(last_practice), -np.inf, last_practice)  # (N, S)
    prereq_time = direct_pairs.by_dependent.reduce(seen, np.maximum, -np.inf)
    return np.where(seen >= prereq_time, -np.inf, prereq_time)


def later_count(when: np.ndarray) -> np.ndarray:
    """(N, S) how many entries of each row are strictly greater than each entry (ties share a count), by a sort
    per row: O(N S log S), no (N, S, S) comparison."""
    order = np.argsort(-when, axis=1, kind="stable")
    rows = np.arange(when.shape[0])[:, None]
    desc = when[rows, order]
    starts = np.ones(when.shape, dtype=bool)
    starts[:, 1:] = desc[:, 1:] != desc[:, :-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(when.shape[1]), 0), axis=1)  # where each run of equal values starts
    out = np.empty_like(first)
    out[rows, order] = first
    return out


def ready_weights(last_practice: np.ndarray, direct_pairs: ClosurePairs, on_fringe: np.ndarray,
                  primary: np.ndarray) -> np.ndarray:
    """(N, R) draw weight of each resource of a ready skill (`on_fringe` (N, R)), 0 elsewhere: RECENCY_DECAY **
    (recency rank of its skill among the student's ready skills) over the number of the student's ready
    resources on that skill."""
    n, n_skills = last_practice.shape
    rows, cols = np.nonzero(on_fringe)
    on_skill = np.zeros((n, n_skills), dtype=np.int64)  # ready resources per (student, skill)
    np.add.at(on_skill, (rows, primary[cols]), 1)
    fringe = on_skill > 0
    # skills off the fringe sort below every fringe skill (NaN would break the sort), so they never count as later
    when = np.where(fringe, became_ready_at(last_practice, direct_pairs), -np.inf)
    rank = later_count(when)
    skill_weight = np.where(fringe, RECENCY_DECAY ** rank / np.maximum(on_skill, 1), 0.0)
    return np.where(on_fringe, skill_weight[:, primary], 0.0)


def rotation_due(n_responses: np.ndarray, n_skills: int, period: int) -> np.ndarray:
    """(N, S) the skills whose turn it is in a list served after `n_responses` (N,) answers: (s - n) mod period = 0."""
    return ((np.arange(n_skills)[None, :] - np.asarray(n_responses)[:, None]) % period) == 0
