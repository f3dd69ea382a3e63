"""What the running service's follow-up learning is worth -> experiments/results/service_learning.md.

    .venv/bin/python -m experiments.service_learning [--students 300 --steps 60 --log-students 300 --seed 1]

The service path, not the in-process policy: a `Runtime` (the FastAPI service's application object, with its own
SQLite store under a temporary EQUILEARN_HOME) serves a set built by `model build` from a random-practice log of
other students (as `experiments.sim_suite`); each step every simulated student asks for 5 recommendations
(`compute_recommendations`, logged with `write_served` as the HTTP route does), takes the first entry's resource and
answers its item, and the answers are posted as events (`ingest`). Two runs on the same students: "learning" as
shipped (after each step the service follows its logs, as it does at every policy check, and counts the answer that
follows each list into the served recommender's resource statistics: `Runtime.catch_up`, `engine.runtime.followups`)
and "frozen" (no catch-up: the statistics stay as built). Reported per
suite setting whose resources teach: both gains (normalized), learning minus frozen (paired, t-interval), and how
many outcomes the service counted. The service's random draws (its Thompson draws and the list's sampled places)
come from one generator seeded by `--seed`, so a rerun gives the same table.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.modelbuild import build_model_set
from engine.runtime import Runtime, load_service_settings
from engine.runtime.followups import SETTLE_SECONDS
from engine.runtime.modelset import write_model_set_file
from engine.simulate.suite import SETTINGS, Setting, random_practice_log
from engine.store.types import utc_now
from experiments.carry_effectiveness import TEACHING
from experiments.suite_cli import paired_text, report_head, suite_parser

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
LIST_LENGTH = 5
LOG_STEPS = 60  # the random-practice log's length, as in experiments.sim_suite
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def drive(setting: Setting, catalog: Catalog, students: int, steps: int, seed: int, log_students: int,
          learning: bool) -> tuple[np.ndarray, int, int]:
    """Per-student normalized gain contributions of `students` of `setting` (world `seed`) served through a fresh
    `Runtime`, the outcomes its follow-up learning counted (0 when `learning` is off), and how many lists were
    measurable (their first entry, which the student takes, carried `item_p`: every one but placement questions)."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, LOG_STEPS, seed + 10_000, content=world)
    model_set, _ = build_model_set(catalog, log, seed=seed)
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "set.json"
        write_model_set_file(path, model_set)
        env = {"EQUILEARN_HOME": home, "EQUILEARN_MODEL_SET_FILE": str(path), "EQUILEARN_ALLOW_UNAUDITED": "1",
               "EQUILEARN_DATABASE_URL": f"sqlite:///{Path(home) / 'service.db'}"}
        with mock.patch.dict(os.environ, env):
            runtime = Runtime.open(load_service_settings())
        draws = np.random.default_rng([seed, 606])  # the service's own draws are not seeded; here they are, for a rerun
        patched = mock.patch("engine.recommend.recommender.thread_rng", lambda: draws)
        patched.start()
        try:
            learners = setting.learners(world)
            rng = np.random.default_rng([seed, 505])
            ids = [f"student{i:05d}" for i in range(students)]
            resource_of, item_of = catalog._resource_index, catalog._item_index  # noqa: SLF001
            initial, measurable = learners.mastery().mean(axis=1), 0
            for t in range(steps):
                rows, resources, items = [], np.zeros(students, dtype=np.int64), np.zeros(students, dtype=np.int64)
                for i, sid in enumerate(ids):
                    response, row = runtime.compute_recommendations(sid, LIST_LENGTH)
                    rows.append(row)
                    first = response["recommendations"][0]
                    measurable += first["item_p"] is not None
                    resources[i], items[i] = resource_of[first["resource_id"]], item_of[first["item_id"]]
                runtime.write_served(rows)
                correct = learners.step(resources, items, rng)
                at = START + timedelta(days=t)
                runtime.ingest(runtime.events_from_json([
                    {"event_id": f"{sid}-{t}", "student_id": sid, "item_id": catalog.item_ids[items[i]],
                     "correct": float(correct[i]), "timestamp": at} for i, sid in enumerate(ids)]))
                if learning:  # a real step takes longer than a policy check: everything written so far has settled
                    runtime.catch_up(utc_now() + timedelta(seconds=SETTLE_SECONDS))
            outcomes = int(runtime.policy.recommender.effectiveness.count.sum())
        finally:
            patched.stop()
            runtime.close()
    final = learners.mastery().mean(axis=1)
    return (final - initial) / max(1.0 - float(initial.mean()), 1e-9), outcomes, measurable


def main() -> None:
    ap = suite_parser(__doc__.splitlines()[0], single_seed=True)
    ap.add_argument("--settings", nargs="+", default=list(TEACHING), choices=[s.name for s in SETTINGS])
    ap.add_argument("--out", type=Path, default=RESULTS / "service_learning.md")
    args = ap.parse_args()
    load, started = os.getloadavg(), time.perf_counter()
    catalog = load_catalog(None)
    rows = []
    for setting in (s for s in SETTINGS if s.name in args.settings):
        on, counted, _ = drive(setting, catalog, args.students, args.steps, args.seed, args.log_students, True)
        off, _, _ = drive(setting, catalog, args.students, args.steps, args.seed, args.log_students, False)
        rows.append(f"| {setting.name} | {on.mean():.3f} | {off.mean():.3f} | {paired_text(on - off)} | {counted:,} |")
        print(f"{setting.name}: {time.perf_counter() - started:.0f} s", flush=True)
    text = "\n".join([
        *report_head("What the running service's follow-up learning is worth", "service_learning", args, started, load),
        f"{args.students} students x {args.steps} steps per setting (world seed {args.seed}) served through the service's "
        f"`Runtime` (its own SQLite store), from a set built from a random-practice log of {args.log_students} other "
        "students; normalized gain; the difference is paired on the same students with its 95% t-interval. "
        "\"Frozen\": the same service with the follow-up count switched off.", "",
        "| setting | learning | frozen | learning minus frozen | outcomes counted |", "|---|---|---|---|---|", *rows, ""])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
