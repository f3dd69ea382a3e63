"""What the prerequisite graph says about skills a student has not practised.

For every (dependent d, prerequisite u) pair of the transitive closure: the best practised dependent of u (a student
who has d has most likely learned u) and the weakest practised prerequisite of d (a student rarely has d without u).
`ClosurePairs` groups the pairs of a relation once and reduces with `ufunc.reduceat`: O(students x pairs), where the
broadcast over (students, skills, skills) it replaced cost O(students x skills^2). `GraphLevels` gets the same two
bounds over the closure from the direct edges alone, a level of the graph at a time (the best dependent of u is the
best, over u's direct dependents d, of d's own value and d's best dependent; the weakest prerequisite likewise):
O(students x direct edges), with one reduction per level. The mastery engine computes them before every prediction
and update, and `model build` replays a log some twenty times through it (its stages' times:
experiments/results/model_build.md). Level by level costs a reduction per level whatever the batch, which a deep graph
makes slower than the closure pairs for one student (the service's case), so `GraphBounds` takes it for batches of
at least LEVELS_FROM_ROWS students only: both give the same values exactly (max and min).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog.graph import PrerequisiteGraph

LEVELS_FROM_ROWS = 128  # batches of at least this many students are bounded level by level (module docstring)


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


@dataclass(frozen=True)
class _Level:
    """One level's reduction: each skill of `edges.targets` takes the reduction over its group of direct neighbours."""

    edges: _Groups

    def apply(self, z: np.ndarray, own: np.ndarray, acc: np.ndarray, op: np.ufunc) -> None:
        """acc[t] = op over t's neighbours of z; z[t] = op(own[t], acc[t]) (in place; arrays skills x students, so every
        gather and reduction runs over contiguous rows)."""
        g = self.edges
        acc[g.targets] = op.reduceat(z[g.source], g.starts, axis=0)
        z[g.targets] = op(own[g.targets], acc[g.targets])


def _levels(key: np.ndarray, other: np.ndarray, depth: np.ndarray, deepest_first: bool) -> tuple[_Level, ...]:
    """The edges (key, other) grouped by `key`, one `_Level` per depth of `key`, in the order the levels are done."""
    at = depth[key]
    order = np.unique(at)[::-1] if deepest_first else np.unique(at)
    return tuple(_Level(_Groups.of(key[at == level], other[at == level])) for level in order)


@dataclass(frozen=True)
class GraphLevels:
    """`best_dependent` and `weakest_prerequisite` over the transitive closure of `direct` (S, S bool, direct[d, u]: u is
    a direct prerequisite of d), computed along the direct edges level by level (module docstring); the same values as
    `ClosurePairs.of(ancestors)`."""

    up: tuple[_Level, ...]  # prerequisites grouped by depth, deepest first: their direct dependents are done before them
    down: tuple[_Level, ...]  # dependents grouped by depth, shallowest first: their direct prerequisites are done first

    @classmethod
    def of(cls, direct: np.ndarray, depth: np.ndarray) -> GraphLevels:
        """`depth` (S,): the longest chain of prerequisites below each skill (`PrerequisiteGraph.depth`)."""
        dependent, prerequisite = np.nonzero(direct)
        return cls(_levels(prerequisite, dependent, depth, deepest_first=True),
                   _levels(dependent, prerequisite, depth, deepest_first=False))

    def best_dependent(self, known: np.ndarray) -> np.ndarray:
        """(N, S) max of `known` over each skill's dependents (direct or not); -inf where it has none."""
        return self._through(self.up, known, np.maximum, -np.inf)

    def weakest_prerequisite(self, weak: np.ndarray) -> np.ndarray:
        """(N, S) min of `weak` over each skill's prerequisites (direct or not); +inf where it has none."""
        return self._through(self.down, weak, np.minimum, np.inf)

    @staticmethod
    def _through(levels: tuple[_Level, ...], values: np.ndarray, op: np.ufunc, empty: float) -> np.ndarray:
        own = np.ascontiguousarray(values.T, dtype=float)  # (S, N)
        acc = np.full(own.shape, empty)
        z = own.copy()  # op(own value, acc) of the skills done so far; the value itself before
        for level in levels:
            level.apply(z, own, acc, op)
        return np.ascontiguousarray(acc.T)


@dataclass(frozen=True)
class GraphBounds:
    """The closure's bounds for the mastery engine: over the closure pairs for a few students, level by level for many
    (module docstring); the same values either way."""

    closure: ClosurePairs
    levels: GraphLevels

    @classmethod
    def of(cls, graph: PrerequisiteGraph) -> GraphBounds:
        return cls(ClosurePairs.of(graph.ancestors), GraphLevels.of(graph.direct, graph.depth))

    def _way(self, values: np.ndarray) -> ClosurePairs | GraphLevels:
        return self.levels if values.shape[0] >= LEVELS_FROM_ROWS else self.closure

    def best_dependent(self, known: np.ndarray) -> np.ndarray:
        """(N, S) max of `known` over each skill's dependents (direct or not); -inf where it has none."""
        return self._way(known).best_dependent(known)

    def weakest_prerequisite(self, weak: np.ndarray) -> np.ndarray:
        """(N, S) min of `weak` over each skill's prerequisites (direct or not); +inf where it has none."""
        return self._way(weak).weakest_prerequisite(weak)
