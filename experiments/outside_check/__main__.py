"""Command line of the outside check.

    .venv/bin/python -m experiments.outside_check                      # 300 x 60, three settings, results .md
    .venv/bin/python -m experiments.outside_check --smoke              # 10 x 10, one setting, no audit
    .venv/bin/python -m experiments.outside_check --students 100 --steps 30 --settings peak65 --out /tmp/x.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.outside_check.driver import SETTINGS, CheckConfig, run_setting
from experiments.outside_check.report import claims_markdown, overview_markdown, setting_markdown, setting_summary

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "experiments" / "results" / "outside_check.md"

TITLE = "# Outside check of the recommender over HTTP (issue 14)\n"
INTRO = """An independent learner world, written apart from the project's simulators (`experiments/outside_check/world.py`),
drives the running service as an outside platform would: it writes its own catalog (12 skills, 8-15 items each,
10% of items tagged to a wrong skill, difficulties perturbed by N(0, 0.5); per skill a core practice set, a core
video, a remedial worked example and an advanced project), simulates a random-practice log of 300 other students
x 60 steps, runs the README's pipeline (`equilearn model build --format generic`, `equilearn model audit --file`,
`equilearn keys create`, `EQUILEARN_MODEL_SET_FILE=... equilearn serve` on a free port with its own SQLite
store), then each step asks `GET /v1/students/{id}/recommendations?k=5` for every student, has the student answer
the first recommendation's `item_id` and posts the answers with `POST /v1/events`. No project module is imported.

The world: proficiency per skill; P(correct) = sigmoid(theta - b); answering an item raises theta by
rate x bump x gate, where bump is a Gaussian in logit(p) (SD 1) centred on the success rate at which learning peaks
(the setting: 45%, 65%, 85%), gate = (weakest direct prerequisite's level)^1.5, rates log-normal (median 0.30,
log-SD 0.45); unpractised skills lose 0.5% of their gain per step; two groups differ only in starting proficiency
(0.8 logits). Resources teach nothing of their own: only the answered item counts (a platform that shows the
item). **Mastery** of a student = mean over skills of P(correct on the skill's median item); **gain** = final -
initial mastery (raw, not normalized); a skill is **truly mastered** when that probability is >= 0.8 (the same
80% the engine's `mastered` flag aims at). Policies run on the same students with the same starting state,
learning rates and the same uniform draw deciding each answer (paired): random item; the mastery-gated
curriculum (skills in prerequisite order by the catalog's tags, next skill after 3 right in a row); equilearn
over HTTP; the oracle (greedy on the true state: the item whose answer raises mastery most). Intervals are paired
t-intervals over students; quartiles are of initial mastery (Q1 lowest); final gap = high- minus
low-opportunity group's final mastery; "steps on mastered skills" = share of steps whose item's true skill was
already truly mastered; "turned ready" = a skill whose direct prerequisites all became truly mastered while it was
not, counted as practised (or listed, among the k items shown) when that happens within the next 5 steps
(`experiments/outside_check/readiness.py`).

To check a commit as a fresh clone would ship it, while the working tree changes: `git archive COMMIT | tar -x -C
/tmp/equilearn-COMMIT` and pass `--code /tmp/equilearn-COMMIT` (the `equilearn` commands then run from that tree).
`--smoke` (10 students x 10 steps, one setting, no audit) is what `tests/experiments_outside` runs.
"""

NOTES_FILE = Path(__file__).with_name("observations.md")  # what a person read in a particular run's output


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m experiments.outside_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=300, help="new students driven over HTTP (default 300)")
    ap.add_argument("--steps", type=int, default=60, help="steps per student (default 60)")
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated of {', '.join(SETTINGS)}")
    ap.add_argument("--log-students", type=int, default=300, help="students of the random-practice log")
    ap.add_argument("--log-steps", type=int, default=60, help="responses per log student")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=7, help="the skill graph and items (same in every setting)")
    ap.add_argument("--no-audit", action="store_true",
                    help="skip `equilearn model audit` and serve with --allow-unaudited (quicker)")
    ap.add_argument("--smoke", action="store_true", help="10 students x 10 steps, peak65, 150 log students x 40, no audit")
    ap.add_argument("--code", type=Path, help="run the equilearn commands from this source tree (PYTHONPATH), "
                    "e.g. `git archive HEAD | tar -x -C DIR`; default: the installed one")
    ap.add_argument("--workdir", type=Path, help="keep catalogs, logs, model sets and server logs here")
    ap.add_argument("--render-only", type=Path, metavar="JSON", nargs="+",
                    help="only write --out again from the JSON of earlier runs (after changing the report); "
                         "runs after the first are added as other worlds")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results (JSON beside it)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.students, args.steps, args.settings = 10, 10, "peak65"
        args.log_students, args.log_steps, args.no_audit = 150, 40, True
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    if unknown:
        ap.error(f"--settings: unknown {unknown}; choose from {', '.join(SETTINGS)}")
    return args


def code_stamp(code: Path | None) -> str:
    """Which equilearn ran: an exported tree, or this checkout (its HEAD, and whether the served code was dirty)."""
    if code is not None:
        return f"the equilearn commands ran from the source tree `{code}` (PYTHONPATH)"
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "unknown"
    dirty = git("status", "--porcelain", "--", "engine", "service", "models")
    return (f"the equilearn commands ran from this checkout at {git('rev-parse', '--short', 'HEAD')}"
            + (" with uncommitted changes in engine/, service/ or models/" if dirty else ""))


def _run_line(meta: dict) -> str:
    loads = meta["loads"]
    return (f"\nCommand: `{meta['command']}`\n\nRan in {meta['seconds']} s; load average (1-minute) at the start and "
            f"after each setting {', '.join(f'{x:.1f}' for x in loads)} on 2 shared cores"
            f"{' (above 2: timings are slow, figures unaffected)' if max(loads) > 2 else ''}; {meta['code']}.\n\n")


def render(meta: dict) -> str:
    """The results Markdown from the JSON a run wrote (so the text can be re-rendered without re-running);
    ``meta["other_worlds"]``: runs on other worlds, shown as their overview tables and claims."""
    text = (TITLE + _run_line(meta) + INTRO + "\n## Gain in mastery per policy\n\n" + overview_markdown(meta["settings"])
            + claims_markdown(meta["settings"]))
    for other in meta.get("other_worlds", []):
        text += "\n## Another world (other graph, items and students)\n" + _run_line(other) \
            + overview_markdown(other["settings"]) + claims_markdown(other["settings"])
    if NOTES_FILE.exists():
        text += "\n" + NOTES_FILE.read_text()
    return text + "\n## Per setting\n\n" + "\n".join(setting_markdown(s) for s in meta["settings"])


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse(argv)
    if args.render_only:
        first, *others = (json.loads(path.read_text()) for path in args.render_only)
        if others:  # keep them together, so that the one JSON beside --out renders the whole text again
            first["other_worlds"] = [o for other in others for o in (other, *other.pop("other_worlds", []))]
            args.out.with_suffix(".json").write_text(json.dumps(first, indent=1, default=float) + "\n")
        args.out.write_text(render(first))
        return first["settings"]
    cfg = CheckConfig(students=args.students, steps=args.steps, log_students=args.log_students,
                      log_steps=args.log_steps, world_seed=args.world_seed, seed=args.seed, audit=not args.no_audit,
                      code=args.code.resolve() if args.code else None)
    command = ".venv/bin/python -m experiments.outside_check " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    stamp = code_stamp(cfg.code)
    loads = [os.getloadavg()[0]]
    began = time.perf_counter()
    summaries = []
    with tempfile.TemporaryDirectory(prefix="outside_check_") as tmp:
        base = args.workdir or Path(tmp)
        for name in args.settings.split(","):
            print(f"[outside_check] {name}: world, log, build, audit, serve, drive ...", file=sys.stderr, flush=True)
            summary = setting_summary(run_setting(name, cfg, base / name))
            summaries.append(summary)
            loads.append(os.getloadavg()[0])
            print(f"[outside_check] {name} done: " + ", ".join(
                f"{p} {v['gain']['mean']:.3f}" for p, v in summary["policies"].items()), file=sys.stderr, flush=True)
    meta = {"command": command.strip(), "seconds": round(time.perf_counter() - began), "loads": loads,
            "code": stamp, "settings": summaries}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=float) + "\n")
    text = render(meta)
    args.out.write_text(text)
    print(text)
    return summaries


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the server we started is stopped
    main()
