"""The learner-model suite: settings of several simulator families on which every policy is judged.

A policy that only wins where the world shares its assumptions is not evidence of anything, so the suite
spans four families with parameters that vary (`SETTINGS`): binary BKT, the exponential learning curve,
continuous proficiency whose learning peaks at a success rate from 40% to 85% (with prerequisite gating,
heterogeneous rates and forgetting), and misspecified worlds whose catalog mis-tags 15-20% of the items
and misstates every difficulty. Every setting has groups that differ only in starting opportunity.

Results are paired: all policies run on the same students of the same worlds (one world per seed), so a
difference between two policies is taken student by student (`paired`), with a t-interval over students.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import polars as pl
from scipy import stats

from engine.catalog import Catalog
from engine.errors import ConfigError
from engine.mastery import MasteryEngine
from engine.modelbuild import build_model_set
from engine.recommend import RecommenderConfig
from engine.recommend.learning import DifficultyProgress
from engine.recommend.resource_value import RESOURCE_COLUMN
from engine.runtime.modelset import build_policy
from engine.simulate.learners import BKTLearners, CurveLearners, _Learners
from engine.simulate.policies import random_items
from engine.simulate.proficiency import ProficiencyLearners
from engine.simulate.report import QUARTILES, prior_quartile
from engine.simulate.runner import READY_WINDOW, RunResult, run_policy
from engine.simulate.world import DEFAULT_GROUPS, GroupSpec, World, make_world, misspecify

FAMILIES: Mapping[str, type[_Learners]] = MappingProxyType(
    {"bkt": BKTLearners, "curve": CurveLearners, "proficiency": ProficiencyLearners})
ORACLE = "oracle"
OURS = "equilearn"
POSTERIOR = "posterior"  # a reference that knows the world's model (engine.simulate.posterior), not a baseline
REFERENCES = (ORACLE, POSTERIOR)


@dataclass(frozen=True)
class Setting:
    """One simulated world: a family with its parameters, and optionally a misspecified catalog."""

    name: str
    family: str
    params: Mapping[str, float] = field(default_factory=dict)
    mistag_share: float = 0.0
    b_sd: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"setting {self.name!r}: unknown family {self.family!r}; choose from {', '.join(FAMILIES)}")

    def world(self, catalog: Catalog, students: int, seed: int, groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS) -> World:
        world = make_world(catalog, students, seed, groups)
        return misspecify(world, self.mistag_share, self.b_sd) if self.mistag_share or self.b_sd else world

    def learners(self, world: World) -> _Learners:
        return FAMILIES[self.family](world, **self.params)


SETTINGS: tuple[Setting, ...] = (
    Setting("bkt", "bkt", {}, description="binary BKT: resources and practice teach with a probability; guess/slip answers"),
    Setting("bkt-forgetful", "bkt", {"base_learn": 0.2, "forget": 0.01},
            description="binary BKT, slower learning and five times the forgetting"),
    Setting("curve", "curve", {}, description="exponential learning curve per skill, 3PL answers, practice best at middling difficulty"),
    Setting("curve-practice", "curve", {"rate_scale": 0.1, "item_rate": 0.3, "decay": 0.005},
            description="learning curve where practice teaches more than resources, with more forgetting"),
    Setting("proficiency-peak40", "proficiency", {"peak_success": 0.40, "gating": 1.0, "resource_weight": 0.0, "rate_sd": 0.5},
            description="continuous proficiency, learning peaks at 40% success, only practice teaches"),
    Setting("proficiency-peak60", "proficiency", {"peak_success": 0.60, "gating": 2.0, "resource_weight": 0.5},
            description="learning peaks at 60% success, strong prerequisite gating, resources teach too"),
    Setting("proficiency-peak75", "proficiency", {"peak_success": 0.75, "gating": 1.0, "resource_weight": 0.0, "forgetting": 0.0025},
            description="learning peaks at 75% success, only practice teaches, 2.5 times the forgetting"),
    Setting("proficiency-peak85", "proficiency", {"peak_success": 0.85, "gating": 0.5, "resource_weight": 0.3, "rate_sd": 0.6},
            description="learning peaks at 85% success, weak gating, very unequal learning rates"),
    Setting("misspecified-15", "proficiency", {"peak_success": 0.55, "gating": 1.0, "resource_weight": 0.0},
            mistag_share=0.15, b_sd=0.5, description="15% of items tagged to the wrong skill, difficulties off by N(0, 0.5)"),
    Setting("misspecified-20", "proficiency", {"peak_success": 0.70, "gating": 1.5, "resource_weight": 0.5},
            mistag_share=0.20, b_sd=0.8, description="20% mis-tagged, difficulties off by N(0, 0.8), resources teach"),
)


def random_practice_log(setting: Setting, catalog: Catalog, students: int, steps: int, seed: int,
                        groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS, content: World | None = None,
                        resources: bool = False) -> pl.DataFrame:
    """A canonical response log of other students (a world drawn with another seed) practising at random: a
    random resource and a random item of its skill each step (one step a day, timestamped), as a platform's log
    before any policy. `content`: the world whose items and resources they use (`same_content`), the platform's
    that the log is built for; None: those drawn with `seed`. `resources`: the log records the resource behind each
    answer (`resource_id`), from which the build measures what each resource teaches."""
    world = setting.world(catalog, students, seed, groups)
    if content is not None:
        world = same_content(world, content)
    learners = setting.learners(world)
    rng = np.random.default_rng([seed, 505])
    ids = np.array([f"log{seed}-{i:05d}" for i in range(students)])
    frames = []
    for t in range(steps):
        used = rng.integers(0, catalog.n_resources, students)
        items = random_items(catalog, catalog.resource_skill[used], rng)
        correct = learners.step(used, items, rng)
        frames.append(pl.DataFrame({"student_id": ids, "item_id": np.array(catalog.item_ids)[items],
                                    "correct": correct, "seq": np.full(students, t, dtype=np.int64),
                                    **({RESOURCE_COLUMN: np.array(catalog.resource_ids)[used]} if resources else {})}))
    return one_step_a_day(pl.concat(frames))


def one_step_a_day(log: pl.DataFrame) -> pl.DataFrame:
    """`log` with a `timestamp` of one step a day from the epoch by its `seq`: the simulation's clock (run_policy's
    `now` is the step), as a platform's log would carry it."""
    day = pl.duration(days=pl.col("seq"))
    return log.with_columns((pl.datetime(1970, 1, 1, time_zone="UTC") + day).dt.cast_time_unit("us").alias("timestamp"))


def same_content(students: World, content: World) -> World:
    """`students` on the items and resources of `content`: its true item tags and parameters (a misspecified
    world's mis-tags and difficulties) and its resources' hidden quality. Those belong to the platform's content,
    not to a cohort, so a log of earlier students and the students served after it meet the same ones."""
    if students.catalog is not content.catalog:
        raise ConfigError("the log's students and the content must share one catalog")
    return dataclasses.replace(students, quality=content.quality, truth=content.truth)


def built_policy(catalog: Catalog, log: pl.DataFrame, seed: int) -> tuple[MasteryEngine, DifficultyProgress | None]:
    """The mastery engine and learned statistics that `equilearn model build` makes from `log` (what a
    platform serves after building from its own log)."""
    model_set, _ = build_model_set(catalog, log, predictor="auto", seed=seed)
    engine, recommender = build_policy(catalog, model_set.components)
    return engine, recommender.progress


def setting_by_name(name: str) -> Setting:
    for s in SETTINGS:
        if s.name == name:
            return s
    raise ConfigError(f"unknown suite setting {name!r}; choose from {', '.join(s.name for s in SETTINGS)}")


def gain_contributions(run: RunResult) -> np.ndarray:
    """(N,) per student (final - initial) / (1 - mean initial mastery of the run): their mean is the run's
    normalized gain on means, and their difference between two runs on the same students is paired."""
    return (run.final - run.initial) / max(1.0 - float(run.initial.mean()), 1e-9)


def _t_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-interval of the mean (collapses for fewer than 2 values)."""
    m = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - half, m + half


@dataclass(frozen=True)
class _Pooled:
    """Per-student arrays pooled over seeds (same students in the same order for every policy)."""

    initial: np.ndarray
    final: np.ndarray
    group: np.ndarray  # group names
    quartile: np.ndarray
    seed: np.ndarray


def _pool(runs: list[RunResult]) -> _Pooled:
    return _Pooled(
        initial=np.concatenate([r.initial for r in runs]), final=np.concatenate([r.final for r in runs]),
        group=np.concatenate([np.array(r.group_names)[r.group] for r in runs]),
        quartile=np.concatenate([prior_quartile(r.initial) for r in runs]),
        seed=np.concatenate([np.full(r.initial.size, r.seed) for r in runs]),
    )


def _contributions(p: _Pooled, subset: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-student `values` divided by (1 - mean initial mastery of the subset within its seed): their mean
    over the subset is Hake's normalized gain on means when values = final - initial."""
    out = np.empty(int(subset.sum()))
    seeds = p.seed[subset]
    init = p.initial[subset]
    for s in np.unique(seeds):
        here = seeds == s
        out[here] = values[subset][here] / max(1.0 - float(init[here].mean()), 1e-9)
    return out


def _gain(p: _Pooled, subset: np.ndarray) -> dict[str, float]:
    m, lo, hi = _t_ci(_contributions(p, subset, p.final - p.initial))
    return {"mean": m, "ci": [lo, hi]}


def _paired(a: _Pooled, b: _Pooled, subset: np.ndarray) -> dict[str, float]:
    """a's normalized gain minus b's on the same students, with a paired t-interval."""
    m, lo, hi = _t_ci(_contributions(a, subset, a.final - b.final))
    return {"mean": m, "ci": [lo, hi]}


def gap_difference(a: list[RunResult], b: list[RunResult], highest: str, lowest: str, level: float = 0.95) -> dict[str, object]:
    """a's final gap (highest- minus lowest-opportunity group's mean final mastery) minus b's, on the same students
    per seed, with a normal interval: per seed the difference is mean_high(d) - mean_low(d), d = a's final minus
    b's per student, whose variance is var_high(d) / n_high + var_low(d) / n_low; seeds are averaged."""
    means, variances = [], []
    for ra, rb in zip(a, b, strict=True):
        names = np.array(ra.group_names)[ra.group]
        d = ra.final - rb.final
        hi, lo = d[names == highest], d[names == lowest]
        means.append(hi.mean() - lo.mean())
        variances.append(hi.var(ddof=1) / hi.size + lo.var(ddof=1) / lo.size)
    m, half = float(np.mean(means)), float(stats.norm.ppf(0.5 + level / 2) * math.sqrt(sum(variances)) / len(means))
    return {"mean": m, "ci": [m - half, m + half]}


def summarize_setting(setting: Setting, runs: dict[str, list[RunResult]], highest: str, lowest: str,
                      paired_from: tuple[str, ...] = (OURS,)) -> dict[str, object]:
    """Gains, paired differences (of each policy in `paired_from` minus every other), equity and practice figures of
    every policy on one setting. The best baseline is the best policy that is neither ours nor a reference."""
    pooled = {name: _pool(rs) for name, rs in runs.items()}
    any_pool = next(iter(pooled.values()))
    everyone = np.ones(any_pool.initial.size, dtype=bool)
    groups = sorted(set(any_pool.group.tolist()))
    subsets = {"all": everyone, **{f"group:{g}": any_pool.group == g for g in groups},
               **{f"quartile:{QUARTILES[k]}": any_pool.quartile == k for k in range(4)}}
    oracle_gain = _gain(pooled[ORACLE], everyone)["mean"] if ORACLE in pooled else math.nan
    baselines = [n for n in pooled if n != OURS and n not in REFERENCES]
    best = max(baselines, key=lambda n: _gain(pooled[n], everyone)["mean"]) if baselines else None
    out: dict[str, object] = {"setting": setting.name, "family": setting.family, "params": dict(setting.params),
                              "mistag_share": setting.mistag_share, "b_sd": setting.b_sd,
                              "description": setting.description, "best_baseline": best, "policies": {}}
    for name, p in pooled.items():
        rs = runs[name]
        gains = {key: _gain(p, sub) for key, sub in subsets.items()}
        steps = rs[0].steps
        delays = np.concatenate([r.ready_delays for r in rs])
        missed = sum(r.ready_missed for r in rs)
        flagged = np.concatenate([r.flagged_mastered.ravel() for r in rs])
        truly = np.concatenate([r.truly_mastered.ravel() for r in rs])
        sd10 = np.concatenate([r.theta_sd_after for r in rs])
        final_gap = float(np.mean([r.final[np.array(r.group_names)[r.group] == highest].mean()
                                   - r.final[np.array(r.group_names)[r.group] == lowest].mean() for r in rs]))
        entry: dict[str, object] = {
            "gain": gains["all"],
            "share_of_oracle": gains["all"]["mean"] / oracle_gain if oracle_gain and math.isfinite(oracle_gain) else math.nan,
            "gain_by_group": {g: gains[f"group:{g}"] for g in groups},
            "gain_by_quartile": {q: gains[f"quartile:{q}"] for q in QUARTILES},
            "final_gap": final_gap,
            "over_practice": float(np.concatenate([r.over_practice for r in rs]).sum() / (p.initial.size * steps)),
            "mastered_precision": float((flagged & truly).sum() / flagged.sum()) if flagged.any() else math.nan,
            "mastered_flags": int(flagged.sum()),
            "mastered_precision_ci": flag_precision_ci(int((flagged & truly).sum()), int(flagged.sum())),
            "mastered_flagged_share": float(flagged.mean()),
            "truly_mastered_share": float(truly.mean()),
            "theta_sd_after_10": {"mean": float(np.nanmean(sd10)), "p90": float(np.nanpercentile(sd10, 90))} if np.isfinite(sd10).any() else None,
            f"ready_offered_within_{READY_WINDOW}": _within(delays, missed),
            "seconds": float(sum(r.seconds for r in rs)),
        }
        if all(r.ready_listed_delays is not None for r in rs):  # the policy makes lists: a skill in the list is offered
            listed_missed = sum(r.ready_listed_missed for r in rs)
            entry[f"ready_listed_within_{READY_WINDOW}"] = _within(np.concatenate([r.ready_listed_delays for r in rs]),
                                                                   listed_missed)
            # of those misses, skills the student had mastered and just lost to forgetting (not newly unlocked)
            entry["ready_listed_misses_dips"] = sum(r.ready_listed_missed_dips for r in rs) / listed_missed \
                if listed_missed else math.nan
        if name in paired_from:
            entry["minus"] = {other: {key: _paired(p, pooled[other], sub) for key, sub in subsets.items()}
                              for other in pooled if other != name}
            entry["final_gap_minus"] = {other: gap_difference(rs, runs[other], highest, lowest)
                                        for other in pooled if other != name}
        out["policies"][name] = entry  # type: ignore[index]
    return out


def run_suite(catalog: Catalog, policies: list[str], settings: list[Setting] | None = None, students: int = 300,
              steps: int = 60, seeds: list[int] | None = None, groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS,
              config: RecommenderConfig | None = None, progress=None, build_log_students: int = 0,  # noqa: ANN001
              on_step: Callable[[str], None] | None = None, paired_from: tuple[str, ...] = (OURS,),
              particles: int = 50, log_resources: bool = True) -> dict[str, object]:
    """Every policy on every setting, on the same students (one world per seed); `paired_from`: the policies whose
    paired differences against every other are reported; `particles`: the posterior reference's. `progress(text)` is
    called after each run when given, `on_step(label)` after each simulated step of each run. With `build_log_students` > 0, equilearn serves a model set built by
    `equilearn model build` from a random-practice log of that many other students of the same setting
    (as a platform would; `log_resources`: the log records the resource behind each answer, as a platform's does, and
    the platform then names it on each answer event too, so the engine's states take what the resource taught);
    otherwise it starts from the catalog's defaults and learns online only."""
    settings = list(settings or SETTINGS)
    seeds = list(seeds or [1])
    results = []
    for setting in settings:
        runs: dict[str, list[RunResult]] = {p: [] for p in policies}
        highest = lowest = ""
        for seed in seeds:
            world = setting.world(catalog, students, seed, groups)
            highest, lowest = world.highest_and_lowest()
            engine, learned = None, None
            if build_log_students and OURS in policies:
                log = random_practice_log(setting, catalog, build_log_students, steps, seed + 10_000, groups, content=world,
                                          resources=log_resources)
                engine, learned = built_policy(catalog, log, seed)
            for policy in policies:
                own = policy == OURS
                runs[policy].append(run_policy(world, setting, policy, steps, config=config,
                                               engine=engine if own else None, progress=learned if own else None,
                                               on_step=on_step, particles=particles,
                                               engine_sees_resources=own and bool(build_log_students) and log_resources))
                if progress is not None:
                    progress(f"{setting.name} seed {seed} {policy}: {runs[policy][-1].seconds:.1f} s")
        results.append(summarize_setting(setting, runs, highest, lowest, paired_from))
    return {"catalog": f"{catalog.name}/v{catalog.version}", "students": students, "steps": steps, "seeds": seeds,
            "built_from_log_of": build_log_students, "log_records_resources": bool(build_log_students and log_resources),
            "gain_definition": "Hake's g on means of true mastery, per student contribution (final - initial) / "
                               "(1 - mean initial) pooled over seeds; paired differences on the same students, t-intervals",
            "settings": results}


def flag_precision_ci(right: int, flags: int, level: float = 0.95) -> list[float]:
    """Wilson interval of the share of `flags` mastered flags that are right (`right`): the issue's 80% line is
    read against it, since a world where the engine sets few flags says little about their precision."""
    if flags == 0:
        return [math.nan, math.nan]
    ci = stats.binomtest(right, flags).proportion_ci(confidence_level=level, method="wilson")
    return [float(ci.low), float(ci.high)]


def _within(delays: np.ndarray, missed: int) -> float:
    """Share of (student, skill) readiness events met within READY_WINDOW steps (`missed`: never met in time)."""
    total = delays.size + missed
    return float((delays < READY_WINDOW).sum() / total) if total else math.nan


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def suite_markdown(result: dict[str, object]) -> str:
    """One table per setting: gain [CI], share of the oracle, ours minus each policy (paired CI), by group and
    quartile, over-practice, precision of the mastered flag."""
    lines: list[str] = []
    for s in result["settings"]:  # type: ignore[union-attr]
        pols = s["policies"]
        groups = list(next(iter(pols.values()))["gain_by_group"])
        lines += [f"#### {s['setting']} ({s['family']}): {s['description']}", "",
                  "| policy | gain [95% CI] | share of oracle | " + " | ".join(groups) + " | Q1 | Q4 | final gap | "
                  "steps on mastered skills | mastered flag right | ours minus it [95% CI] |",
                  "|---|---|---|" + "---|" * len(groups) + "---|---|---|---|---|---|"]
        ours = pols.get(OURS, {}).get("minus", {})
        for name, e in pols.items():
            g = e["gain"]
            diff = ours.get(name, {}).get("all")
            diff_text = f"{diff['mean']:+.3f} [{diff['ci'][0]:+.3f}, {diff['ci'][1]:+.3f}]" if diff else ""
            lines.append(f"| {name} | {_fmt(g['mean'])} [{_fmt(g['ci'][0])}, {_fmt(g['ci'][1])}] | {_fmt(e['share_of_oracle'])} | "
                         + " | ".join(_fmt(e["gain_by_group"][k]["mean"]) for k in groups)
                         + f" | {_fmt(e['gain_by_quartile']['Q1']['mean'])} | {_fmt(e['gain_by_quartile']['Q4']['mean'])}"
                         f" | {_fmt(e['final_gap'])} | {_fmt(e['over_practice'])} | {_fmt(e['mastered_precision'])} | {diff_text} |")
        lines.append("")
    return "\n".join(lines)
