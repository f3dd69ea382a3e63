"""CPU of the service's recommendation request and event batch in process, this tree against another, interleaved ->
experiments/results/request_cpu.md.

    .venv/bin/python -m experiments.bench_request_cpu [--against DIR] [--rounds 5] [--requests 400]

The workload is `bench_service`'s: the demo catalog, 20,000 random events over 2,000 students (about ten random
answers each, so most are still in placement), the built-in defaults behind a PASS audit, SQLite in a temporary
EQUILEARN_HOME. Timed: `Runtime.compute_recommendations(student, 5)` (read the state and the teacher's
constraints, the recommender, the served-log row; not the log's write, which the service batches, nor HTTP), in
process CPU time per request over `--requests` requests per round; and `Runtime.ingest` of `--batches` new batches
of 100 events per round (SQLite, one transaction each: validation, the events' insert, reading, updating and
writing the students' states), on a second pool of 2,000 students so the recommendation workload stays the same
round after round.

`--against DIR` runs the same workload on the source tree DIR (e.g. `git worktree add /tmp/base HEAD~1`) in a
second worker process, the two workers taking turns round by round (A B, B A, A B, ...), so a change's effect is
read from same-moment pairs on this shared machine, whose speed swings by up to 2x from minute to minute: the
table gives each round's pair, the load average at its start, and the median of the per-round ratios. Each worker
imports `engine` from its own tree (PYTHONPATH) and runs this file's `_worker`, which uses only what every tree of
the last weeks has (`Runtime.open`, `ingest`, `compute_recommendations`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "request_cpu.md"
N_EVENTS, N_STUDENTS = 20_000, 2_000
BATCH = 100


def _worker(requests: int, batches: int) -> None:
    """Set up the workload, print "ready", then answer each "run" line on stdin with one round's JSON result."""
    import tempfile
    from datetime import datetime, timedelta, timezone

    import numpy as np

    home = Path(tempfile.mkdtemp(prefix="eq-request-cpu-"))
    os.environ["EQUILEARN_HOME"] = str(home)
    model_set = home / "model_set.json"
    model_set.write_text(json.dumps({"name": "bench", "version": "1", "components": {}}))
    os.environ["EQUILEARN_MODEL_SET_FILE"] = str(model_set)
    from engine.catalog import demo_catalog
    from engine.registry.model_set import content_sha256
    from engine.runtime.runtime import Runtime
    from engine.store import Store
    from engine.store.records import Event

    store = Store.open(f"sqlite:///{home / 'equilearn.db'}")
    store.record_audit("bench/1", "PASS", {"audit": "bench"}, content_sha256=content_sha256({}))
    store.close()
    runtime = Runtime.open()
    rng = np.random.default_rng(0)
    items = demo_catalog().item_ids
    sid, it, y = rng.integers(0, N_STUDENTS, N_EVENTS), rng.integers(0, len(items), N_EVENTS), rng.integers(0, 2, N_EVENTS)
    start = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    events = [Event(event_id=f"b{i}", student_id=f"st{sid[i]}", item_id=items[it[i]], correct=float(y[i]),
                    timestamp=start + timedelta(days=i * 28 // N_EVENTS)) for i in range(N_EVENTS)]
    for i in range(0, N_EVENTS, BATCH):
        runtime.ingest(events[i:i + BATCH])

    def new_batches(round_: int) -> list[list[Event]]:
        n = batches * BATCH
        r = np.random.default_rng(100 + round_)
        who, what, right = r.integers(0, N_STUDENTS, n), r.integers(0, len(items), n), r.integers(0, 2, n)
        when = start + timedelta(days=28 + round_)
        rows = [Event(event_id=f"r{round_}-{i}", student_id=f"in{who[i]}", item_id=items[what[i]], correct=float(right[i]),
                      timestamp=when + timedelta(seconds=i)) for i in range(n)]
        return [rows[i:i + BATCH] for i in range(0, n, BATCH)]

    students = [f"st{s}" for s in np.unique(sid)]
    jobs = [students[j % len(students)] for j in np.random.default_rng(1).permutation(requests)]
    placement = sum(bool(runtime.compute_recommendations(s, 5)[1]["context"]["placement"]) for s in jobs)  # warm-up
    print(json.dumps({"ready": True, "placement_share": placement / len(jobs)}), flush=True)
    for round_, line in enumerate(sys.stdin):
        if line.strip() != "run":
            break
        cpu = time.process_time()
        for s in jobs:
            runtime.compute_recommendations(s, 5)
        ms = 1000 * (time.process_time() - cpu) / len(jobs)
        todo = new_batches(round_)
        cpu = time.process_time()
        for batch in todo:
            runtime.ingest(batch)
        print(json.dumps({"ms": ms, "ingest_ms": 1000 * (time.process_time() - cpu) / max(len(todo), 1)}), flush=True)


class Worker:
    """A `_worker` process importing `engine` from `tree`."""

    def __init__(self, tree: Path, requests: int, batches: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree), "MLFLOW_DISABLE_TELEMETRY": "true"}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "--requests", str(requests),
                                      "--batches", str(batches)],
                                     cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.proc.wait()}")
        return json.loads(line)

    def round(self) -> dict[str, float]:
        """One round: CPU ms per recommendation (`ms`) and per event batch (`ingest_ms`)."""
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _commit(tree: Path) -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return (out.stdout.strip() or "?") + (" with uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another source tree to run the same workload on, interleaved")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--batches", type=int, default=50, help="event batches of 100 ingested per round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.requests, args.batches)
        return 0
    if args.rounds < 1 or args.requests < 1 or args.batches < 1:
        parser.error("--rounds, --requests and --batches must be at least 1")
    from experiments.bench_service import cpu_reference_ms  # this machine's speed, as bench_service reports it

    reference_before = cpu_reference_ms()
    trees = {"this tree": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    workers = {name: Worker(tree, args.requests, args.batches) for name, tree in trees.items()}
    rows = []
    try:
        for r in range(args.rounds):
            order = list(workers) if r % 2 == 0 else list(reversed(workers))
            load = os.getloadavg()[0]
            rows.append({"load": load, **{name: workers[name].round() for name in order}})
    finally:
        for w in workers.values():
            w.close()
    reference_after = cpu_reference_ms()
    names = list(trees)
    options = [("--against DIR", args.against is not None), (f"--rounds {args.rounds}", args.rounds != 9),
               (f"--requests {args.requests}", args.requests != 400), (f"--batches {args.batches}", args.batches != 50)]
    command = ("Command: `.venv/bin/python -m experiments.bench_request_cpu" + "".join(f" {o}" for o, given in options if given)
               + "` (what it times: the module docstring).")
    lines = ["# The recommendation request's and the event batch's CPU in process"
             + (" against another tree, interleaved" if args.against else ""), "", command, "",
             f"Machine: {os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, shared; the 1-minute "
             "load average at each round's start is in the tables (a round started above 2 is marked *); bench_service's CPU "
             f"reference loop {reference_before:.0f} ms before, {reference_after:.0f} ms after (about 100 ms when this virtual "
             "machine runs at full speed; the ratios compare trees in the same moments, the times only at similar speeds).", "",
             "| tree | commit | students of the requests in placement |", "|---|---|---|"]
    lines += [f"| {n} | {_commit(trees[n])} | {workers[n].info['placement_share']:.0%} |" for n in names]
    for key, what, unit in (("ms", "One recommendation (`Runtime.compute_recommendations`)", "ms/request"),
                            ("ingest_ms", f"One batch of {BATCH} events (`Runtime.ingest`)", "ms/batch")):
        lines += ["", f"## {what}", "", "| round | load | " + " | ".join(f"{n} {unit}" for n in names)
                  + (" | ratio |" if args.against else " |"), "|---|---|" + "---|" * len(names) + ("---|" if args.against else "")]
        for i, row in enumerate(rows, start=1):
            ratio = f" | {row['this tree'][key] / row['against'][key]:.2f} |" if args.against else " |"
            mark = "*" if row["load"] > 2 else ""
            lines.append(f"| {i} | {row['load']:.2f}{mark} | " + " | ".join(f"{row[n][key]:.2f}" for n in names) + ratio)
        medians = {n: statistics.median(row[n][key] for row in rows) for n in names}
        lines += ["", "Median over rounds: " + ", ".join(f"{n} {medians[n]:.2f} {unit}" for n in names) + "."]
        if args.against:
            ratios = sorted(row["this tree"][key] / row["against"][key] for row in rows)
            lines.append(f"This tree over the other, median of the same-round ratios: {statistics.median(ratios):.2f} "
                         f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}).")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
