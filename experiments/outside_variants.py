"""The outside world bent other ways: does the policy hold where the world differs from the outside check's?

The outside check (`experiments.outside_check`) varies one thing, the success rate at which learning peaks. An
independent simulator may differ in others. This runs the same world family (`experiments/outside_check/world.py`)
with one parameter moved at a time from the check's defaults (learning peaking at 65% success): more skills (a
wider graph, many skills ready at once), stronger or no prerequisite gating, five times the forgetting, slower
learners, twice the mis-tagged items, fewer items a skill, more unequal learning rates, a wider opportunity gap,
smaller logs to build from (150, 100 and 60 students) and a larger one (1,000), longer use (150 steps a student,
2.5 times the check's), multiple-choice items (a guessing floor of 0.25) and items
whose slopes differ (log-SD 0.5), both unknown to the catalog, a learning bump twice as wide (difficulty matters little)
or half as wide (it matters a lot), and a stricter line for a skill to count as truly mastered (90% success on its median item, not 80%), built
once as the pipeline builds by default and once with the platform telling the build its line (`model build
--mastery-success 0.9`, `BUILD_OPTIONS`). Each variant is drawn three times (`WORLD_SEEDS`: each world its own
graph, items, cohort and log; one world alone left a quartile's cell to the draw of that world) and the students
pooled, quartiles ranked within each world. In each world the variant runs the outside check's pipeline in process
(`experiments.outside_inproc`: the world writes its catalog and a random-practice log of other students, `model
build` makes the served set, equilearn is the built policy, online as the service runs it) against random items,
the mastery-gated curriculum and the oracle, paired on the same students and answer draws, and reports the issue's
claims: gain against every baseline, share of the oracle, the lowest quartile and group against the best baseline,
the final group gap against the curriculum's, steps on mastered skills, the share of readiness events listed within
5 steps, and the share of equilearn's mastered flags (at the end) on skills the world counts as truly mastered.

    .venv/bin/python -m experiments.outside_variants --out experiments/results/outside_variants.md

`--ability-share X` builds every variant's set with `model build --ability-share X` (the recommender reading that
share of the per-skill ability's view of mastery on practised skills; docs/engine.md, "Two views of mastery").

Development figures in process (same world code and build as the check over HTTP, not the check itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.outside_check.driver import Run
from experiments.outside_check.readiness import ReadyShare
from experiments.outside_check.stats import mean_ci, paired, quartiles
from experiments.outside_check.world import WorldSpec
from experiments.outside_inproc import run_spec

# name -> (WorldSpec changes from the defaults, log students): one thing moved at a time
VARIANTS: dict[str, tuple[dict[str, object], int]] = {
    "defaults (peak 65%)": ({}, 300),
    "30 skills": ({"n_skills": 30}, 300),
    "strong gating (3.0)": ({"gating": 3.0}, 300),
    "no gating": ({"gating": 0.0}, 300),
    "forgetting x5 (2.5%/step)": ({"forgetting": 0.025}, 300),
    "slow learners (rate / 2)": ({"rate_median": 0.15}, 300),
    "20% mis-tagged": ({"mistag_share": 0.20}, 300),
    "4-6 items a skill": ({"items_per_skill": (4, 6)}, 300),
    "unequal learners (rate log-SD 0.9)": ({"rate_spread": 0.9}, 300),
    "opportunity gap 1.6 logits": ({"opportunity_gap": 1.6}, 300),
    "log of 150 students": ({}, 150),
    "log of 100 students": ({}, 100),
    "log of 60 students (~24 answers an item, under the bank's 30)": ({}, 60),
    "log of 1,000 students": ({}, 1000),
    "150 steps a student (2.5 times the use)": ({}, 300),
    "multiple choice (guessing 0.25), the catalog silent on it": ({"guessing": 0.25}, 300),
    "unequal item slopes (log-SD 0.5), the catalog saying 1": ({"slope_sd": 0.5}, 300),
    "wide learning bump (SD 2 logits)": ({"peak_width": 2.0}, 300),
    "narrow learning bump (SD 0.5 logits)": ({"peak_width": 0.5}, 300),
    "mastery line at 90% success": ({"mastery_level": 0.9}, 300),
    "mastery line at 90%, the build told (--mastery-success 0.9)": ({"mastery_level": 0.9}, 300),
}
# variant -> options of `model build` (the platform's own settings): its line for "mastered"
BUILD_OPTIONS: dict[str, dict[str, object]] = {
    "mastery line at 90%, the build told (--mastery-success 0.9)": {"mastery_success": 0.9},
}
# variant -> steps per student served, where it is not the run's --steps
STEPS: dict[str, int] = {"150 steps a student (2.5 times the use)": 150}
BASELINES = ("random item", "gated curriculum")
LOG_STEPS = 60  # steps per student of the random-practice log, as the outside check writes it
WORLD_SEEDS = (7, 11, 13)  # three draws of the world (graph, items, cohort, log), students pooled


def run_variant(changes: dict[str, object], log_students: int, students: int, steps: int,
                world_seeds: Sequence[int], seed: int, build_options: dict[str, object] | None = None
                ) -> tuple[dict[str, Run], np.ndarray, np.ndarray, np.ndarray]:
    """Every policy on one variant, in each world of `world_seeds` (its own graph, items, cohort and log; equilearn's
    set built with `build_options`), paired on the same cohort and answer draws there, the worlds' students pooled:
    the runs, the students' groups, equilearn's mastered flags at the end (students x skills), and each student's
    prior-achievement quartile within their own world."""
    spec = dataclasses.replace(WorldSpec(), **changes)
    worlds = [run_spec(spec, students, steps, world_seed, seed, log_students, LOG_STEPS, build_options)
              for world_seed in world_seeds]
    runs = {name: pooled_run([w[0][name] for w in worlds]) for name in worlds[0][0]}
    quartile = np.concatenate([quartiles(w[0]["equilearn"].initial) for w in worlds])
    return runs, np.concatenate([w[1].group for w in worlds]), np.concatenate([w[2] for w in worlds]), quartile


def pooled_run(runs: Sequence[Run]) -> Run:
    """One policy's runs in several worlds as one run over all their students (readiness events summed)."""
    def share(field: str) -> ReadyShare:
        parts = [getattr(r, field) for r in runs]
        return ReadyShare(sum(p.hits for p in parts), sum(p.events for p in parts), sum(p.dips for p in parts))

    return Run(runs[0].name, *(np.concatenate([getattr(r, f) for r in runs])
                               for f in ("initial", "final", "on_mastered", "correct_rate", "final_mastered")),
               share("ready_practised"), share("ready_listed"))


def claims(runs: dict[str, Run], group: np.ndarray, flags: np.ndarray, quartile: np.ndarray) -> dict[str, object]:
    """The issue's claims on one variant (module docstring), as numbers; `quartile`: each student's prior-achievement
    quartile (0-3)."""
    ours = runs["equilearn"]
    best = max(BASELINES, key=lambda name: runs[name].gain.mean())
    q = quartile
    cells = [paired(ours.gain[m], runs[best].gain[m]) for m in
             [q == k for k in range(4)] + [group == g for g in (0, 1)]]
    gap = {name: float(runs[name].final[group == 0].mean() - runs[name].final[group == 1].mean())
           for name in ("equilearn", "gated curriculum")}
    oracle = runs["oracle"].gain.mean()
    return {"gains": {name: mean_ci(run.gain) for name, run in runs.items()},
            "versus": {name: paired(ours.gain, runs[name].gain) for name in BASELINES},
            "best": best, "share": float(ours.gain.mean() / oracle) if oracle > 0 else float("nan"),
            "lowest_cell": min(cells, key=lambda e: e.low), "gap": gap,
            "on_mastered": float(ours.on_mastered.mean()), "oracle_on_mastered": float(runs["oracle"].on_mastered.mean()),
            "listed": ours.ready_listed,
            "flags": int(flags.sum()), "flags_right": int((flags & ours.final_mastered).sum())}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def markdown(results: dict[str, dict[str, object]], command: str, load: float, seconds: float,
             world_seeds: Sequence[int], students: int) -> str:
    lines = ["# The outside world bent other ways (in process)", "",
             f"Command: `{command}` ({seconds / 60:.0f} min; load average at the start {load:.2f}). What it runs and why: "
             "the module docstring of `experiments/outside_variants.py`.", "",
             f"Each variant: {len(world_seeds)} world(s) (seeds {', '.join(map(str, world_seeds))}: each its own graph, "
             f"items, cohort and log) x {students} students, pooled; quartiles within each world; paired differences "
             "per student with t-intervals.", "",
             "| variant | random item | gated curriculum | equilearn | oracle | equilearn - best baseline | share of oracle "
             "| lowest quartile or group - best baseline | final gap ours / curriculum | steps on mastered, ours / oracle "
             "| listed within 5 steps | mastered flags truly mastered |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        g, best = r["gains"], r["best"]
        listed = r["listed"]
        lines.append(
            f"| {name} | {g['random item'].mean:.3f} | {g['gated curriculum'].mean:.3f} | {g['equilearn'].mean:.3f} | "
            f"{g['oracle'].mean:.3f} | {r['versus'][best].text(signed=True)} ({best}) | {r['share']:.0%} | "
            f"{r['lowest_cell'].text(signed=True)} | {r['gap']['equilearn']:.3f} / {r['gap']['gated curriculum']:.3f} | "
            f"{r['on_mastered']:.0%} / {r['oracle_on_mastered']:.0%} | {listed.share:.1%} of {listed.events} | "
            f"{_share(r['flags_right'], r['flags'])} of {r['flags']} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--world-seeds", type=int, nargs="+", default=list(WORLD_SEEDS),
                    help="worlds to pool (each its own graph, items, cohort and log)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--ability-share", type=float, default=0.0, help="every set built with model build --ability-share X")
    args = ap.parse_args()
    shared = {"ability_share": args.ability_share} if args.ability_share else {}
    load, began = os.getloadavg()[0], time.perf_counter()
    results = {}
    for name in args.variants:
        changes, log_students = VARIANTS[name]
        results[name] = claims(*run_variant(changes, log_students, args.students, STEPS.get(name, args.steps),
                                            args.world_seeds, args.seed, {**BUILD_OPTIONS.get(name, {}), **shared}))
        print(f"[outside_variants] {name}: done", flush=True)
    command = (".venv/bin/python -m experiments.outside_variants" + ("" if args.out is None else f" --out {args.out}")
               + (f" --ability-share {args.ability_share:g}" if args.ability_share else ""))
    text = markdown(results, command, load, time.perf_counter() - began, args.world_seeds, args.students)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
