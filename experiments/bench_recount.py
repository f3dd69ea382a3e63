"""What a policy load's recount of served lists costs -> experiments/results/recount.md.

    .venv/bin/python -m experiments.bench_recount [--lists 10000 20000 50000] [--repeats 3]

Each load of the served policy recounts the outcomes of the lists served since its set was built, at most the newest
`RECOUNT_LISTS` (`Runtime._recount_follow_ups`, `engine.recommend.outcomes.read_store_outcomes`). Per size: a fresh
SQLite store holds that many served lists (2,000 students, 5 entries each) and as many answers, and the recount's
wall time is the median of `--repeats` reads. The cap's size is the largest row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.recommend.outcomes import read_store_outcomes
from engine.runtime.runtime import RECOUNT_LISTS
from engine.store import Event, Store
from engine.store import served as served_log
from engine.store.database import run_write

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
STUDENTS, ENTRIES, RESOURCES, ITEMS = 2_000, 5, 200, 500
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def filled_store(path: Path, lists: int) -> Store:
    """A SQLite store with `lists` served lists and as many answers, received after every list (so only each student's
    newest list gets an outcome; the read pairs them all)."""
    store = Store.open(f"sqlite:///{path}")
    rows = [served_log.served_row(f"s{k % STUDENTS:05d}",
                                  [{"rank": r + 1, "resource_id": f"r{(k + r) % RESOURCES}", "item_id": f"i{(k + r) % ITEMS}",
                                    "item_p": 0.6, "skill_ids": ["k"], "level": "core", "kind": "video"}
                                   for r in range(ENTRIES)],
                                  model_set_version="v", model_versions={}, served_at=START + timedelta(seconds=k),
                                  context={"placement": False}) for k in range(lists)]
    for i in range(0, lists, 5_000):
        run_write(store.engine, lambda conn, part=rows[i:i + 5_000]: served_log.record_many(conn, part))
    events = [Event(f"e{k}", f"s{k % STUDENTS:05d}", f"i{k % ITEMS}", 1.0, None, "json", None) for k in range(lists)]
    for i in range(0, lists, 1_000):
        store.ingest(events[i:i + 1_000], lambda current, new: {s: {} for s in new})
    return store


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
            store = filled_store(Path(tmp) / f"s{lists}.db", lists)
            times, outcomes = [], 0
            for _ in range(args.repeats):
                started = time.perf_counter()
                outcomes = read_store_outcomes(store).height
                times.append(time.perf_counter() - started)
            store.close()
            rows.append(f"| {lists:,} | {outcomes:,} | {statistics.median(times):.2f} |")
            print(rows[-1], flush=True)
    command = f".venv/bin/python -m experiments.bench_recount --lists {' '.join(map(str, args.lists))} --repeats {args.repeats}"
    text = "\n".join([
        "# What a policy load's recount of served lists costs", "",
        f"Command: `{command}` (load average before {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; x86_64, 2 shared cores). "
        "What it measures: the module docstring of `experiments/bench_recount.py`.", "",
        f"SQLite, {STUDENTS:,} students, {ENTRIES} entries a list; median of {args.repeats} reads. The recount is capped at "
        f"the newest {RECOUNT_LISTS:,} lists.", "",
        "| served lists | outcomes | recount (s) |", "|---|---|---|", *rows, ""])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
