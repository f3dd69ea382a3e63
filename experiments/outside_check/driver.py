"""One setting of the outside check, end to end: world -> random-practice log -> documented pipeline ->
served set -> every policy on the same new students (paired: same starting state, same learning rates,
same uniform draws deciding each answer)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments.outside_check.client import EquilearnOverHTTP, Friction, ServedStats
from experiments.outside_check.pipeline import LOG_START, STEP, Platform, Server, write_catalog, \
    write_random_practice_log
from experiments.outside_check.policies import GatedCurriculum, GreedyOracle, Policy, RandomItem
from experiments.outside_check.readiness import ReadinessClock, ReadyShare, offered_mask
from experiments.outside_check.world import Cohort, Learners, World, WorldSpec, make_cohort, make_world

SETTINGS = {"peak45": 0.45, "peak65": 0.65, "peak85": 0.85}  # success rate at which learning peaks


@dataclass(frozen=True)
class CheckConfig:
    """Sizes and seeds of a run; ``audit=False`` skips `model audit` and serves with --allow-unaudited."""

    students: int = 300
    steps: int = 60
    log_students: int = 300
    log_steps: int = 60
    world_seed: int = 7
    seed: int = 0
    audit: bool = True
    k: int = 5
    concurrency: int = 4
    code: Path | None = None  # source tree the equilearn commands run from (None: the installed one)


@dataclass
class Run:
    """One policy's trajectory summary on the cohort."""

    name: str
    initial: np.ndarray  # (S,) mastery before
    final: np.ndarray  # (S,) mastery after
    on_mastered: np.ndarray  # (S,) share of steps whose item's true skill was already truly mastered
    correct_rate: np.ndarray  # (S,)
    final_mastered: np.ndarray  # (S, K) truly mastered at the end
    ready_practised: ReadyShare = ReadyShare(0, 0)  # skills turned ready and practised within 5 steps (readiness.py)
    ready_listed: ReadyShare = ReadyShare(0, 0)  # ... and in the list the platform shows within 5 steps

    @property
    def gain(self) -> np.ndarray:
        return self.final - self.initial


@dataclass
class SettingOutcome:
    """Everything the report needs about one setting."""

    name: str
    peak: float
    group: np.ndarray
    runs: dict[str, Run]
    flags: np.ndarray | None = None  # (S, K) service's mastered flags at the end
    served: ServedStats = field(default_factory=ServedStats)
    friction: Friction = field(default_factory=Friction)
    audit_verdict: str = "not run"  # PASS, FAIL, INSUFFICIENT_EVIDENCE, crashed, not run
    audit_summary: str = ""
    build_summary: str = ""
    readyz: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    log_responses: int = 0


def run_policy(world: World, cohort: Cohort, policy: Policy, uniforms: np.ndarray,
               learners: Learners | None = None) -> Run:
    """Drive ``policy`` for ``uniforms.shape[1]`` steps on a fresh copy of the cohort's true state."""
    learners = learners or Learners(world, cohort)
    rows = np.arange(cohort.size)
    initial = learners.mastery()
    on_mastered = np.zeros(cohort.size)
    correct_count = np.zeros(cohort.size)
    practised, listed = ReadinessClock(world, learners.mastered()), ReadinessClock(world, learners.mastered())
    for step in range(uniforms.shape[1]):
        items = policy.choose(step)
        mastered = learners.mastered()
        on_mastered += mastered[rows, world.item_skill[items]]
        practised.step(step, mastered, offered_mask(world, items[:, None]))
        shown = getattr(policy, "listed", None)  # (S, L) the whole list, for a policy that shows one
        listed.step(step, mastered, offered_mask(world, items[:, None] if shown is None else shown))
        correct = uniforms[:, step] < learners.p_correct(items)
        correct_count += correct
        policy.observe(step, items, correct)
        learners.step(items)
    steps = max(uniforms.shape[1], 1)
    return Run(policy.name, initial, learners.mastery(), on_mastered / steps, correct_count / steps,
               learners.mastered(), practised.result, listed.result)


def local_runs(world: World, cohort: Cohort, uniforms: np.ndarray, seed: int) -> dict[str, Run]:
    """The three local policies: random item, the mastery-gated curriculum, the oracle."""
    runs = {}
    for make in (lambda lr: RandomItem(world, cohort.size, seed + 11),
                 lambda lr: GatedCurriculum(world, cohort.size, seed + 12),
                 lambda lr: GreedyOracle(lr)):
        learners = Learners(world, cohort)
        run = run_policy(world, cohort, make(learners), uniforms, learners)
        runs[run.name] = run
    return runs


def run_setting(name: str, cfg: CheckConfig, workdir: Path) -> SettingOutcome:
    """World with learning peaking at ``SETTINGS[name]``, then the pipeline and all four policies."""
    peak = SETTINGS[name]
    world = make_world(WorldSpec(peak_success=peak), cfg.world_seed)
    cohort = make_cohort(world, cfg.students, cfg.seed + 2000, "stu")
    uniforms = np.random.default_rng(cfg.seed + 3000).random((cfg.students, cfg.steps))
    outcome = SettingOutcome(name, peak, cohort.group, local_runs(world, cohort, uniforms, cfg.seed))

    platform = Platform(workdir, cfg.code)
    workdir.mkdir(parents=True, exist_ok=True)
    catalog = write_catalog(world, workdir / "catalog")
    log = workdir / "log.csv"
    log_cohort = make_cohort(world, cfg.log_students, cfg.seed + 1000, "log")
    outcome.log_responses = write_random_practice_log(world, log_cohort, cfg.log_steps, cfg.seed + 4000, log)
    model_set = workdir / "model_set.json"
    outcome.build_summary = platform.build(catalog, log, model_set)
    (workdir / "model_build.txt").write_text(outcome.build_summary)
    if cfg.audit:
        outcome.audit_verdict, outcome.audit_summary = platform.audit(model_set)
        (workdir / "model_audit.txt").write_text(outcome.audit_summary)
    key = platform.create_key()
    start = LOG_START + (cfg.log_steps + 30) * STEP
    with Server(platform, model_set, outcome.audit_verdict) as server:
        outcome.readyz = server.readyz
        policy = EquilearnOverHTTP(world, cohort.student_ids, server.base_url, key, start, cfg.seed + 13,
                                   k=cfg.k, concurrency=cfg.concurrency)
        try:
            began = time.perf_counter()
            outcome.runs[policy.name] = run_policy(world, cohort, policy, uniforms)
            platform.timings["drive over HTTP"] = time.perf_counter() - began
            outcome.flags = policy.mastered_flags()
        finally:
            policy.close()
        outcome.served, outcome.friction = policy.stats, policy.friction
    outcome.timings = platform.timings
    return outcome
