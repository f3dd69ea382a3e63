"""Teacher constraints: assigned skills, pinned resources, blocked resources.

- assigned skills: candidates are limited to resources on those skills and on their not-yet-mastered
  prerequisites (ancestors), so a student is never sent past a gap the assignment depends on;
- pinned resources: shown first, in the given order, with propensity 1 (a teacher's choice, not ours);
- blocked resources: never recommended.
Unknown ids are errors naming the id; a resource both pinned and blocked is a contradiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.catalog import Catalog
from engine.errors import ConfigError


@dataclass(frozen=True)
class TeacherConstraints:
    assigned_skills: tuple[str, ...] = ()
    pinned_resources: tuple[str, ...] = ()
    blocked_resources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("assigned_skills", "pinned_resources", "blocked_resources"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        both = sorted(set(self.pinned_resources) & set(self.blocked_resources))
        if both:
            raise ConfigError(f"resource(s) both pinned and blocked: {', '.join(both)}; choose one")

    @classmethod
    def from_dict(cls, payload: dict[str, Any] | None) -> TeacherConstraints:
        """From {"assigned_skills": [...], "pinned_resources": [...], "blocked_resources": [...]} (all optional)."""
        payload = dict(payload or {})
        unknown = sorted(set(payload) - {"assigned_skills", "pinned_resources", "blocked_resources"})
        if unknown:
            raise ConfigError(f"unknown teacher constraint(s) {', '.join(unknown)}; known: assigned_skills, pinned_resources, blocked_resources")
        for name, value in payload.items():
            if isinstance(value, str) or not all(isinstance(x, str) for x in value):
                raise ConfigError(f"{name} must be a list of ids, got {value!r}")
        return cls(**payload)

    def to_dict(self) -> dict[str, list[str]]:
        return {"assigned_skills": list(self.assigned_skills), "pinned_resources": list(self.pinned_resources),
                "blocked_resources": list(self.blocked_resources)}


@dataclass(frozen=True)
class ResolvedConstraints:
    """Constraints as catalog indices: `assigned` (S,) bool or None, `pinned` (P,) ordered, `allowed` (R,) bool,
    `items_allowed` (I,) bool or None (items blocked by the recommender's settings)."""

    assigned: np.ndarray | None
    pinned: np.ndarray
    allowed: np.ndarray
    items_allowed: np.ndarray | None = None  # (I,) bool; None = every item may be shown

    def scope(self, catalog: Catalog, mastered: np.ndarray) -> np.ndarray | None:
        """(N, S) skills a student may work on under the assignment: assigned skills plus their unmastered
        prerequisites (ancestors). None when nothing is assigned."""
        if self.assigned is None:
            return None
        needed = catalog.graph.ancestors[self.assigned].any(axis=0)  # (S,) every ancestor of an assigned skill
        return self.assigned[None, :] | (needed[None, :] & ~mastered)


def resolve(constraints: TeacherConstraints | None, catalog: Catalog, resources_allowed: np.ndarray | None = None,
            items_allowed: np.ndarray | None = None) -> ResolvedConstraints:
    """Check ids against the catalog (unknown ids raise NotFoundError) and build index masks; the optional
    (R,) / (I,) masks are the recommender-wide blocks (`RecommenderConfig.blocked_*`)."""
    allowed = np.ones(catalog.n_resources, dtype=bool) if resources_allowed is None else resources_allowed.copy()
    if constraints is None:
        return ResolvedConstraints(None, np.zeros(0, dtype=np.int64), allowed, items_allowed)
    assigned = None
    if constraints.assigned_skills:
        assigned = np.zeros(catalog.n_skills, dtype=bool)
        assigned[catalog.skill_indices(constraints.assigned_skills)] = True
    pinned = catalog.resource_indices(constraints.pinned_resources) if constraints.pinned_resources else np.zeros(0, dtype=np.int64)
    if constraints.blocked_resources:
        allowed[catalog.resource_indices(constraints.blocked_resources)] = False
    blocked_pins = [catalog.resource_ids[r] for r in pinned if not allowed[r]]
    if blocked_pins:
        raise ConfigError(f"pinned resource(s) {', '.join(blocked_pins)} are blocked by the recommender settings")
    return ResolvedConstraints(assigned, pinned, allowed, items_allowed)
