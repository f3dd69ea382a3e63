"""What following the served lists costs: a policy load's recount, and a catch-up -> experiments/results/recount.md.

    .venv/bin/python -m experiments.bench_recount [--lists 10000 20000 50000] [--repeats 3]

Each load of the served policy recounts the outcomes of the lists served since its set was built, at most the newest
`RECOUNT_LISTS` (`Runtime._follow_served_lists`, `FollowUps.start`); then, at every policy check, each process reads
the lists and answers appended since (`Runtime.catch_up`, `FollowUps.step`). Per size: a fresh SQLite store holds that
many served lists (2,000 students, 5 entries each) and as many answers; the recount's wall time is the median of
`--repeats` starts, and the catch-up's the median of as many steps, each after 1,000 more lists and 1,000 more answers
(2,000 students' lists waiting). The cap's size is the largest row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.runtime.followups import FollowUps
from engine.runtime.runtime import RECOUNT_LISTS
from engine.store import Event, Store
from engine.store import served as served_log
from engine.store.database import run_write
from engine.store.types import utc_now

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
STUDENTS, ENTRIES, RESOURCES, ITEMS = 2_000, 5, 200, 500
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


CATCH_UP_ROWS = 1_000  # lists and answers appended before each timed catch-up


def append(store: Store, first: int, lists: int, served_at: datetime) -> None:
    """Lists number `first` to `first + lists - 1` (student k mod STUDENTS), served at `served_at`, and then as many
    answers, after every list (so only each student's newest list gets an outcome; the read pairs them all)."""
    rows = [served_log.served_row(f"s{k % STUDENTS:05d}",
                                  [{"rank": r + 1, "resource_id": f"r{(k + r) % RESOURCES}", "item_id": f"i{(k + r) % ITEMS}",
                                    "item_p": 0.6, "skill_ids": ["k"], "level": "core", "kind": "video"}
                                   for r in range(ENTRIES)],
                                  model_set_version="v", model_versions={}, served_at=served_at,
                                  context={"placement": False}) for k in range(first, first + lists)]
    for i in range(0, lists, 5_000):
        run_write(store.engine, lambda conn, part=rows[i:i + 5_000]: served_log.record_many(conn, part))
    events = [Event(f"e{k}", f"s{k % STUDENTS:05d}", f"i{k % ITEMS}", 1.0, None, "json", None)
              for k in range(first, first + lists)]
    for i in range(0, lists, 1_000):
        store.ingest(events[i:i + 1_000], lambda current, new: {s: {} for s in new})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lists", type=int, nargs="+", default=[10_000, 20_000, RECOUNT_LISTS])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "recount.md")
    args = ap.parse_args()
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lists in args.lists:
            store = Store.open(f"sqlite:///{Path(tmp) / f's{lists}.db'}")
            append(store, 0, lists, START)
            times, steps, outcomes = [], [], 0
            for _ in range(args.repeats):
                started = time.perf_counter()
                follower, counted = FollowUps.start(store, 0, RECOUNT_LISTS)
                times.append(time.perf_counter() - started)
                outcomes = counted.height
            for k in range(args.repeats):  # the answers are stored after the lists: each step pairs them
                append(store, lists + k * CATCH_UP_ROWS, CATCH_UP_ROWS, START + timedelta(days=1 + k))
                started = time.perf_counter()
                paired = follower.step(utc_now() + timedelta(days=1)).height  # the answers got the real clock's time
                steps.append(time.perf_counter() - started)
                if paired != CATCH_UP_ROWS:
                    raise AssertionError(f"a catch-up paired {paired} lists, not {CATCH_UP_ROWS}")
            store.close()
            rows.append(f"| {lists:,} | {outcomes:,} | {statistics.median(times):.2f} | {1e3 * statistics.median(steps):.0f} |")
            print(rows[-1], flush=True)
    command = f".venv/bin/python -m experiments.bench_recount --lists {' '.join(map(str, args.lists))} --repeats {args.repeats}"
    text = "\n".join([
        "# What following the served lists costs: a load's recount and a catch-up", "",
        f"Command: `{command}` (load average before {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; x86_64, 2 shared cores). "
        "What it measures: the module docstring of `experiments/bench_recount.py`.", "",
        f"SQLite, {STUDENTS:,} students, {ENTRIES} entries a list; medians of {args.repeats} runs. The recount is capped at "
        f"the newest {RECOUNT_LISTS:,} lists.", "",
        f"| served lists | outcomes | recount at a load (s) | catch-up of {CATCH_UP_ROWS:,} lists and answers (ms) |",
        "|---|---|---|---|", *rows, ""])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
