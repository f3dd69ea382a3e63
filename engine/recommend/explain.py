"""Plain-language reasons for one recommendation, built from its status and score components."""

from __future__ import annotations

import math

from engine.catalog import Catalog
from engine.catalog.schema import ADVANCED, REMEDIAL

EXPLORING_BELOW_USES = 20
VALUED_ABOVE = 1.15  # a resource measured to teach at least this much relative to its level's average step says so


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"

IN_TURN = "places in the list go in turn to the skills you are ready for."


def _names(catalog: Catalog, skills: list[int]) -> str:
    names = [catalog.skill_names[s] for s in skills]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def reason(catalog: Catalog, resource: int, p: list[float], p_now: float, last_practice: float, now: float | None,
           components: dict[str, float], weights: dict[str, float], *, pinned: bool, assigned: bool | None,
           on_fringe: bool, guaranteed_advanced: bool, item_p: float | None, uses: int,
           kept_for_ready_skill: bool = False, value: float = 1.0) -> str:
    """One or a few sentences: why this resource, for this student, now.

    `p` is the student's P(learned) per skill (S,) from the evidence; `p_now` (after forgetting) and
    `last_practice` are for the resource's own skill; `uses` is how many outcomes of this resource have been observed;
    `value` what it teaches relative to its level's average step, as measured from the platform's log (1: not measured
    or average; `engine.recommend.resource_value`).
    """
    skill = int(catalog.resource_skill[resource])
    name = catalog.skill_names[skill]
    level = int(catalog.resource_level[resource])
    covered = [int(s) for s in catalog.resource_skills[resource].nonzero()[0] if s != skill]
    parts: list[str] = []
    if pinned:
        parts.append("Pinned by your teacher.")
    if level == ADVANCED:
        lead = "You are ready for advanced work" if not guaranteed_advanced else "You are ready for advanced work, so one place is kept for it"
        extra = f"; it leads into {_names(catalog, covered)}" if covered else ""
        parts.append(f"{lead}: {name} is at {_pct(p[skill])} and what it builds on is in place{extra}.")
    elif components["review"] >= 0.05 and math.isfinite(last_practice) and not kept_for_ready_skill:
        ago = f" {now - last_practice:.0f} days ago" if now is not None else ""
        parts.append(f"Time to review {name}: you had it at {_pct(p[skill])} when you last practised it{ago}; "
                     f"with time it is probably nearer {_pct(p_now)}.")
    elif level == REMEDIAL:
        also = f" and revisits {_names(catalog, covered)}" if covered else ""
        parts.append(f"Step-by-step support on {name} (now {_pct(p[skill])}){also}.")
    elif kept_for_ready_skill and not on_fringe:
        prereqs = [int(s) for s in catalog.graph.direct[skill].nonzero()[0]]
        parts.append(f"You may be ready for {name} (now {_pct(p[skill])}): the skills it builds on "
                     f"({_names(catalog, prereqs)}) are probably in place; {IN_TURN}")
    elif on_fringe:
        prereqs = [int(s) for s in catalog.graph.direct[skill].nonzero()[0]]
        basis = f"you have the skills it builds on ({_names(catalog, prereqs)})" if prereqs else "it is a starting skill"
        if kept_for_ready_skill:
            parts.append(f"You are ready for {name} (now {_pct(p[skill])}): {basis}; {IN_TURN}")
        else:
            parts.append(f"Next step: {name} (now {_pct(p[skill])}); {basis}.")
    else:
        parts.append(f"Practice on {name} (now {_pct(p[skill])}).")
    if assigned is True:
        parts.append("It is part of what your teacher assigned.")
    elif assigned is False:
        parts.append("It is needed for work your teacher assigned.")
    if item_p is not None and weights.get("targeting", 0) > 0 and components["targeting"] >= 0.8:
        parts.append(f"The next question is pitched at about {_pct(item_p)} chance of success.")
    if weights.get("information", 0) > 0 and components["information"] >= 0.3:
        parts.append("We are still learning your level, and this question tells us the most.")
    if value >= VALUED_ABOVE:
        parts.append(f"In your platform's records students learned about {_pct(value - 1)} more from it than from others "
                     "at its level.")
    if weights.get("exploration", 0) > 0:
        if uses < EXPLORING_BELOW_USES:
            parts.append(f"This resource is new to us ({uses} uses so far), so we are also finding out how well it works.")
        elif components["exploration"] >= 0.05:
            parts.append(f"Over {uses} uses, students did better than expected after this resource.")
    return " ".join(parts)
