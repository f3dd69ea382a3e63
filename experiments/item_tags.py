"""What the build's item-tag check finds, and what acting on it buys -> experiments/results/item_tags.md.

    .venv/bin/python -m experiments.item_tags [--students 300 --steps 60 --seeds 2 --log-sizes 300,3000,10000
                                               --act-sizes 3000,10000]

`model build` reports the items whose answers follow another skill better than their tag (`engine.modelbuild.item_tags`:
Q-matrix validation, Holm 5% over the items). Two questions on the suite's worlds (`engine.simulate.suite.SETTINGS`):

1. **Detection.** Per setting, log size (`--log-sizes`, random-practice logs as `experiments.sim_suite` draws them) and
   seed: the items tested, the items the world really mis-tags (the misspecified settings: 15% and 20%), how many the
   check flags, of those how many are truly mis-tagged and how many with their true skill, and the flags on correctly
   tagged items (false alarms; every flag in a setting without mis-tags is one).
2. **Acting on it.** In the misspecified settings, a platform that corrects the flagged items' tags and builds again
   from the same log (`--log-students`): equilearn served the set built on the catalog as it is, on the catalog with
   the flagged items retagged to the suggested skill, and on the world's true tags (the most that correcting the tags
   can give), on the same students (`--students` x `--steps`), per log size of `--act-sizes`; differences paired per
   student (95% t-intervals).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.modelbuild.data import prepare_log
from engine.modelbuild.item_tags import check_item_tags
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, built_policy, gain_contributions, random_practice_log
from experiments.suite_cli import command_head, paired_text, write_results


def detection_rows(catalog: Catalog, sizes: list[int], seeds: int, steps: int, students: int) -> list[str]:
    rows = []
    for setting in SETTINGS:
        for size in sizes:
            tested = mistagged = flagged = true_flags = right_skill = false_flags = 0
            for seed in range(1, seeds + 1):
                world = setting.world(catalog, students, seed)
                log = random_practice_log(setting, catalog, size, steps, seed + 10_000, content=world, resources=True)
                check = check_item_tags(prepare_log(catalog, log).responses, catalog)
                truth = world.truth
                wrong = truth.mistagged if truth is not None and truth.mistagged is not None else np.zeros(catalog.n_items, bool)
                hit = np.array([catalog.item_index(f.item_id) for f in check.flagged], dtype=np.int64)
                suggested = np.array([catalog.skill_index(f.suggested) for f in check.flagged], dtype=np.int64)
                tested += check.tested
                mistagged += int(wrong.sum())
                flagged += hit.size
                true_flags += int(wrong[hit].sum())
                right_skill += int((wrong[hit] & (suggested == truth.skill[hit])).sum()) if truth is not None else 0
                false_flags += int((~wrong[hit]).sum())
            rows.append(f"| {setting.name} | {size:,} | {tested} | {mistagged} | {flagged} | {true_flags} | {right_skill} | "
                        f"{false_flags} |")
            print(rows[-1], flush=True)
    return rows


def acting_rows(catalog: Catalog, log_students: int, seeds: int, steps: int, students: int) -> list[str]:
    rows = []
    for setting in [s for s in SETTINGS if s.mistag_share]:  # only they have tags to correct
        gains: dict[str, list[np.ndarray]] = {"as is": [], "flagged retagged": [], "true tags": []}
        flagged_total = 0
        for seed in range(1, seeds + 1):
            world = setting.world(catalog, students, seed)
            log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
            check = check_item_tags(prepare_log(catalog, log).responses, catalog)
            flagged_total += len(check.flagged)
            suggested = {f.item_id: f.suggested for f in check.flagged}
            truth = {catalog.item_ids[i]: catalog.skill_ids[world.truth.skill[i]] for i in np.flatnonzero(world.truth.mistagged)}
            for label, tags in (("as is", {}), ("flagged retagged", suggested), ("true tags", truth)):
                engine, progress = built_policy(catalog.retagged(tags), log, seed)
                run = run_policy(world, setting, OURS, steps, engine=engine, progress=progress, engine_sees_resources=True)
                gains[label].append(gain_contributions(run))
        base, fixed, best = (np.concatenate(gains[k]) for k in ("as is", "flagged retagged", "true tags"))
        rows.append(f"| {setting.name} | {log_students:,} | {flagged_total} | {base.mean():.3f} | {fixed.mean():.3f} | "
                    f"{paired_text(fixed - base)} | {best.mean():.3f} | {paired_text(best - base)} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--log-sizes", default="300,3000,10000", help="random-practice log sizes for the detection table")
    ap.add_argument("--act-sizes", default="3000,10000", help="log sizes for the table of what acting on the check buys")
    args = ap.parse_args()
    sizes, act_sizes = ([int(x) for x in text.split(",")] for text in (args.log_sizes, args.act_sizes))
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    detection = detection_rows(catalog, sizes, args.seeds, args.steps, args.students)
    acting = [row for size in act_sizes for row in acting_rows(catalog, size, args.seeds, args.steps, args.students)]
    options = (f"--students {args.students} --steps {args.steps} --seeds {args.seeds} --log-sizes {args.log_sizes} "
               f"--act-sizes {args.act_sizes}")
    lines = command_head("Items that answer another skill than their tag: what the build's check finds, and what acting on it "
                         "buys", "item_tags", options, started, load)
    lines += [f"## 1. Detection ({args.seeds} seed(s) pooled per row; {catalog.n_items} items, {catalog.n_skills} skills)", "",
              "| setting | log students | items tested | truly mis-tagged | flagged | flagged and mis-tagged | "
              "of those, with the true skill | flagged but tagged right |", "|---|---|---|---|---|---|---|---|", *detection, "",
              f"## 2. Acting on it: the flagged items retagged and the set built again from the same log ({args.students} "
              f"served students x {args.steps} steps x {args.seeds} seed(s))", "",
              "| setting | log students | items flagged | gain, as is | gain, flagged retagged | difference [95% CI] | "
              "gain, true tags | difference [95% CI] |", "|---|---|---|---|---|---|---|---|", *acting]
    write_results("item_tags", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
