"""How soon a student who becomes ready for a skill is offered it: issue 14's "within 5 steps", in the outside world.

A skill is *ready* for a student when every direct prerequisite in the world's true graph is truly mastered and
the skill itself is not. Readiness that holds when the run starts is not counted. From then on, each time a skill
turns ready its clock starts; the event is a hit when the skill is offered at one of the next WINDOW steps (the
step right after it turned ready counts as delay 0) and a miss when none of them offers it. A skill that stops being
ready before it is offered (a prerequisite forgotten, or the skill mastered by another route) is dropped: neither
hit nor miss, and so is an event whose window runs past the last step. The driver runs two clocks per policy:
the skill practised (the answered item's true skill) and the skills listed (the true skills of every item in the
list the platform shows; a local policy lists one item). A missed event is also counted as a *dip* when the skill
itself was truly mastered the step before: it turned ready by being forgotten just below the mastery line, its
prerequisites unchanged, rather than by being unlocked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.outside_check.world import World

WINDOW = 5  # steps


@dataclass(frozen=True)
class ReadyShare:
    """Readiness events offered within WINDOW steps (`hits`) out of all counted events (`events`); `dips`: the missed
    events where the skill had been truly mastered the step before."""

    hits: int
    events: int
    dips: int = 0

    @property
    def share(self) -> float:
        return self.hits / self.events if self.events else float("nan")


class ReadinessClock:
    """Per (student, skill): when the skill turned ready and whether it has been offered since (module docstring)."""

    def __init__(self, world: World, mastered: np.ndarray) -> None:
        self.prerequisites = [np.asarray(pre, dtype=np.int64) for pre in world.prerequisites]
        self.was_ready = self.ready(mastered)
        self.was_mastered = mastered.copy()
        self.pending = np.zeros(mastered.shape, dtype=bool)
        self.since = np.zeros(mastered.shape, dtype=np.int64)
        self.dip = np.zeros(mastered.shape, dtype=bool)  # the pending event began with the skill forgotten
        self.hits = self.misses = self.dips = 0

    def ready(self, mastered: np.ndarray) -> np.ndarray:
        """(S, K) every direct prerequisite truly mastered, the skill not."""
        prerequisites_mastered = np.ones(mastered.shape, dtype=bool)
        for skill, pre in enumerate(self.prerequisites):
            if pre.size:
                prerequisites_mastered[:, skill] = mastered[:, pre].all(axis=1)
        return prerequisites_mastered & ~mastered

    def step(self, t: int, mastered: np.ndarray, offered: np.ndarray) -> None:
        """Before step t's answers: `mastered` (S, K) the true state, `offered` (S, K) the skills step t offers."""
        ready = self.ready(mastered)
        turned = ready & ~self.was_ready
        self.since = np.where(turned, t, self.since)
        self.dip = np.where(turned, self.was_mastered, self.dip)
        self.pending = (self.pending | turned) & ready
        self.was_ready, self.was_mastered = ready, mastered.copy()
        hit = self.pending & offered
        self.hits += int(hit.sum())
        self.pending &= ~hit
        # step t was the last one of the window; this step's misses kept for reports (experiments.listing_misses)
        expired = self.expired = self.pending & (t - self.since >= WINDOW - 1)
        self.misses += int(expired.sum())
        self.dips += int((expired & self.dip).sum())
        self.pending &= ~expired

    @property
    def result(self) -> ReadyShare:
        return ReadyShare(self.hits, self.hits + self.misses, self.dips)


def offered_mask(world: World, items: np.ndarray) -> np.ndarray:
    """(S, K) the true skills of each student's offered items, `items` (S, L) world item indices, -1 = none."""
    mask = np.zeros((items.shape[0], world.n_skills), dtype=bool)
    rows, cols = np.nonzero(items >= 0)
    mask[rows, world.item_skill[items[rows, cols]]] = True
    return mask
