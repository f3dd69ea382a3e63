"""MTSS: flag students who need more than tier 1, and allocate tier 2/3 interventions under capacity.

A student is flagged when their mastery is stalled (`stall_responses` responses without any skill newly
crossing the mastery threshold) or when their current skills lack several prerequisites (at least
`missing_prerequisites` not-in-place ancestors). Current skills are the teacher-assigned ones, or else
those practised in the last `window_days` before the student's latest response that are not mastered.
Tier 3 is recommended when both hold, or when `tier3_missing` prerequisites are missing; tier 2 otherwise.

Allocation goes by severity (highest first, ties by student id): each student gets the most intensive
intervention with free capacity among those their tier allows (tier 3: tutoring, then a small group,
then a teacher conference; tier 2: small group, then conference); when all are full they are waitlisted.
Capacity is never exceeded. Inputs are mastery states only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine

KIND_ORDER = {3: ("individual_tutoring", "small_group", "teacher_conference"), 2: ("small_group", "teacher_conference")}
KIND_LABEL = {"individual_tutoring": "individual tutoring", "small_group": "small-group support", "teacher_conference": "a teacher conference"}


@dataclass(frozen=True)
class MTSSConfig:
    stall_responses: int = 12
    missing_prerequisites: int = 3
    tier3_missing: int = 6
    ready_threshold: float = 0.8
    window_days: float = 14.0

    def __post_init__(self) -> None:
        if self.stall_responses < 1 or self.missing_prerequisites < 1 or self.tier3_missing < self.missing_prerequisites:
            raise ConfigError("MTSS needs stall_responses >= 1, missing_prerequisites >= 1, tier3_missing >= missing_prerequisites")


@dataclass(frozen=True)
class MTSSFlag:
    student_id: str
    stalled: bool
    responses_since_progress: int
    missing_prerequisites: tuple[str, ...]
    severity: float
    recommended_tier: int
    reason: str


@dataclass(frozen=True)
class Allocation:
    student_id: str
    intervention_id: str
    kind: str
    tier: int
    reason: str


@dataclass
class AllocationResult:
    assignments: list[Allocation] = field(default_factory=list)
    waitlist: list[MTSSFlag] = field(default_factory=list)
    remaining_capacity: dict[str, int] = field(default_factory=dict)


def _current_skills(engine: MasteryEngine, batch: MasteryBatch, p: np.ndarray, window_days: float) -> np.ndarray:
    practised = batch.evidence > 0
    recent = np.where(np.isfinite(batch.last_practice) & np.isfinite(batch.last_time)[:, None],
                      batch.last_practice >= batch.last_time[:, None] - window_days, True)
    return practised & recent & ~engine.flagged(p, batch)


def flag_students(engine: MasteryEngine, batch: MasteryBatch, now: float | None = None,
                  config: MTSSConfig | None = None, assigned_skills: tuple[str, ...] = ()) -> list[MTSSFlag]:
    """Flags for the students of `batch` who need tier 2 or 3 support, most severe first."""
    cfg = config or MTSSConfig()
    cat = engine.catalog
    p = engine.p_now(batch, now)
    if assigned_skills:
        current = np.zeros_like(p, dtype=bool)
        current[:, cat.skill_indices(assigned_skills)] = True
    else:
        current = _current_skills(engine, batch, p, cfg.window_days)
    needed = (current.astype(np.int64) @ cat.graph.ancestors.astype(np.int64)) > 0  # (N, S) ancestors of current skills
    missing = needed & (p < cfg.ready_threshold)
    n_missing = missing.sum(axis=1)
    stalled = batch.responses_since_progress >= cfg.stall_responses
    flagged = np.flatnonzero(stalled | (n_missing >= cfg.missing_prerequisites))
    flags = []
    for i in flagged.tolist():
        names = tuple(cat.skill_ids[s] for s in np.flatnonzero(missing[i]))
        tier = 3 if (stalled[i] and n_missing[i] >= cfg.missing_prerequisites) or n_missing[i] >= cfg.tier3_missing else 2
        why = []
        if stalled[i]:
            why.append(f"no skill newly mastered in the last {int(batch.responses_since_progress[i])} responses")
        if n_missing[i]:
            shown = ", ".join(cat.skill_names[s] for s in np.flatnonzero(missing[i])[:4])
            more = f" and {n_missing[i] - 4} more" if n_missing[i] > 4 else ""
            why.append(f"{n_missing[i]} prerequisite(s) of current work not yet in place ({shown}{more})")
        flags.append(MTSSFlag(
            batch.student_ids[i], bool(stalled[i]), int(batch.responses_since_progress[i]), names,
            float(stalled[i]) + n_missing[i] / cfg.missing_prerequisites, tier, "; ".join(why),
        ))
    return sorted(flags, key=lambda f: (-f.severity, f.student_id))


def allocate(flags: list[MTSSFlag], interventions: pl.DataFrame) -> AllocationResult:
    """Assign flagged students to interventions (catalog `interventions` table) without exceeding capacity."""
    remaining = dict(zip(interventions["intervention_id"].to_list(), (int(c) for c in interventions["capacity_per_week"].to_list())))
    by_kind: dict[str, list[tuple[str, int]]] = {}
    for row in interventions.iter_rows(named=True):
        by_kind.setdefault(row["kind"], []).append((row["intervention_id"], int(row["tier"])))
    result = AllocationResult(remaining_capacity=remaining)
    for flag in sorted(flags, key=lambda f: (-f.severity, f.student_id)):
        placed = None
        for rank, kind in enumerate(KIND_ORDER[flag.recommended_tier]):
            options = [(iid, tier) for iid, tier in by_kind.get(kind, []) if remaining[iid] > 0]
            if options:
                iid, tier = max(options, key=lambda o: (remaining[o[0]], o[0]))
                remaining[iid] -= 1
                fallback = "" if rank == 0 else f" (the preferred {KIND_LABEL[KIND_ORDER[flag.recommended_tier][0]]} is full this week)"
                placed = Allocation(flag.student_id, iid, kind, tier,
                                    f"tier {flag.recommended_tier} need: {flag.reason}; offered {KIND_LABEL[kind]}{fallback}")
                break
        if placed is None:
            result.waitlist.append(flag)
        else:
            result.assignments.append(placed)
    return result
