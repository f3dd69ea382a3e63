"""Scale benchmark: one 2PL EM iteration over a partitioned log, local (one process) vs Ray with 1 and 2
workers. Writes experiments/results/scale.md.

    .venv/bin/python -m experiments.gen_scale_log --responses 10_000_000 --out /tmp/scale10m
    .venv/bin/python -m experiments.bench_scale --data /tmp/scale10m --label 10M [--iterations 5] [--rounds 3]

Each (configuration, round) runs in a fresh subprocess, configurations interleaved round by round
(local, ray1, ray2, local, ...), so peak memory is per run and load drifts hit every configuration alike.
A run prepares the calibration (workers read their Parquet partitions, code items, build their E-step),
then times `--iterations` plain EM steps (`em_map`: E-step on the workers, reduction and M-step at the
driver) from the start values. Reported per configuration: the median over rounds of the median
iteration; the driver's share of an iteration (time outside the workers' E-step calls: reduction,
M-step; for "local", the time outside its in-process E-step); the bytes that cross between driver and workers per iteration (pickled vector out, expected
counts back: what a cluster sends over the network); the peak resident memory of the driver and of
each worker process; the setup time; and the CPU seconds per iteration of the driver and of the
busiest worker, whose sum is the iteration's critical path on idle cores (wall times on a shared
machine mostly measure the other jobs). "local" is the same code with its one partition in the driver's
process (`EMProblem` over the whole log, as `equilearn irt calibrate` runs).
`--append` adds the table to the results file instead of replacing it (one section per log size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "scale.md"
CONFIGS = {"local": 0, "ray1": 1, "ray2": 2}  # name -> Ray workers (0 = in the driver's process)


class TimedPool:
    """Wraps a pool and adds up the wall time spent in its `map` calls (the driver waiting on workers)."""

    def __init__(self, pool: Any) -> None:
        self.pool, self.waiting = pool, 0.0

    def __len__(self) -> int:
        return len(self.pool)

    def map(self, method: str, *args: Any) -> list[Any]:
        t0 = time.perf_counter()
        try:
            return self.pool.map(method, *args)
        finally:
            self.waiting += time.perf_counter() - t0


def peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def measure(config: str, data: str, iterations: int) -> dict[str, Any]:
    """One run of one configuration (in this process): setup, then timed EM iterations."""
    from engine.distributed.irt import prepare_partitioned, worker_inputs
    from engine.distributed.irt_worker import IRTPartitionWorker
    from engine.distributed.pools import InlinePool, RayPool

    workers = CONFIGS[config]
    t0 = time.perf_counter()
    session = None
    if workers:
        from engine.distributed.cluster import ray_session

        session = ray_session(num_cpus=2)
        ray = session.__enter__()
        ready = time.perf_counter()
        pool: Any = RayPool.start(ray, IRTPartitionWorker, worker_inputs(data, workers))
    else:
        ready = t0
        pool = InlinePool([IRTPartitionWorker(*args) for args in worker_inputs(data, 1)])
    n_responses = sum(pool.map("load"))
    setup = prepare_partitioned(pool, "2pl")
    problem = setup.problem
    setup_seconds = time.perf_counter() - ready
    timed = TimedPool(pool)
    problem.pool = timed
    x, times, shares = setup.start, [], []
    worker_cpu0, driver_cpu0 = pool.map("cpu_seconds") if workers else [], time.process_time()
    for _ in range(iterations):
        timed.waiting = 0.0
        t = time.perf_counter()
        x, _ = problem.em_map(x)
        elapsed = time.perf_counter() - t
        times.append(elapsed)
        shares.append(1.0 - timed.waiting / elapsed)
    driver_cpu = (time.process_time() - driver_cpu0) / iterations
    worker_cpu = [(b - a) / iterations for a, b in zip(worker_cpu0, pool.map("cpu_seconds"))] if workers else []
    moved = 0
    if workers:
        pool.traffic.on = True
        pool.traffic.reset()
        problem.em_map(x)
        moved = pool.traffic.sent + pool.traffic.received
    worker_rss = pool.map("peak_rss_bytes") if workers else []
    result = {
        "config": config, "responses": n_responses, "items": int(len(setup.item_ids)), "free": int(problem.free.sum()),
        "students": int(problem.n_responding), "cluster_start_s": ready - t0, "setup_s": setup_seconds,
        "iteration_s": statistics.median(times), "iterations_s": times,
        "driver_share": statistics.median(shares), "bytes_per_iteration": moved,
        "driver_rss": peak_rss(), "worker_rss": worker_rss, "driver_cpu_s": driver_cpu, "worker_cpu_s": worker_cpu,
    }
    if session is not None:
        pool.shutdown()
        session.__exit__(None, None, None)
    return result


def run_subprocess(config: str, data: str, iterations: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "experiments.bench_scale", "--one", config, "--data", data, "--iterations", str(iterations)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        return {"config": config, "error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def table(label: str, runs: dict[str, list[dict[str, Any]]], command: str, loads: list[str]) -> str:
    lines = [f"## {label} responses", "", f"Command: `{command}`", "",
             f"Load average (1, 5, 15 min) before each round: {'; '.join(loads)}", ""]
    first = next(r for rs in runs.values() for r in rs if "error" not in r)
    lines += [f"Log: {first['responses']:,} responses, {first['students']:,} students, {first['items']:,} items "
              f"({first['free']:,} estimable: 2 x that many parameters).", "",
              "| engine | wall s / EM iteration (median) | speed-up vs local | driver share of wall | CPU s / iteration: "
              "driver + slowest worker = critical path | MB moved / iteration | peak RSS driver (GiB) | "
              "peak RSS per worker (GiB) | setup s | rounds |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    base = None
    for config, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            lines.append(f"| {config} | failed: {rs[0]['error']} | | | | | | | | |")
            continue
        it = statistics.median(r["iteration_s"] for r in ok)
        base = base or (it if config == "local" else None)
        share = statistics.median(r["driver_share"] for r in ok)
        workers = [max(r["worker_rss"]) for r in ok if r["worker_rss"]]
        driver_cpu = statistics.median(r["driver_cpu_s"] for r in ok)
        worker_cpu = statistics.median(max(r["worker_cpu_s"]) for r in ok) if ok[0]["worker_cpu_s"] else 0.0
        cpu = f"{driver_cpu:.1f} + {worker_cpu:.1f} = {driver_cpu + worker_cpu:.1f}" if worker_cpu else f"{driver_cpu:.1f} (one process)"
        speed = f"{base / it:.2f}x" if base else ""
        lines.append(
            f"| {config} | {it:.2f} | {speed} | {share:.0%} | {cpu} | "
            f"{statistics.median(r['bytes_per_iteration'] for r in ok) / 1e6:.1f} | {gib(max(r['driver_rss'] for r in ok))} | "
            f"{gib(max(workers)) if workers else '- (in driver)'} | {statistics.median(r['setup_s'] for r in ok):.1f} | {len(ok)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder written by experiments.gen_scale_log")
    parser.add_argument("--label", default=None, help="heading of the table, e.g. 10M")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--render", metavar="LOG", help="rebuild the table from a saved run log (this script's stderr and "
                                                        "stdout) instead of running")
    parser.add_argument("--one", choices=list(CONFIGS), help=argparse.SUPPRESS)  # internal: one run, JSON to stdout
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.data, args.iterations)))
        return
    configs = [c.strip() for c in args.configs.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    loads: list[str] = []
    command = " ".join(["nice -n 10", ".venv/bin/python -m experiments.bench_scale", *sys.argv[1:]])
    if args.render:
        command, loads = rendered_runs(Path(args.render), runs)
        write_section(args, table(args.label or "?", runs, command, loads))
        return
    for _ in range(args.rounds):
        loads.append(load_average())
        for config in configs:
            result = run_subprocess(config, args.data, args.iterations)
            print(json.dumps(result), file=sys.stderr)
            runs[config].append(result)
    summary = json.loads((Path(args.data) / "summary.json").read_text()) if (Path(args.data) / "summary.json").exists() else {}
    label = args.label or f"{summary.get('responses', '?')}"
    write_section(args, table(label, runs, command, loads))


def rendered_runs(log: Path, runs: dict[str, list[dict[str, Any]]]) -> tuple[str, list[str]]:
    """Fill `runs` from the JSON lines of a saved log; return its command and load averages."""
    command, loads = "?", []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            runs.setdefault(result["config"], []).append(result)
        elif line.startswith("Command: `"):
            command = line[len("Command: `"):].rstrip("`")
        elif line.startswith("Load average"):
            loads = line.split(": ", 1)[1].split("; ")
    return command, loads


def write_section(args: argparse.Namespace, section: str) -> None:
    header = ("# Scale: 2PL EM iteration, local vs Ray\n\n"
              "Generated by experiments/bench_scale.py (see its docstring; docs/scale.md reads these figures). "
              "Machine: 2 cores, 24 GiB, shared with other jobs: read timings with the load averages.\n\n")
    previous = OUT.read_text() if args.append and OUT.exists() else header
    OUT.write_text(previous.rstrip("\n") + "\n\n" + section)
    print(section)


if __name__ == "__main__":
    main()
