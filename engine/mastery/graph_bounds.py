"""What the prerequisite graph says about skills a student has not practised, computed over the pairs of
its transitive closure.

For every (dependent d, prerequisite u) pair of the closure: the best practised dependent of u (a student
who has d has most likely learned u) and the weakest practised prerequisite of d (a student rarely has d
without u). Grouping the pairs once and reducing with `ufunc.reduceat` costs O(students x pairs); the
broadcast over (students, skills, skills) it replaces cost O(students x skills^2) in time and memory,
most of a held-out replay's time at 100 skills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Groups:
    """Closure pairs grouped by one end: `source` the other end of each pair, `starts` each group's first
    pair, `targets` the skill each group belongs to."""

    source: np.ndarray
    starts: np.ndarray
    targets: np.ndarray

    @classmethod
    def of(cls, key: np.ndarray, other: np.ndarray) -> _Groups:
        order = np.argsort(key, kind="stable")
        key, other = key[order], other[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, dtype=np.int64)
        return cls(other, starts, key[starts])

    def reduce(self, values: np.ndarray, op: np.ufunc, empty: float) -> np.ndarray:
        """(N, S): `op` over each skill's group of `values[:, source]`; `empty` for skills without a group."""
        out = np.full(values.shape, empty)
        if self.source.size:
            out[:, self.targets] = op.reduceat(values[:, self.source], self.starts, axis=1)
        return out


@dataclass(frozen=True)
class ClosurePairs:
    """The (dependent, prerequisite) pairs of `ancestors` (S, S bool, ancestors[d, u]: u is a prerequisite of d)."""

    by_prerequisite: _Groups
    by_dependent: _Groups

    @classmethod
    def of(cls, ancestors: np.ndarray) -> ClosurePairs:
        dependent, prerequisite = np.nonzero(ancestors)
        return cls(_Groups.of(prerequisite, dependent), _Groups.of(dependent, prerequisite))

    def best_dependent(self, known: np.ndarray) -> np.ndarray:
        """(N, S) max of `known` over each skill's dependents (direct or not); -inf where it has none."""
        return self.by_prerequisite.reduce(known, np.maximum, -np.inf)

    def weakest_prerequisite(self, weak: np.ndarray) -> np.ndarray:
        """(N, S) min of `weak` over each skill's prerequisites (direct or not); +inf where it has none."""
        return self.by_dependent.reduce(weak, np.minimum, np.inf)
