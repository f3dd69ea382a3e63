"""Compare policies over seeds: normalized gain with 95% CIs, by group and prior-achievement quartile,
final gap between the highest- and lowest-opportunity groups, advanced offers when ready, steps to mastery.

Normalized gain is Hake's g on means of true mastery (mean over skills, then over students):
g = (mean final - mean initial) / (1 - mean initial). It is computed per seed (and per subgroup or
quartile within a seed); the CI is the t-interval over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.catalog import Catalog
from engine.errors import ConfigError
from engine.recommend import RecommenderConfig
from engine.simulate.learners import SIMULATORS
from engine.simulate.policies import POLICIES
from engine.simulate.runner import RunResult, run_policy
from engine.simulate.world import DEFAULT_GROUPS, GroupSpec, make_world

QUARTILES = ("Q1", "Q2", "Q3", "Q4")


def normalized_gain(initial: np.ndarray, final: np.ndarray) -> float:
    """Hake's g on means; NaN for an empty selection or when everything was already mastered."""
    if initial.size == 0:
        return math.nan
    start = float(initial.mean())
    return math.nan if start >= 1.0 else (float(final.mean()) - start) / (1.0 - start)


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-interval over seeds (the interval collapses to the mean for a single seed)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if x.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - half, m + half


def prior_quartile(initial: np.ndarray) -> np.ndarray:
    """(N,) quartile index 0..3 of prior achievement (by rank, ties in student order)."""
    rank = np.argsort(np.argsort(initial, kind="stable"), kind="stable")
    return rank * 4 // initial.size


@dataclass(frozen=True)
class SeedMetrics:
    gain: float
    by_group: dict[str, float]
    by_quartile: dict[str, float]
    final_gap: float
    advanced: float
    advanced_by_group: dict[str, float]
    steps_to_mastery: float


def seed_metrics(run: RunResult, highest: str, lowest: str) -> SeedMetrics:
    names = np.array(run.group_names)[run.group]
    q = prior_quartile(run.initial)
    ready = run.ever_ready
    adv = float(run.offered_when_ready.sum() / ready.sum()) if ready.any() else math.nan
    adv_g = {g: float(run.offered_when_ready[(names == g) & ready].sum() / max(((names == g) & ready).sum(), 1))
             for g in run.group_names}
    mastered = int(run.newly_mastered.sum())
    return SeedMetrics(
        gain=normalized_gain(run.initial, run.final),
        by_group={g: normalized_gain(run.initial[names == g], run.final[names == g]) for g in run.group_names},
        by_quartile={QUARTILES[k]: normalized_gain(run.initial[q == k], run.final[q == k]) for k in range(4)},
        final_gap=float(run.final[names == highest].mean() - run.final[names == lowest].mean()),
        advanced=adv,
        advanced_by_group=adv_g,
        steps_to_mastery=run.steps * run.initial.size / mastered if mastered else math.inf,
    )


def _summary(per_seed: list[SeedMetrics], runs: list[RunResult]) -> dict[str, object]:
    gain, lo, hi = mean_ci([m.gain for m in per_seed])
    gap, gap_lo, gap_hi = mean_ci([m.final_gap for m in per_seed])
    groups = list(per_seed[0].by_group)

    def avg(values: list[float]) -> float:
        return float(np.mean(values))

    return {
        "gain": {"mean": gain, "ci": [lo, hi]},
        "gain_by_group": {g: avg([m.by_group[g] for m in per_seed]) for g in groups},
        "gain_by_quartile": {q: avg([m.by_quartile[q] for m in per_seed]) for q in QUARTILES},
        "final_gap": gap,
        "advanced_offered_when_ready": avg([m.advanced for m in per_seed]),
        "steps_to_mastery": avg([m.steps_to_mastery for m in per_seed]),
        "final_gap_ci": [gap_lo, gap_hi],
        "gain_by_group_ci": {g: list(mean_ci([m.by_group[g] for m in per_seed])[1:]) for g in groups},
        "gain_by_quartile_ci": {q: list(mean_ci([m.by_quartile[q] for m in per_seed])[1:]) for q in QUARTILES},
        "advanced_offered_when_ready_by_group": {g: avg([m.advanced_by_group[g] for m in per_seed]) for g in groups},
        "gain_per_seed": [m.gain for m in per_seed],
        "seconds": float(sum(r.seconds for r in runs)),
    }


def compare_policies(catalog: Catalog, policies: list[str], simulator: str, students: int, steps: int,
                     seeds: list[int], groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS,
                     config: RecommenderConfig | None = None,
                     on_step: Callable[[str], None] | None = None) -> dict[str, object]:
    """Run every policy on the same worlds (one per seed) and summarize (the `equilearn simulate` JSON);
    `on_step(label)` is called after each simulated step of each run (progress reports, see `run_policy`)."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise ConfigError(f"unknown or missing policies {unknown}; choose from {', '.join(POLICIES)}")
    if simulator not in SIMULATORS:
        raise ConfigError(f"unknown simulator {simulator!r}; choose from {', '.join(SIMULATORS)}")
    if not seeds:
        raise ConfigError("give at least one seed")
    runs: dict[str, list[RunResult]] = {p: [] for p in policies}
    highest = lowest = ""
    for seed in seeds:
        world = make_world(catalog, students, seed, groups)
        highest, lowest = world.highest_and_lowest()
        for policy in policies:
            runs[policy].append(run_policy(world, simulator, policy, steps, config=config, on_step=on_step))
    return {
        "simulator": simulator,
        "students": students,
        "steps": steps,
        "seeds": list(seeds),
        "catalog": f"{catalog.name}/v{catalog.version}",
        "groups": {g.name: {"share": g.share, "opportunity_shift": g.opportunity_shift} for g in groups},
        "highest_opportunity_group": highest,
        "lowest_opportunity_group": lowest,
        "gain_definition": "Hake's g on means of true mastery: (final - initial) / (1 - initial), per seed; CI = t-interval over seeds",
        "policies": {p: _summary([seed_metrics(r, highest, lowest) for r in rs], rs) for p, rs in runs.items()},
    }
