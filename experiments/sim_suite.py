"""The learner-model suite, both ways a platform starts -> experiments/results/suite.md (+ JSON).

    .venv/bin/python -m experiments.sim_suite [--students 300 --steps 60 --seeds 2 --log-students 300] [--ability-share 0.25]

Runs `equilearn simulate --suite` twice on every setting of `engine.simulate.suite.SETTINGS`: (a) equilearn
on the catalog's defaults, learning online only; (b) equilearn serving a model set built by `equilearn model
build` from a random-practice log of `--log-students` other students of the same setting, recording the resource behind
each answer (what the independent check does, with a platform's log). Baselines and the oracle are the same in both.
Writes the acceptance view (ours minus the best non-oracle baseline with a paired interval, share of the oracle, the
lowest paired bound over groups and quartiles, wasted practice, precision of the mastered flag, the final gap against
the gated curriculum) and the full tables per setting. `--ability-share X` serves equilearn with that reading of mastery
(`RecommenderConfig.ability_share`, what `model build --ability-share` sets) and writes
experiments/results/suite_ability_share_X.md (+ JSON) instead; a log size other than 300 adds `_logN` to the file names
(`--log-students 1000`: experiments/results/suite_log1000.md), beside the default's, and runs only (b): the online start
has no log.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

from engine.catalog import load_catalog
from engine.recommend import RecommenderConfig
from engine.cli.output import _clean
from engine.simulate.suite import SETTINGS, run_suite, suite_markdown
from experiments.suite_cli import DEFAULT_LOG_STUDENTS, suite_parser

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
POLICIES = ["equilearn", "random", "gated-curriculum", "zpdes", "oracle"]


def _flags(entry: dict) -> str:
    """Precision of the mastered flag with its Wilson interval and the number of flags."""
    lo, hi = entry["mastered_precision_ci"]
    return f"{entry['mastered_precision']:.2f} [{lo:.2f}, {hi:.2f}] of {entry['mastered_flags']}"


def _gap(entry: dict, other: str = "gated-curriculum") -> str:
    """Our final gap minus `other`'s on the same students, with its 95% interval."""
    d = entry["final_gap_minus"][other]
    return f"{d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"


def acceptance_rows(result: dict) -> list[str]:
    rows = ["| setting | equilearn | best baseline | ours minus best [95% CI] | share of oracle | lowest bound, groups | "
            "lowest bound, quartiles | wasted steps | ready skill practised / listed within 5 steps (listed misses: dips) | "
            "mastered flag right [95% CI] of flags | "
            "final gap ours / gated, difference [95% CI] | final gap oracle, ours minus it [95% CI] |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in result["settings"]:
        pol = s["policies"]
        ours, best = pol["equilearn"], s["best_baseline"]
        d = ours["minus"][best]
        groups = min(d[k]["ci"][0] for k in d if k.startswith("group:"))
        quartiles = min(d[k]["ci"][0] for k in d if k.startswith("quartile:"))
        rows.append(f"| {s['setting']} | {ours['gain']['mean']:.3f} | {best} {pol[best]['gain']['mean']:.3f} | "
                    f"{d['all']['mean']:+.3f} [{d['all']['ci'][0]:+.3f}, {d['all']['ci'][1]:+.3f}] | {ours['share_of_oracle']:.2f} | "
                    f"{groups:+.3f} | {quartiles:+.3f} | {ours['over_practice']:.2f} | "
                    f"{ours['ready_offered_within_5']:.2f} / {ours.get('ready_listed_within_5', math.nan):.2f} "
                    f"({ours.get('ready_listed_misses_dips', math.nan):.0%}) | {_flags(ours)} | "
                    f"{ours['final_gap']:.3f} / {pol['gated-curriculum']['final_gap']:.3f}, {_gap(ours)} | "
                    f"{pol['oracle']['final_gap']:.3f}, {_gap(ours, 'oracle')} |")
    return rows


def output_plan(ability_share: float, log_students: int) -> tuple[str, list[tuple[str, int]]]:
    """The results' file stem and the runs to make, (label, log students): the online start (no log) and the set built
    from `log_students`; `_ability_share_X` and `_logN` in the stem when those differ from what is served by default. The
    online start does not depend on the log, so a run with another log size leaves it to the default's files."""
    stem = f"suite_ability_share_{ability_share:g}" if ability_share else "suite"
    if log_students != DEFAULT_LOG_STUDENTS:
        stem += f"_log{log_students}"
    online = [("online", 0)] if log_students == DEFAULT_LOG_STUDENTS else []
    return stem, online + [("built", log_students)]


def main() -> None:
    parser = suite_parser(__doc__)
    parser.add_argument("--ability-share", type=float, default=0.0,
                        help="equilearn's RecommenderConfig.ability_share (default 0, as served by default)")
    args = parser.parse_args()
    config = RecommenderConfig(ability_share=args.ability_share)
    stem, labels = output_plan(args.ability_share, args.log_students)
    catalog = load_catalog(None)
    load_before = os.getloadavg()
    started = time.perf_counter()
    runs = {}
    for label, log in labels:
        runs[label] = run_suite(catalog, POLICIES, list(SETTINGS), args.students, args.steps, list(range(1, args.seeds + 1)),
                                config=config, build_log_students=log)
        (RESULTS / f"{stem}_{label}.json").write_text(json.dumps(_clean(runs[label]), indent=1) + "\n")
    minutes = (time.perf_counter() - started) / 60
    command = (f".venv/bin/python -m experiments.sim_suite --students {args.students} --steps {args.steps} "
               f"--seeds {args.seeds} --log-students {args.log_students}"
               + (f" --ability-share {args.ability_share:g}" if args.ability_share else ""))
    lines = [
        "# Recommendation policies on the learner-model suite",
        "",
        f"Command: `{command}` ({minutes:.0f} min; {platform.machine()}, {os.cpu_count()} shared cores, load average "
        f"before {', '.join(f'{x:.2f}' for x in load_before)}). Full results: "
        + ", ".join(f"`{'experiments/results/' if k == 0 else ''}{stem}_{label}.json`" for k, (label, _) in enumerate(labels))
        + ". Settings and measures: docs/engine.md, \"The learner-model suite\"."
        + ("" if "online" in runs else
           f" The online start (no log) is in `{output_plan(args.ability_share, DEFAULT_LOG_STUDENTS)[0]}.md`."),
        "",
        f"{args.students} students x {args.steps} steps x {args.seeds} seeds per setting; every policy on the same students; "
        "gain = Hake's normalized gain of true mastery; differences are paired per student with t-intervals. "
        "\"Lowest bound\" is the lowest lower 95% bound of ours minus the best baseline over groups (resp. prior-achievement "
        "quartiles): below 0 means the claim \"no group gains less\" is not shown there. \"Wasted steps\": share of steps "
        "whose every skill was already truly mastered while the student was ready for something new. \"Ready skill "
        "practised / listed within 5 steps\": of the times a student became ready for a skill (its direct prerequisites "
        "truly mastered, itself not), the share where the student practised it (the first recommendation, which the "
        "simulated student takes) / where it was in the list of 5 recommendations, within 5 steps; in brackets, the share "
        "of the listed misses that were dips: a skill the student had truly mastered the step before and lost to "
        "forgetting just below the line (its prerequisites did not change). \"Mastered flag "
        "right\": share of the engine's mastered flags that are truly mastered at the end, with its Wilson 95% interval "
        "and the number of flags (students x skills, both seeds).",
        "",
    ]
    for label, text in (("online", "## Equilearn on the catalog's defaults, learning online"),
                        ("built", "## Equilearn serving a set built by `model build` from a random-practice log of "
                                  f"{args.log_students} other students (the log records the resource behind each answer)")):
        if label in runs:
            lines += [text, "", *acceptance_rows(runs[label]), ""]
    lines += ["## Every policy, per setting (set built from the log)", "", suite_markdown(runs["built"]).replace("#### ", "### ")]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / f"{stem}.md").read_text())


if __name__ == "__main__":
    main()
