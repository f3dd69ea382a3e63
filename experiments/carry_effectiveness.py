"""What a cohort's measured resource values give the next cohort -> experiments/results/carry_effectiveness.md.

    .venv/bin/python -m experiments.carry_effectiveness [--students 300 --steps 60 --log-students 300 --seeds 1]

The policy learns each resource's value online from the answer that follows it (`ResourceEffectiveness`); in the
service, `model build --from-store` measures the same statistics from the served and event logs
(`engine.recommend.outcomes`) and the built set serves them (component `resource_effectiveness`). This measures
what that carries. Per suite setting whose resources teach and seed: equilearn serves a set built from a
random-practice log (as `experiments.sim_suite`) to cohort A and learns its statistics online; cohort B, other
students on the same content (`same_content`: the same resources and their hidden qualities), is served by the
same set twice, starting from no statistics ("fresh") and from A's ("carried"). Reported per setting: B's
normalized gain both ways, carried minus fresh (paired, t-interval), how many outcomes A left, and the correlation
of A's per-resource means with the resources' hidden quality (how much of the statistic is the resource).
Also reported: cohort A without any online statistics ("none"), against A as served, which says what learning
them within a cohort is worth.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from unittest import mock

import numpy as np

from engine.catalog import load_catalog
from engine.recommend.effectiveness import ResourceEffectiveness
from engine.simulate import runner
from engine.simulate.suite import OURS, SETTINGS, built_policy, gain_contributions, random_practice_log, same_content
from experiments.suite_cli import paired_text, report_head, suite_parser

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
TEACHING = ("bkt", "bkt-forgetful", "curve", "curve-practice", "proficiency-peak60", "proficiency-peak85",
            "misspecified-20")  # the settings whose resources teach (resource_weight > 0 or a BKT/curve family)
OTHER_COHORT = 1_000  # cohort B's world seed is A's plus this


class _Frozen(ResourceEffectiveness):
    """Statistics that ignore new outcomes (cohort A "none": no online learning)."""

    def observe(self, resources: np.ndarray, residuals: np.ndarray) -> None:
        return None


def serve(world, setting, engine, progress, steps: int, start: ResourceEffectiveness | None = None,
          frozen: bool = False) -> tuple[np.ndarray, ResourceEffectiveness]:
    """Equilearn on `world` from the built (engine, progress), its resource statistics starting from `start` (None:
    empty); `frozen`: they never learn. Returns the per-student gain contributions and the statistics at the end."""
    made, make_policy = [], runner.make_policy

    def policy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        chosen = make_policy(*args, **kwargs)
        recommender = chosen.recommender
        if frozen:
            recommender.effectiveness = _Frozen(recommender.catalog.resource_ids)
        elif start is not None:
            recommender.effectiveness = copy.deepcopy(start)
        made.append(chosen)
        return chosen

    with mock.patch.object(runner, "make_policy", side_effect=policy):
        run = runner.run_policy(world, setting, OURS, steps, engine=copy.deepcopy(engine), progress=copy.deepcopy(progress))
    return gain_contributions(run), made[-1].recommender.effectiveness


def main() -> None:
    ap = suite_parser(__doc__.splitlines()[0], seeds=1)
    ap.add_argument("--settings", nargs="+", default=list(TEACHING), choices=[s.name for s in SETTINGS])
    ap.add_argument("--out", type=Path, default=RESULTS / "carry_effectiveness.md")
    args = ap.parse_args()
    load, started = os.getloadavg(), time.perf_counter()
    catalog = load_catalog(None)
    rows = []
    for setting in (s for s in SETTINGS if s.name in args.settings):
        fresh, carried, served_a, none_a, outcomes, corr = [], [], [], [], 0, []
        for seed in range(1, args.seeds + 1):
            a = setting.world(catalog, args.students, seed)
            log = random_practice_log(setting, catalog, args.log_students, args.steps, seed + 10_000, content=a)
            engine, progress = built_policy(catalog, log, seed)
            gain_a, learned = serve(a, setting, engine, progress, args.steps)
            served_a.append(gain_a)
            none_a.append(serve(a, setting, engine, progress, args.steps, frozen=True)[0])
            b = same_content(setting.world(catalog, args.students, seed + OTHER_COHORT), a)
            fresh.append(serve(b, setting, engine, progress, args.steps)[0])
            carried.append(serve(b, setting, engine, progress, args.steps, start=learned)[0])
            outcomes += int(learned.count.sum())
            corr.append(float(np.corrcoef(a.quality, learned.mean)[0, 1]))
            print(f"{setting.name} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
        f, c, s, n = (np.concatenate(x) for x in (fresh, carried, served_a, none_a))
        rows.append(f"| {setting.name} | {s.mean():.3f} | {paired_text(n - s)} | {f.mean():.3f} | {c.mean():.3f} | "
                    f"{paired_text(c - f)} | {outcomes:,} | {np.mean(corr):.2f} |")
    text = "\n".join([
        *report_head("What a cohort's measured resource values give the next cohort", "carry_effectiveness", args, started,
                     load),
        f"{args.students} students x {args.steps} steps x {args.seeds} seed(s) per setting, equilearn serving a set built "
        f"from a random-practice log of {args.log_students} other students; normalized gain; differences paired on the "
        "same students with 95% t-intervals. Cohort A: the students served first; cohort B: other students on the same "
        "resources. \"Quality correlation\": of A's per-resource mean residual with the resources' hidden quality.", "",
        "| setting | cohort A: gain as served | A: no online statistics minus served | B: fresh | B: carried | "
        "B: carried minus fresh | outcomes A left | quality correlation |",
        "|---|---|---|---|---|---|---|---|", *rows, ""])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
