"""A simulated world: a population of learners on a catalog's skill graph, with hidden ground truth.

Subgroups differ only in **starting opportunity** (prior knowledge), never in how fast they learn: each
group shifts the latent preparation z ~ N(shift, 1) that decides which skills a student already knows;
the learning rate is drawn from one distribution for everyone. Group labels exist for the audit only;
no policy ever sees them.

Initial knowledge respects the prerequisite graph: in prerequisite-first order, skill s is known with
probability sigmoid(1.6 (z - c_s)) (c_s grows with the skill's depth) when all its prerequisites are
known, and with 0.15 times that otherwise (isolated knowledge happens, but rarely).
Resources have a hidden quality (lognormal around a mean per kind) that the policies can only learn
from outcomes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import RESOURCE_KINDS
from engine.errors import ConfigError

KIND_QUALITY = {"practice_set": 1.0, "video": 0.8, "worked_example": 1.0, "reading": 0.7, "enrichment_project": 1.0}
QUALITY_SPREAD = 0.3  # sd of log quality around the kind mean
ISOLATED_KNOWLEDGE = 0.15


@dataclass(frozen=True)
class GroupSpec:
    """One subgroup: label, population share, shift of the latent preparation (starting opportunity)."""

    name: str
    share: float
    opportunity_shift: float


DEFAULT_GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec("higher_opportunity", 0.5, 0.6),
    GroupSpec("lower_opportunity", 0.5, -0.6),
)


def parse_groups(spec: str) -> tuple[GroupSpec, ...]:
    """'name:share:shift,name:share:shift' -> GroupSpecs (shares are normalized)."""
    groups = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        fields = part.split(":")
        if len(fields) != 3:
            raise ConfigError(f"group {part!r}: expected name:share:shift, e.g. lower_opportunity:0.5:-0.6")
        try:
            groups.append(GroupSpec(fields[0], float(fields[1]), float(fields[2])))
        except ValueError:
            raise ConfigError(f"group {part!r}: share and shift must be numbers") from None
    if len(groups) < 2 or any(g.share <= 0 for g in groups) or len({g.name for g in groups}) != len(groups):
        raise ConfigError("give at least two groups with distinct names and positive shares")
    return tuple(groups)


@dataclass(frozen=True)
class ItemTruth:
    """The items as they really are: (I,) primary skill index and 3PL a, b, c. In a well-specified world
    these are the catalog's; in a misspecified one the catalog the engine sees differs from them."""

    skill: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    mistagged: np.ndarray  # (I,) bool: the catalog names another skill than the true one

    @classmethod
    def of(cls, catalog: Catalog) -> ItemTruth:
        return cls(catalog.item_skill.copy(), catalog.item_a.copy(), catalog.item_b.copy(), catalog.item_c.copy(),
                   np.zeros(catalog.n_items, dtype=bool))


@dataclass(frozen=True)
class World:
    """Ground truth shared by every policy run on the same seed.

    `group` (N,) group index into `groups`; `rate` (N,) learning-rate multiplier; `known0` (N, S) bool
    initial knowledge; `quality` (R,) hidden resource quality; `seed` the seed it was drawn with;
    `truth` the true item tags and parameters (None: the catalog's, a well-specified world).
    """

    catalog: Catalog
    groups: tuple[GroupSpec, ...]
    group: np.ndarray
    rate: np.ndarray
    known0: np.ndarray
    quality: np.ndarray
    seed: int = 0
    truth: ItemTruth | None = None

    @property
    def items(self) -> ItemTruth:
        """The true items (the catalog's own unless the world is misspecified)."""
        return self.truth if self.truth is not None else ItemTruth.of(self.catalog)

    @property
    def n_students(self) -> int:
        return self.group.size

    def group_labels(self) -> np.ndarray:
        return np.array([self.groups[g].name for g in self.group])

    def students(self, rows: np.ndarray) -> World:
        """The same world (catalog, resources, items) with the students at `rows` (repeats allowed)."""
        return dataclasses.replace(self, group=self.group[rows], rate=self.rate[rows], known0=self.known0[rows])

    def highest_and_lowest(self) -> tuple[str, str]:
        """Names of the groups with the highest and the lowest starting opportunity."""
        ordered = sorted(self.groups, key=lambda g: g.opportunity_shift)
        return ordered[-1].name, ordered[0].name


def make_world(catalog: Catalog, n_students: int, seed: int, groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS) -> World:
    """Draw a population and resource qualities (deterministic for `seed`)."""
    if n_students < 1:
        raise ConfigError(f"need at least one student, got {n_students}")
    rng = np.random.default_rng([seed, 101])
    shares = np.array([g.share for g in groups]) / sum(g.share for g in groups)
    group = rng.choice(len(groups), size=n_students, p=shares)
    z = np.array([g.opportunity_shift for g in groups])[group] + rng.standard_normal(n_students)
    rate = rng.lognormal(0.0, 0.3, n_students)
    depth = catalog.graph.depth / max(int(catalog.graph.depth.max(initial=0)), 1)
    centre = -1.0 + 2.5 * depth
    known = np.zeros((n_students, catalog.n_skills), dtype=bool)
    for s in catalog.graph.order:  # prerequisites first
        prereqs = np.flatnonzero(catalog.graph.direct[s])
        p = 1.0 / (1.0 + np.exp(-1.6 * (z - centre[s])))
        if prereqs.size:
            p = np.where(known[:, prereqs].all(axis=1), p, ISOLATED_KNOWLEDGE * p)
        known[:, s] = rng.random(n_students) < p
    kinds = np.array([KIND_QUALITY[RESOURCE_KINDS[k]] for k in catalog.resource_kind])
    quality = kinds * rng.lognormal(0.0, QUALITY_SPREAD, catalog.n_resources)
    return World(catalog, tuple(groups), group, rate, known, quality, seed)


def misspecify(world: World, mistag_share: float, b_sd: float, seed: int | None = None) -> World:
    """The same world with items that differ from the catalog the engine sees: a share `mistag_share` of
    items really exercise another skill (one of the catalog's skills, drawn at random) and every true
    difficulty is the catalog's plus N(0, b_sd) noise. Policies and the engine keep the catalog's view."""
    if not 0 <= mistag_share < 1 or b_sd < 0:
        raise ConfigError("mistag_share must be in [0, 1) and b_sd >= 0")
    cat = world.catalog
    rng = np.random.default_rng([world.seed if seed is None else seed, 303])
    truth = ItemTruth.of(cat)
    n_wrong = int(round(mistag_share * cat.n_items))
    wrong = rng.choice(cat.n_items, size=n_wrong, replace=False)
    other = rng.integers(0, cat.n_skills - 1, n_wrong)
    skill = truth.skill.copy()
    skill[wrong] = np.where(other >= skill[wrong], other + 1, other)  # any skill but the catalog's
    mistagged = np.zeros(cat.n_items, dtype=bool)
    mistagged[wrong] = True
    b = truth.b + b_sd * rng.standard_normal(cat.n_items)
    return dataclasses.replace(world, truth=ItemTruth(skill, truth.a, b, truth.c, mistagged))
