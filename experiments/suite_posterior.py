"""What a policy that must learn the state from answers can reach -> experiments/results/suite_posterior.md (+ JSON).

    .venv/bin/python -m experiments.suite_posterior [--students 300 --steps 60 --seeds 1 --log-students 300 --particles 50]

On every setting of the suite, beside equilearn (serving a set built from a random-practice log, as in
`experiments.sim_suite`), the baselines and the oracle, runs the posterior reference (`engine.simulate.posterior`):
the oracle's greedy rule on the exact posterior of the world's own model (a particle filter that knows the
family, its parameters, the true items, the resources' qualities and the population, but not the students).

The oracle's gain is not what any real policy can approach: every real policy must infer the state from answers.
The posterior reference is greedy with a perfect model of the world, so
- oracle minus posterior is what the state's uncertainty costs a greedy policy (no model can recover it);
- posterior minus equilearn is what equilearn's model (learned from a log, on the catalog the platform has) costs;
- where the posterior reference falls short of a target of the issue (50% of the oracle, above every baseline,
  at most 10% of steps on mastered skills), no greedy answer-driven policy is known to reach it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from engine.catalog import load_catalog
from engine.cli.output import _clean
from engine.simulate.report import QUARTILES
from engine.simulate.runner import run_policy
from engine.simulate.suite import ORACLE, OURS, POSTERIOR, REFERENCES, SETTINGS, run_suite, setting_by_name
from experiments.suite_cli import suite_parser

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
POLICIES = [OURS, POSTERIOR, "random", "gated-curriculum", "zpdes", ORACLE]
WASTE_TARGET = 0.10  # the "at most 10% of steps on skills the student has truly mastered"
SHARE_TARGET = 0.50  # "at least 50% of the oracle's gain"


def _ci(d: dict) -> str:
    return f"{d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"


def setting_rows(result: dict) -> list[str]:
    """The table: per setting, gains and shares of the oracle, paired differences, steps on mastered skills."""
    rows = ["| setting | oracle | posterior reference (share) | equilearn (share) | best baseline | posterior minus best "
            "baseline [95% CI] | equilearn minus posterior [95% CI] | steps on mastered: posterior / equilearn / oracle |",
            "|---|---|---|---|---|---|---|---|"]
    for s in result["settings"]:
        pol, best = s["policies"], s["best_baseline"]
        post, ours, oracle = pol[POSTERIOR], pol[OURS], pol[ORACLE]
        rows.append(
            f"| {s['setting']} | {oracle['gain']['mean']:.3f} | {post['gain']['mean']:.3f} ({post['share_of_oracle']:.2f}) | "
            f"{ours['gain']['mean']:.3f} ({ours['share_of_oracle']:.2f}) | {best} {pol[best]['gain']['mean']:.3f} | "
            f"{_ci(post['minus'][best]['all'])} | {_ci(ours['minus'][POSTERIOR]['all'])} | "
            f"{post['over_practice']:.2f} / {ours['over_practice']:.2f} / {oracle['over_practice']:.2f} |")
    return rows


def reach_rows(result: dict) -> list[str]:
    """Which of the issue's targets the posterior reference (and equilearn) meet, setting by setting."""
    rows = ["| setting | 50% of the oracle: posterior / equilearn | above every baseline (paired CI > 0): posterior / "
            "equilearn | no quartile below the best baseline (paired CI not entirely below 0): posterior / equilearn | "
            "at most 10% of steps on mastered skills: posterior / equilearn |", "|---|---|---|---|---|"]
    yes = {True: "yes", False: "no"}
    for s in result["settings"]:
        pol = s["policies"]
        baselines = [n for n in pol if n != OURS and n not in REFERENCES]
        cells = []
        for name in (POSTERIOR, OURS):
            p = pol[name]
            above = all(p["minus"][b]["all"]["ci"][0] > 0 for b in baselines)
            quartiles = all(p["minus"][s["best_baseline"]][f"quartile:{q}"]["ci"][1] >= 0 for q in QUARTILES)
            cells.append((p["share_of_oracle"] >= SHARE_TARGET, above, quartiles, p["over_practice"] <= WASTE_TARGET))
        rows.append(f"| {s['setting']} | " + " | ".join(f"{yes[cells[0][k]]} / {yes[cells[1][k]]}" for k in range(4)) + " |")
    return rows


def main() -> None:
    ap = suite_parser(__doc__.splitlines()[0], seeds=1)
    ap.add_argument("--particles", type=int, default=50)
    ap.add_argument("--settings", nargs="*", default=None, help="setting names (default: all)")
    ap.add_argument("--render", action="store_true", help="only rewrite the Markdown from the saved JSON")
    ap.add_argument("--particle-check", type=int, default=0, metavar="M",
                    help="instead of the suite: the reference with --particles and with M particles on the same students "
                         "of --settings (default bkt, proficiency-peak40), added to the saved JSON")
    args = ap.parse_args()
    saved = RESULTS / "suite_posterior.json"
    if args.render:
        result = json.loads(saved.read_text())
    elif args.particle_check:
        result = json.loads(saved.read_text())
        names = args.settings or ["bkt", "proficiency-peak40"]
        result["particle_check"] = particle_check([setting_by_name(n) for n in names], args.students, args.steps,
                                                  args.particles, args.particle_check)
        result["particle_check_command"] = (f".venv/bin/python -m experiments.suite_posterior --particle-check "
                                            f"{args.particle_check} --particles {args.particles} --students {args.students} "
                                            f"--steps {args.steps} --settings {' '.join(names)}")
        saved.write_text(json.dumps(_clean(result), indent=1) + "\n")
    else:
        names = "" if args.settings is None else " --settings " + " ".join(args.settings)
        command = (f".venv/bin/python -m experiments.suite_posterior --students {args.students} --steps {args.steps} "
                   f"--seeds {args.seeds} --log-students {args.log_students} --particles {args.particles}{names}")
        catalog = load_catalog(None)
        settings = [s for s in SETTINGS if args.settings is None or s.name in args.settings]
        load_before = os.getloadavg()
        started = time.perf_counter()
        result = run_suite(catalog, POLICIES, settings, args.students, args.steps, list(range(1, args.seeds + 1)),
                           build_log_students=args.log_students, paired_from=(OURS, POSTERIOR), particles=args.particles,
                           progress=lambda text: print(text, flush=True))
        result.update(particles=args.particles, load_before=list(load_before), command=command,
                      minutes=(time.perf_counter() - started) / 60)
        earlier = json.loads(saved.read_text()) if saved.exists() else {}
        if "particle_check" in earlier:  # the reference alone at two particle counts: its own command, not redone here
            result.update(particle_check=earlier["particle_check"], particle_check_command=earlier["particle_check_command"])
        RESULTS.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(_clean(result), indent=1) + "\n")
    (RESULTS / "suite_posterior.md").write_text(markdown(result) + "\n")
    print((RESULTS / "suite_posterior.md").read_text())


def particle_check(settings: list, students: int, steps: int, few: int, many: int) -> list[dict]:
    """The reference with `few` and `many` particles on the same students (seed 1): gains, their paired difference
    and the steps on mastered skills, per setting."""
    catalog = load_catalog(None)
    out = []
    for setting in settings:
        runs = {m: run_policy(setting.world(catalog, students, 1), setting, POSTERIOR, steps, particles=m) for m in (few, many)}
        gains = {m: (r.final - r.initial) / (1.0 - r.initial.mean()) for m, r in runs.items()}
        diff = gains[many] - gains[few]
        half = 1.96 * float(diff.std(ddof=1)) / float(np.sqrt(diff.size))
        out.append({"setting": setting.name, "students": students,
                    **{f"gain_{m}": float(gains[m].mean()) for m in (few, many)},
                    **{f"over_practice_{m}": float(runs[m].over_practice.sum() / (students * steps)) for m in (few, many)},
                    "difference": float(diff.mean()), "ci": [float(diff.mean()) - half, float(diff.mean()) + half],
                    "few": few, "many": many})
    return out


def markdown(result: dict) -> str:
    """The results page from the run's JSON."""
    students, steps, seeds = result["students"], result["steps"], len(result["seeds"])
    lines = [
        "# What an answer-driven policy can reach: the posterior reference on the suite",
        "",
        f"Command: `{result['command']}` ({result['minutes']:.0f} min; {platform.machine()}, {os.cpu_count()} shared cores, "
        f"load average before {', '.join(f'{x:.2f}' for x in result['load_before'])}). "
        "Full results: `experiments/results/suite_posterior.json`. "
        "Why and how: the module docstring of `experiments/suite_posterior.py` and of `engine/simulate/posterior.py`.",
        "",
        f"{students} students x {steps} steps x {seeds} seed(s) per setting, every policy on the same students. "
        "Equilearn serves a set built by `model build` from a random-practice log of "
        f"{result['built_from_log_of']} other students. The posterior reference is the oracle's greedy rule on the "
        f"exact posterior of the world's own model ({result['particles']} particles per student): it knows the world, "
        "not the students. "
        "Gains are Hake's normalized gain of true mastery; differences are paired per student with t-intervals. "
        "\"Steps on mastered\": the suite's wasted steps (every skill of the step already truly mastered while the "
        "student was ready for something new). The best baseline is the best of random items, the gated curriculum "
        "and ZPDES.",
        "",
        *setting_rows(result),
        "",
        "## The issue's targets, met by the posterior reference / by equilearn",
        "",
        *reach_rows(result),
        "",
    ]
    check = result.get("particle_check")
    if check:
        few, many = check[0]["few"], check[0]["many"]
        lines += [f"## How close {few} particles come to the exact posterior", "",
                  f"Command: `{result['particle_check_command']}`. The same students (seed 1) with {few} and {many} particles "
                  "per student; paired difference with its 95% interval. A finite cloud's winner's curse makes the reference "
                  "a lower estimate of the exact-posterior greedy rule (`engine/simulate/posterior.py`).", "",
                  f"| setting | students | gain, {few} particles | gain, {many} particles | {many} minus {few} [95% CI] | "
                  f"steps on mastered, {few} / {many} |", "|---|---|---|---|---|---|"]
        lines += [f"| {c['setting']} | {c['students']} | {c[f'gain_{few}']:.3f} | {c[f'gain_{many}']:.3f} | "
                  f"{c['difference']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}] | "
                  f"{c[f'over_practice_{few}']:.2f} / {c[f'over_practice_{many}']:.2f} |" for c in check]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
