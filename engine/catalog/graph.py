"""The prerequisite graph: reference and cycle checks, topological order, ancestors, depth.

Skills are indexed 0..S-1 in catalog order. `direct[s, p]` is True when p is a direct prerequisite
of s; `ancestors[s, p]` when p is reachable from s through prerequisites (the transitive closure).
Built once per catalog (O(S^2) memory), then read by the mastery engine and the recommender as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog.schema import list_cell_hint
from engine.errors import Problem


@dataclass(frozen=True)
class PrerequisiteGraph:
    """Arrays over skills: direct (S, S) bool, ancestors (S, S) bool, order (S,) topological, depth (S,)."""

    direct: np.ndarray
    ancestors: np.ndarray
    order: np.ndarray
    depth: np.ndarray

    @property
    def children(self) -> np.ndarray:
        """(S, S) bool: children[p, s] is True when p is a direct prerequisite of s."""
        return self.direct.T


def reference_problems(skill_ids: list[str], prerequisites: list[list[str]]) -> list[Problem]:
    """Every prerequisite that names an unknown skill or the skill itself (row = 1-based skill row)."""
    known = set(skill_ids)
    problems: list[Problem] = []
    for row, (skill, prereqs) in enumerate(zip(skill_ids, prerequisites), start=1):
        for p in prereqs:
            if p == skill:
                problems.append(Problem(row, "prerequisites", p, f"skill {skill!r} lists itself as a prerequisite; remove it"))
            elif p not in known:
                problems.append(
                    Problem(row, "prerequisites", p, f"skill {skill!r} has unknown prerequisite {p!r}; "
                            + (list_cell_hint(p, known) or f"add {p!r} to the skills table or remove it"))
                )
    return problems


def _direct_matrix(skill_ids: list[str], prerequisites: list[list[str]]) -> np.ndarray:
    index = {s: i for i, s in enumerate(skill_ids)}
    direct = np.zeros((len(skill_ids), len(skill_ids)), dtype=bool)
    for s, prereqs in enumerate(prerequisites):
        for p in prereqs:
            if p in index and index[p] != s:
                direct[s, index[p]] = True
    return direct


def _kahn_order(direct: np.ndarray) -> list[int]:
    """Skills in prerequisite-first order; skills on or behind a cycle are left out."""
    remaining = direct.sum(axis=1).astype(int)
    ready = [s for s in range(direct.shape[0]) if remaining[s] == 0]
    order: list[int] = []
    while ready:
        p = ready.pop(0)
        order.append(p)
        for s in np.flatnonzero(direct[:, p]):
            remaining[s] -= 1
            if remaining[s] == 0:
                ready.append(int(s))
    return order


def _strongly_connected(direct: np.ndarray) -> list[list[int]]:
    """Groups of two or more skills that all reach each other (each holds at least one cycle)."""
    reach = direct.copy()
    for k in range(reach.shape[0]):  # Warshall's transitive closure, one row-broadcast per skill
        reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
    mutual = reach & reach.T
    groups: list[list[int]] = []
    placed: set[int] = set()
    for s in range(direct.shape[0]):
        if s in placed or not mutual[s, s]:
            continue
        members = [int(x) for x in np.flatnonzero(mutual[s])]
        placed.update(members)
        groups.append(members)
    return groups


def _one_cycle(direct: np.ndarray, members: list[int]) -> list[int]:
    """Follow prerequisite links inside one strongly connected group until a skill repeats."""
    inside = set(members)
    path: list[int] = []
    seen: dict[int, int] = {}
    node = members[0]
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(int(p) for p in np.flatnonzero(direct[node]) if int(p) in inside)
    return path[seen[node]:] + [node]


def cycle_problems(skill_ids: list[str], prerequisites: list[list[str]]) -> list[Problem]:
    """One problem per group of skills caught in prerequisite cycles, naming a cycle (row = its first skill)."""
    direct = _direct_matrix(skill_ids, prerequisites)
    problems: list[Problem] = []
    for members in _strongly_connected(direct):
        cycle = _one_cycle(direct, members)
        names = " -> ".join(repr(skill_ids[i]) for i in cycle)
        first = cycle[0]
        problems.append(
            Problem(first + 1, "prerequisites", skill_ids[first],
                    f"prerequisite cycle {names} (each lists the next as a prerequisite); remove one of these links")
        )
    return problems


def build_graph(skill_ids: list[str], prerequisites: list[list[str]]) -> PrerequisiteGraph:
    """Arrays of a checked graph; call only after `reference_problems` and `cycle_problems` are empty."""
    direct = _direct_matrix(skill_ids, prerequisites)
    order = _kahn_order(direct)
    if len(order) != len(skill_ids):
        raise ValueError("build_graph needs an acyclic graph; run cycle_problems first")
    ancestors = np.zeros_like(direct)
    depth = np.zeros(len(skill_ids), dtype=np.int64)
    for s in order:  # prerequisites come first, so their rows are complete
        prereqs = np.flatnonzero(direct[s])
        if prereqs.size:
            ancestors[s] = direct[s] | ancestors[prereqs].any(axis=0)
            depth[s] = 1 + depth[prereqs].max()
    return PrerequisiteGraph(direct=direct, ancestors=ancestors, order=np.asarray(order, dtype=np.int64), depth=depth)
