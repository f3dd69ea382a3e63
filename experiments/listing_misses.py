"""Why a skill that turns ready is not listed within 5 steps -> experiments/results/listing_misses.md.

    .venv/bin/python -m experiments.listing_misses [--students 300 --steps 60 --log-students 300 --seed 1]

Issue 14 asks that a student who becomes ready for a skill (its direct prerequisites truly mastered, itself not)
be offered it within 5 steps. The suite (`engine.simulate.runner`) and the outside world
(`experiments.outside_check.readiness`) count each such event as listed when the skill is among the true skills of
the list's items within the window, and both find misses in every setting. This run classifies every listed miss
of equilearn, serving a set built from a random-practice log, by what the engine saw during the event's window,
first matching cause first:

- dip: the skill was truly mastered the step before it turned ready (forgotten just below the line, its
  prerequisites unchanged): the engine had no event to see;
- listed by its tag, the item truly another skill (outside world only, whose catalog mis-tags 10% of the items):
  the list held an item the catalog tags with the skill, but the item truly belongs to another;
- flagged mastered: the engine's mastered flag was set on the skill at every step of the window;
- ready, no place: at some step of the window the skill was among those the list's ready places draw from
  (`Scored.ready_weight` > 0: each direct prerequisite probably in place by either model), but no place went to it;
- a prerequisite not yet seen as in place: at no step was the skill among them.

Suite settings run one world (`--seed`); the outside world (defaults, peak 65%) runs worlds 7, 11 and 13 with
300 students each, pooled, as `experiments.outside_variants` does. Beside the counts, the mean number of skills the
ready places could draw from at the steps of the misses' windows (three places a list, one skill due every 5 answers
each: 15 skills fit in 5 lists).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

from engine.catalog import load_catalog
from engine.recommend.constraints import resolve
from engine.recommend.scoring import score_resources
from engine.simulate import runner
from engine.simulate.policies import EquilearnPolicy
from engine.simulate.suite import OURS, SETTINGS, built_policy, random_practice_log
from experiments.outside_check import driver
from experiments.outside_check.readiness import ReadinessClock
from experiments.outside_check.world import WorldSpec
from experiments.outside_inproc import EquilearnInProcess, cohort_of, pipeline_inputs
from experiments.suite_cli import report_head, suite_parser

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
CAUSES = ("dip", "listed by its tag, the item truly another skill", "flagged mastered", "ready, no place",
          "a prerequisite not yet seen as in place")
OUTSIDE_WORLDS = (7, 11, 13)


@dataclass(frozen=True)
class Miss:
    """One listed miss: the student's row, the skill, the steps of its window (first, last) and whether it was a dip."""

    student: int
    skill: int
    first: int
    last: int
    dip: bool


@dataclass
class EngineViews:
    """Per step (lists of (N, S) / (N, L) arrays): the engine's mastered flags, the skills the list's ready places
    could draw from, the catalog tags of the listed items and, in the outside world, their true skills."""

    flagged: list[np.ndarray] = field(default_factory=list)
    ready: list[np.ndarray] = field(default_factory=list)
    listed_tag: list[np.ndarray] = field(default_factory=list)
    listed_true: list[np.ndarray] = field(default_factory=list)


def cause(miss: Miss, views: EngineViews) -> str:
    """The first of CAUSES that describes `miss` (module docstring)."""
    steps = range(miss.first, miss.last + 1)
    s, k = miss.student, miss.skill
    if miss.dip:
        return CAUSES[0]
    if views.listed_true and any(((views.listed_tag[t][s] == k) & (views.listed_true[t][s] != k)).any() for t in steps):
        return CAUSES[1]
    if all(views.flagged[t][s, k] for t in steps):
        return CAUSES[2]
    if any(views.ready[t][s, k] for t in steps):
        return CAUSES[3]
    return CAUSES[4]


def ready_skills(policy: EquilearnPolicy, batch, now: float) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(N, S) the engine's mastered flags and the skills with a resource the list's ready places could draw
    (`Scored.ready_weight` > 0), scored with a generator of their own so that the policy's draws are unchanged."""
    rec = policy.recommender
    cat = rec.catalog
    scored = score_resources(rec.engine, batch, now, rec.config, rec.geometry, resolve(None, cat), np.random.default_rng(0),
                             rec.progress)
    on_skill = (scored.ready_weight > 0).astype(np.int64) @ cat.resource_skills.astype(np.int64)
    return scored.status.mastered, on_skill > 0


@contextmanager
def recording(views: EngineViews, to_true: np.ndarray | None = None) -> Iterator[list]:
    """Within: every `EquilearnPolicy.choose` appends the engine's views, and every readiness clock (the suite's
    `runner._ReadyTracker`, the outside world's `ReadinessClock`) records its misses; yields the list of clocks in
    the order they are made (per run: the practised clock, then the listed one). `to_true` (catalog item -> true
    skill, outside world): also the listed items' true skills."""
    clocks: list = []
    choose = EquilearnPolicy.choose

    def recorded_choose(self: EquilearnPolicy, batch, now, rng):  # noqa: ANN001, ANN202
        out = choose(self, batch, now, rng)
        flagged, ready = ready_skills(self, batch, now)
        tags = np.where(self.listed_items >= 0, self.catalog.item_skill[np.maximum(self.listed_items, 0)], -1)
        views.flagged.append(flagged)
        views.ready.append(ready)
        views.listed_tag.append(tags)
        if to_true is not None:
            views.listed_true.append(np.where(self.listed_items >= 0, to_true[np.maximum(self.listed_items, 0)], -1))
        return out

    class Recording:
        """A readiness clock that keeps every miss it counts (each step's `expired` mask, after the clock's own step)."""

        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            self.recorded: list[Miss] = []
            clocks.append(self)

        def step(self, t: int, *args) -> None:  # noqa: ANN002
            super().step(t, *args)
            self.recorded += [Miss(int(s), int(k), int(self.since[s, k]), t, bool(self.dip[s, k]))
                              for s, k in zip(*np.nonzero(self.expired))]

    suite_clock = type("SuiteClock", (Recording, runner._ReadyTracker), {})
    outside_clock = type("OutsideClock", (Recording, ReadinessClock), {})

    with mock.patch.object(EquilearnPolicy, "choose", recorded_choose), \
            mock.patch.object(runner, "_ReadyTracker", suite_clock), mock.patch.object(driver, "ReadinessClock", outside_clock):
        yield clocks


def listed_clock(clocks: list, counted: int) -> list[Miss]:
    """The misses of a run's listed clock (the second made), checked against the count the clock itself kept."""
    clock = clocks[1]
    own = clock.missed if isinstance(clock, runner._ReadyTracker) else clock.misses
    if len(clock.recorded) != own or own != counted:
        raise RuntimeError(f"recorded {len(clock.recorded)} listed misses, the clock counted {own}, the run {counted}")
    return clock.recorded


@dataclass(frozen=True)
class Tally:
    """A setting's readiness events, their listed misses by cause, and the mean number of skills the ready places
    could draw from at the steps of the misses' windows."""

    events: int
    causes: dict[str, int]
    ready_skills: float


def tally(parts: list[tuple[list[Miss], EngineViews, int]]) -> Tally:
    """One Tally over runs pooled: each part is a run's listed misses, its engine views and its readiness events."""
    counts: Counter[str] = Counter()
    sizes = []
    for misses, views, _ in parts:
        counts.update(cause(m, views) for m in misses)
        sizes += [int(views.ready[t][m.student].sum()) for m in misses for t in range(m.first, m.last + 1)]
    return Tally(sum(p[2] for p in parts), {c: counts.get(c, 0) for c in CAUSES}, float(np.mean(sizes)) if sizes else float("nan"))


def suite_setting(setting, students: int, steps: int, log_students: int, seed: int) -> Tally:  # noqa: ANN001
    """Equilearn on one world of a suite setting, serving the set built from a random-practice log (as sim_suite)."""
    catalog = load_catalog(None)
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world)
    engine, progress = built_policy(catalog, log, seed)
    views = EngineViews()
    with recording(views) as clocks:
        run = runner.run_policy(world, setting, OURS, steps, engine=engine, progress=progress)
    events = int(sum(d.size for d in run.ready_listed_delays)) + run.ready_listed_missed
    return tally([(listed_clock(clocks, run.ready_listed_missed), views, events)])


def outside_world(students: int, steps: int, log_students: int, world_seed: int) -> tuple[list[Miss], EngineViews, int]:
    """Equilearn in process on the outside world's defaults (seed 0, as `experiments.outside_variants`)."""
    world, cohort, uniforms = cohort_of(WorldSpec(), students, steps, world_seed, 0)
    with pipeline_inputs(world, 0, log_students, 60) as (catalog, log):
        ours = EquilearnInProcess(world, cohort, catalog, log, 0)
        views = EngineViews()
        with recording(views, world.item_skill[ours.to_world]) as clocks:
            run = driver.run_policy(world, cohort, ours, uniforms)
    share = run.ready_listed
    return listed_clock(clocks, share.events - share.hits), views, share.events


def markdown(rows: dict[str, Tally], head: list[str]) -> str:
    lines = head + ["Per setting: readiness events (a skill turning ready during the run) and the listed misses, by cause "
                    "(first matching cause, module docstring); last column: the mean number of skills the list's ready "
                    "places could draw from at the steps of the misses' windows.", "",
                    "| setting | events | listed misses | " + " | ".join(CAUSES) + " | ready skills in the window |",
                    "|---|---|---|" + "---|" * len(CAUSES) + "---|"]
    for name, t in rows.items():
        total = sum(t.causes.values())
        cells = " | ".join(f"{n} ({n / total:.0%})" if total else "0" for n in t.causes.values())
        lines.append(f"| {name} | {t.events} | {total} ({total / max(t.events, 1):.1%}) | {cells} | {t.ready_skills:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = suite_parser(__doc__.splitlines()[0], single_seed=True).parse_args()
    load, started = os.getloadavg(), time.perf_counter()
    rows = {}
    for setting in SETTINGS:
        rows[setting.name] = suite_setting(setting, args.students, args.steps, args.log_students, args.seed)
        print(setting.name, rows[setting.name], flush=True)
    parts = [outside_world(args.students, args.steps, args.log_students, w) for w in OUTSIDE_WORLDS]
    rows[f"outside world, defaults (worlds {', '.join(map(str, OUTSIDE_WORLDS))} pooled)"] = tally(parts)
    text = markdown(rows, report_head("Why a skill that turns ready is not listed within 5 steps", "listing_misses", args,
                                      started, load))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "listing_misses.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
