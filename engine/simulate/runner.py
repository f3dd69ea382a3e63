"""Run one policy on one simulated world: every step, every student at once.

Step t: the policy chooses (resource, item) per student from the mastery engine's estimates; the
simulator applies learning, samples the answer and forgetting; the engine updates every student's
state with that answer (time = t days); the policy sees the outcome. Ground truth is read only to
score the run (and to mark which students were ready for advanced work, for the equity measure).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.catalog.schema import ADVANCED
from engine.errors import ConfigError
from engine.mastery import MasteryEngine
from engine.recommend import RecommenderConfig
from engine.recommend.learning import DifficultyProgress
from engine.recommend.placement import needs_placement
from engine.simulate.learners import SIMULATORS, _Learners
from engine.simulate.oracle import OraclePolicy
from engine.simulate.policies import make_policy
from engine.simulate.posterior import PosteriorPolicy
from engine.simulate.world import World


@dataclass(frozen=True)
class RunResult:
    """Per-student outcomes of one (policy, simulator, seed) run; arrays are (N,)."""

    policy: str
    simulator: str
    seed: int
    steps: int
    group: np.ndarray
    group_names: tuple[str, ...]
    initial: np.ndarray
    final: np.ndarray
    newly_mastered: np.ndarray
    ever_ready: np.ndarray
    offered_when_ready: np.ndarray
    seconds: float
    actions: np.ndarray | None = None  # (N, steps) resource indices when recorded
    estimates: np.ndarray | None = None  # (N, steps) the engine's P(learned) of each served resource's skill, when recorded
    over_practice: np.ndarray | None = None  # (N,) steps whose every skill (resource's and item's, as catalogued) was
    # truly mastered while the student was ready for a skill not mastered yet (steps that could have taught something)
    flagged_mastered: np.ndarray | None = None  # (N, S) the engine's mastered flag at the end
    truly_mastered: np.ndarray | None = None  # (N, S) the simulator's own criterion at the end
    theta_sd_after: np.ndarray | None = None  # (N,) ability posterior SD after PLACEMENT_RESPONSES responses
    ready_delays: np.ndarray | None = None  # delays (steps) from becoming ready for a skill to practising it
    ready_missed: int = 0  # times a student was ready for a skill and did not practise it within READY_WINDOW steps
    ready_listed_delays: np.ndarray | None = None  # the same for the skill appearing anywhere in the policy's
    ready_listed_missed: int = 0  # list (a platform shows LIST_LENGTH recommendations), for policies that make lists
    ready_missed_dips: int = 0  # of the misses, skills truly mastered the step before (readiness by forgetting)
    ready_listed_missed_dips: int = 0
    placement: np.ndarray | None = None  # (N, steps) the step was a placement question (when actions are recorded)


PLACEMENT_RESPONSES = 10
READY_WINDOW = 5


def simulated_ids(n: int) -> list[str]:
    """The student ids of a run's `n` simulated students: row i of the world (and of the run's batch) is the i-th."""
    return [f"sim{i:06d}" for i in range(n)]


def _stream(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


class _ReadyTracker:
    """When a skill becomes ready (direct prerequisites truly mastered, the skill not yet), how many steps
    pass until the policy offers it; a skill that stops being ready before it is offered is not counted.
    `missed_dips` counts the missed events where the skill had been truly mastered the step before (its
    readiness came from forgetting it just below the line, not from its prerequisites)."""

    def __init__(self, learners: _Learners) -> None:
        self.learners = learners
        self.direct = learners.catalog.graph.direct.astype(np.int64)
        self.pending = np.zeros(learners.world.known0.shape, dtype=bool)
        self.since = np.zeros(self.pending.shape, dtype=np.int64)
        self.dip = np.zeros(self.pending.shape, dtype=bool)  # the pending event began with the skill dipping
        self.was_known = learners.known().copy()
        self.was_ready = self.ready_now = self._ready(self.was_known)
        self.delays: list[np.ndarray] = []
        self.missed = self.missed_dips = 0

    def _ready(self, known: np.ndarray) -> np.ndarray:
        return (((~known).astype(np.int64) @ self.direct.T) == 0) & ~known

    def step(self, t: int, offered: np.ndarray) -> None:
        """Before step t's learning: register new readiness, then the skills each student is offered, an (N, S)
        mask (several skills when the policy makes a list)."""
        known = self.learners.known().copy()
        ready = self.ready_now = self._ready(known)
        new = ready & ~self.was_ready
        self.since = np.where(new, t, self.since)
        self.dip = np.where(new, self.was_known, self.dip)
        self.pending = (self.pending | new) & ready
        self.was_ready, self.was_known = ready, known
        hit = self.pending & offered
        self.delays.append(t - self.since[hit])
        self.pending &= ~hit
        expired = self.expired = self.pending & (t - self.since >= READY_WINDOW)  # this step's misses (kept for reports)
        self.missed += int(expired.sum())
        self.missed_dips += int((expired & self.dip).sum())
        self.pending &= ~expired


class SimulatorSpec(Protocol):
    """A named way to make learners for a world (a suite `Setting`)."""

    name: str

    def learners(self, world: World) -> _Learners: ...


def run_policy(world: World, simulator: str | SimulatorSpec, policy: str, steps: int,
               engine: MasteryEngine | None = None, config: RecommenderConfig | None = None,
               record_actions: bool = False, progress: DifficultyProgress | None = None,
               on_step: Callable[[str], None] | None = None, particles: int = 50,
               engine_sees_resources: bool = False) -> RunResult:
    """Simulate `steps` activities per student of `world` under `policy` on a simulator family: a name of
    SIMULATORS, or a spec with a name and a `learners(world)` factory (a suite setting). `on_step(label)`,
    when given, is called after each step with "<family> seed <seed> <policy>" (progress reports only).
    `particles`: per student, for the posterior reference (policy "posterior", `engine.simulate.posterior`).
    `engine_sees_resources`: the mastery engine is told the resource behind each answer, whose other skills learn too
    (`MasteryEngine.learn_from_resources`), as the service is when the platform names it on each answer event."""
    if isinstance(simulator, str):
        if simulator not in SIMULATORS:
            raise ConfigError(f"unknown simulator {simulator!r}; choose from {', '.join(SIMULATORS)}")
        factory, family = SIMULATORS[simulator], simulator
    else:
        factory, family = simulator.learners, simulator.name
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    started = time.perf_counter()
    engine = engine or MasteryEngine(world.catalog)
    learners = factory(world)
    if policy == "oracle":
        chooser = OraclePolicy(engine, learners)
    elif policy == PosteriorPolicy.name:
        chooser = PosteriorPolicy.for_world(engine, factory, world, particles)
    else:
        chooser = make_policy(policy, engine, steps, config, progress)
    n = world.n_students
    batch = engine.new_batch(simulated_ids(n))
    policy_rng = _stream(world.seed, "policy", policy, family)
    learner_rng = _stream(world.seed, "learners", family)
    rows = np.arange(n)
    initial_mastery = learners.mastery()
    initially_known = learners.known().copy()
    ever_ready = np.zeros(n, dtype=bool)
    offered = np.zeros(n, dtype=bool)
    is_advanced = world.catalog.resource_level == ADVANCED
    actions = np.zeros((n, steps), dtype=np.int64) if record_actions else None
    estimates = np.zeros((n, steps)) if record_actions else None
    placement = np.zeros((n, steps), dtype=bool) if record_actions and policy == "equilearn" else None
    over_practice = np.zeros(n, dtype=np.int64)
    theta_sd_after = np.full(n, np.nan)
    tracker = _ReadyTracker(learners)
    listed = _ReadyTracker(learners) if hasattr(chooser, "listed_skills") else None
    label = f"{family} seed {world.seed} {policy}"
    for t in range(steps):
        now = float(t)
        if estimates is not None:
            p_now = engine.p_now(batch, now)
        if placement is not None:
            placement[:, t] = needs_placement(batch)
        resources, items = chooser.choose(batch, now, policy_rng)
        if estimates is not None:
            estimates[:, t] = p_now[rows, world.catalog.resource_skill[resources]]
        item_skill = world.catalog.item_skill[items]
        tracker.step(t, _skill_mask(item_skill[:, None], world.catalog.n_skills))
        if listed is not None:
            listed.step(t, _skill_mask(chooser.listed_skills, world.catalog.n_skills))
        known = learners.known()
        touched = world.catalog.resource_skills[resources].copy()
        touched[rows, item_skill] = True
        useful = tracker.ready_now.any(axis=1)  # a skill the student is ready for and has not mastered exists
        over_practice += ~(touched & ~known).any(axis=1) & useful  # yet every skill the step works on is mastered
        ready = learners.ready_for_advanced().any(axis=1)
        ever_ready |= ready
        offered |= ready & is_advanced[resources]
        predicted = engine.predict_pairs(batch, items, now)
        correct = learners.step(resources, items, learner_rng)
        engine.update_batch(batch, rows, items, correct, np.full(n, now), resources if engine_sees_resources else None)
        chooser.observe(resources, items, correct, predicted)
        if actions is not None:
            actions[:, t] = resources
        if t + 1 == PLACEMENT_RESPONSES:
            theta_sd_after = batch.theta_sd.copy()
        if on_step is not None:
            on_step(label)
    final_known = learners.known()
    flagged = engine.claimed(batch, float(steps))  # as the service reports it
    return RunResult(
        policy=policy, simulator=family, seed=world.seed, steps=steps, group=world.group.copy(),
        group_names=tuple(g.name for g in world.groups), initial=initial_mastery.mean(axis=1),
        final=learners.mastery().mean(axis=1), newly_mastered=(final_known & ~initially_known).sum(axis=1),
        ever_ready=ever_ready, offered_when_ready=offered, seconds=time.perf_counter() - started, actions=actions,
        estimates=estimates, over_practice=over_practice, flagged_mastered=flagged, truly_mastered=final_known,
        theta_sd_after=theta_sd_after, ready_delays=np.concatenate(tracker.delays) if tracker.delays else np.zeros(0),
        ready_missed=tracker.missed, ready_missed_dips=tracker.missed_dips, placement=placement,
        ready_listed_delays=None if listed is None else np.concatenate(listed.delays),
        ready_listed_missed=0 if listed is None else listed.missed,
        ready_listed_missed_dips=0 if listed is None else listed.missed_dips,
    )


def _skill_mask(skills: np.ndarray, n_skills: int) -> np.ndarray:
    """(N, S) True where row n lists skill s; `skills` (N, k) skill indices, negative = empty slot."""
    mask = np.zeros((skills.shape[0], n_skills + 1), dtype=bool)
    mask[np.arange(skills.shape[0])[:, None], np.where(skills >= 0, skills, n_skills)] = True
    return mask[:, :n_skills]
