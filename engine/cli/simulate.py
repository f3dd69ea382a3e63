"""`equilearn simulate`: compare recommendation policies on simulated learners with ground truth.

Prints a table (gain with 95% CI, gain per group and quartile, final gap, advanced offers when ready)
and writes the full JSON to `--out`. Seeds are `--seed`, `--seed + 1`, ... (`--seeds` of them).
"""

from __future__ import annotations

import argparse

from engine.cli.output import save_json
from engine.cli.progress import progress_bar
from engine.errors import ConfigError

# engine.simulate (numpy, scipy, the recommender) is imported by the command, not to build the parser; these
# copies of its names are for the help text only (a test checks them against engine.simulate).
POLICY_NAMES = ("equilearn", "random", "curriculum", "gated-curriculum", "lowest-mastery", "zpdes", "remedial")
SIMULATOR_NAMES = ("bkt", "irt")
DEFAULT_GROUPS_TEXT = "higher_opportunity:0.5:0.6,lower_opportunity:0.5:-0.6"


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("simulate", help="compare policies on simulated learners (learning gain, gaps, advanced offers)")
    sim.add_argument("--catalog", help="catalog bundle; default: the demo catalog")
    sim.add_argument("--policies", default="equilearn,random,curriculum,lowest-mastery,zpdes",
                     help=f"comma-separated: {', '.join(POLICY_NAMES)}; with --suite also posterior (the oracle's rule on "
                          "the posterior of the world's own model: knows the world, not the students; slow)")
    sim.add_argument("--students", type=int, default=500)
    sim.add_argument("--steps", type=int, default=60)
    sim.add_argument("--seed", type=int, default=1, help="first seed")
    sim.add_argument("--seeds", type=int, default=1, help="number of seeds (CIs need at least 2)")
    sim.add_argument("--simulator", default="bkt", choices=SIMULATOR_NAMES)
    sim.add_argument("--groups", help="name:share:shift,... starting-opportunity groups "
                     f"(default {DEFAULT_GROUPS_TEXT})")
    sim.add_argument("--suite", action="store_true",
                     help="run the learner-model suite (every setting, with the oracle) instead of one simulator")
    sim.add_argument("--settings", help="with --suite: comma-separated setting names (default: all)")
    sim.add_argument("--build-log-students", type=int, default=0,
                     help="with --suite: serve equilearn a model set built by `model build` from a random-practice "
                          "log of this many other students of each setting (0: catalog defaults, online learning only)")
    sim.add_argument("--particles", type=int, default=50,
                     help="with --suite and the posterior reference: particles per student (more: closer to the exact posterior)")
    sim.add_argument("--out", help="write the result JSON here")
    sim.set_defaults(handler=run_simulate)


def format_table(result: dict) -> str:
    groups = list(result["groups"])
    head = f"{'policy':<16}{'gain':>7}{'95% CI':>17}" + "".join(f"{g[:14]:>15}" for g in groups)
    head += "".join(f"{q:>7}" for q in ("Q1", "Q2", "Q3", "Q4")) + f"{'gap':>7}{'adv':>6}{'steps/m':>9}"
    lines = [f"simulator={result['simulator']} students={result['students']} steps={result['steps']} seeds={result['seeds']}", head]
    for name, m in result["policies"].items():
        lo, hi = m["gain"]["ci"]
        row = f"{name:<16}{m['gain']['mean']:>7.3f}{f'[{lo:.3f}, {hi:.3f}]':>17}"
        row += "".join(f"{m['gain_by_group'][g]:>15.3f}" for g in groups)
        row += "".join(f"{m['gain_by_quartile'][q]:>7.3f}" for q in ("Q1", "Q2", "Q3", "Q4"))
        row += f"{m['final_gap']:>7.3f}{m['advanced_offered_when_ready']:>6.2f}{m['steps_to_mastery']:>9.2f}"
        lines.append(row)
    return "\n".join(lines)


def run_suite_command(args: argparse.Namespace, policies: list[str], groups: tuple) -> int:
    from engine.catalog import load_catalog  # noqa: PLC0415
    from engine.simulate import POLICIES  # noqa: PLC0415
    from engine.simulate.suite import ORACLE, REFERENCES, SETTINGS, run_suite, setting_by_name, suite_markdown  # noqa: PLC0415

    unknown = [p for p in policies if p not in (*POLICIES, *REFERENCES)]
    if unknown:
        raise ConfigError(f"unknown policies {', '.join(unknown)}; choose from {', '.join((*POLICIES, *REFERENCES))}")
    if ORACLE not in policies:
        policies = [*policies, ORACLE]  # every result is expressed against the oracle
    settings = [setting_by_name(n.strip()) for n in args.settings.split(",") if n.strip()] if args.settings else list(SETTINGS)
    catalog = load_catalog(args.catalog)
    runs = len(settings) * args.seeds * len(policies)
    with progress_bar("simulate --suite", total=runs * args.steps, unit="step") as bar:
        result = run_suite(catalog, policies, settings, args.students, args.steps,
                           list(range(args.seed, args.seed + args.seeds)), groups, progress=bar.note,
                           build_log_students=args.build_log_students, on_step=bar.step, particles=args.particles)
    print(suite_markdown(result))
    save_json(result, args.out)
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from engine.catalog import load_catalog  # noqa: PLC0415
    from engine.simulate import DEFAULT_GROUPS, compare_policies, parse_groups  # noqa: PLC0415

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if args.students < 1 or args.steps < 1 or args.seeds < 1:
        raise ConfigError("--students, --steps and --seeds must be >= 1")
    groups = parse_groups(args.groups) if args.groups else DEFAULT_GROUPS
    if args.suite:
        return run_suite_command(args, policies, groups)
    catalog = load_catalog(args.catalog)
    with progress_bar("simulate", total=args.seeds * len(policies) * args.steps, unit="step") as bar:
        result = compare_policies(catalog, policies, args.simulator, args.students, args.steps,
                                  list(range(args.seed, args.seed + args.seeds)), groups, on_step=bar.step)
    print(format_table(result))
    save_json(result, args.out)
    return 0
