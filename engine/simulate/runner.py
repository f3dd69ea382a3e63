"""Run one policy on one simulated world: every step, every student at once.

Step t: the policy chooses (resource, item) per student from the mastery engine's estimates; the
simulator applies learning, samples the answer and forgetting; the engine updates every student's
state with that answer (time = t days); the policy sees the outcome. Ground truth is read only to
score the run (and to mark which students were ready for advanced work, for the equity measure).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np

from engine.catalog.schema import ADVANCED
from engine.errors import ConfigError
from engine.mastery import MasteryEngine
from engine.recommend import RecommenderConfig
from engine.simulate.learners import SIMULATORS
from engine.simulate.policies import make_policy
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


def _stream(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def run_policy(world: World, simulator: str, policy: str, steps: int, engine: MasteryEngine | None = None,
               config: RecommenderConfig | None = None, record_actions: bool = False) -> RunResult:
    """Simulate `steps` activities per student of `world` under `policy` on the named simulator family."""
    if simulator not in SIMULATORS:
        raise ConfigError(f"unknown simulator {simulator!r}; choose from {', '.join(SIMULATORS)}")
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    started = time.perf_counter()
    engine = engine or MasteryEngine(world.catalog)
    learners = SIMULATORS[simulator](world)
    chooser = make_policy(policy, engine, steps, config)
    n = world.n_students
    batch = engine.new_batch([f"sim{i:06d}" for i in range(n)])
    policy_rng = _stream(world.seed, "policy", policy, simulator)
    learner_rng = _stream(world.seed, "learners", simulator)
    rows = np.arange(n)
    initial_mastery = learners.mastery()
    initially_known = learners.known().copy()
    ever_ready = np.zeros(n, dtype=bool)
    offered = np.zeros(n, dtype=bool)
    is_advanced = world.catalog.resource_level == ADVANCED
    actions = np.zeros((n, steps), dtype=np.int64) if record_actions else None
    estimates = np.zeros((n, steps)) if record_actions else None
    for t in range(steps):
        now = float(t)
        if estimates is not None:
            p_now = engine.p_now(batch, now)
        resources, items = chooser.choose(batch, now, policy_rng)
        if estimates is not None:
            estimates[:, t] = p_now[rows, world.catalog.resource_skill[resources]]
        ready = learners.ready_for_advanced().any(axis=1)
        ever_ready |= ready
        offered |= ready & is_advanced[resources]
        predicted = engine.predict_pairs(batch, items, now)
        correct = learners.step(resources, items, learner_rng)
        engine.update_batch(batch, rows, items, correct, np.full(n, now))
        chooser.observe(resources, items, correct, predicted)
        if actions is not None:
            actions[:, t] = resources
    final_known = learners.known()
    return RunResult(
        policy=policy, simulator=simulator, seed=world.seed, steps=steps, group=world.group.copy(),
        group_names=tuple(g.name for g in world.groups), initial=initial_mastery.mean(axis=1),
        final=learners.mastery().mean(axis=1), newly_mastered=(final_known & ~initially_known).sum(axis=1),
        ever_ready=ever_ready, offered_when_ready=offered, seconds=time.perf_counter() - started, actions=actions,
        estimates=estimates,
    )
