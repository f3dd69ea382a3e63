"""Load benchmark of the HTTP service on loopback: events/s ingested in batches of 100, and recommendation
latency (p50/p95/p99) at 1, 8 and 32 concurrent clients, on SQLite and on PostgreSQL.

    .venv/bin/python -m experiments.bench_service [--events 20000] [--requests 400] [--repeats 3] [--workers 1] [--pin]

A real uvicorn process (`equilearn serve`, one worker unless `--workers`) serves a fresh EQUILEARN_HOME;
clients are threads in this process, each with one keep-alive connection of the standard library's
`http.client` (the lightest Python client: the load generator shares the machine's 2 cores with the server,
so a heavy client would inflate the server's latency). A fixed pure-Python loop is timed before and after
(`cpu_reference_ms`): this shared machine's speed varies by up to 2x from minute to minute, and the
figure lets runs be compared. PostgreSQL: a scratch database
`equilearn_bench` is created on the server of EQUILEARN_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards; skipped if the server is unreachable.
Writes experiments/results/service.md (service_workers<N>.md with `--workers N`, a `_pinned` suffix with
`--pin`: the server process on one core and the clients on the other, as with a load generator on its
own machine; since computations run on the event loop it makes little difference to recommendations).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from engine.catalog import demo_catalog
from engine.registry.model_set import content_sha256
from engine.store import Store

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "service.md"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 100
CLIENT_COUNTS = (1, 8, 32)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, workers: int, server_cpus: set[int] | None) -> subprocess.Popen:
    pin = None if server_cpus is None else (lambda: os.sched_setaffinity(0, server_cpus))
    proc = subprocess.Popen([str(Path(sys.executable).parent / "equilearn"), "serve", "--port", str(port),
                             "--workers", str(workers)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=pin)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server not ready after 90 s")


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its worker processes so far (Linux /proc)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    total = _cpu_of(pid)
    for child in children:
        try:
            total += _cpu_of(child)
        except OSError:
            pass
    return total


def cpu_reference_ms() -> float:
    """CPU time of a fixed pure-Python loop (3M additions), median of 3: the machine's speed right now."""
    times = []
    for _ in range(3):
        start, total = time.process_time(), 0
        for i in range(3_000_000):
            total += i
        times.append(1000 * (time.process_time() - start))
    return statistics.median(times)


class Http:
    """One keep-alive HTTP/1.1 connection (`http.client`) with the API key; `get`/`post` -> (status, body)."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"X-API-Key": key}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = self.headers if body is None else {**self.headers, "Content-Type": "application/json"}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def run_clients(n_clients: int, jobs: list, call) -> tuple[float, list[float]]:
    """Run `call(http, job)` over `jobs` from `n_clients` threads; (wall seconds, per-call latencies in s)."""
    todo = list(jobs)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def worker(http: Http) -> None:
        while True:
            with lock:
                if not todo or errors:
                    return
                job = todo.pop()
            t = time.perf_counter()
            status, body = call(http, job)
            dt = time.perf_counter() - t
            if status != 200:
                errors.append(f"{status} {body[:200]!r}")
            with lock:
                latencies.append(dt)

    clients = [Http(PORT[0], KEY[0]) for _ in range(n_clients)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in clients:
        c.close()
    if errors:
        raise RuntimeError(errors[0])
    return wall, latencies


PORT: list[int] = [0]
KEY: list[str] = [""]


def bench_backend(label: str, database_url: str | None, n_events: int, n_requests: int, repeats: int, workers: int,
                  server_cpus: set[int] | None = None) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"eq-bench-{label}-"))
    env = {**os.environ, "EQUILEARN_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    if database_url:
        env["EQUILEARN_DATABASE_URL"] = database_url
    ms = home / "model_set.json"
    ms.write_text(json.dumps({"name": "bench", "version": "1", "components": {}}))
    env["EQUILEARN_MODEL_SET_FILE"] = str(ms)
    store = Store.open(database_url or f"sqlite:///{home / 'equilearn.db'}")
    KEY[0] = store.create_api_key("ingest,recommend")[0]
    # the service serves only content whose newest audit in its own table is a PASS
    store.record_audit("bench/1", "PASS", {"audit": "bench"}, content_sha256=content_sha256({}))
    store.close()
    port = free_port()
    PORT[0] = port
    server = start_server(env, port, workers, server_cpus)
    try:
        rng = np.random.default_rng(0)
        items = demo_catalog().item_ids
        n_students = 2000
        sid = rng.integers(0, n_students, n_events)
        it = rng.integers(0, len(items), n_events)
        y = rng.integers(0, 2, n_events)
        events = [{"event_id": f"b{i}", "student_id": f"st{sid[i]}", "item_id": items[it[i]], "correct": int(y[i]),
                   "timestamp": f"2024-05-{1 + i * 28 // n_events:02d}T12:00:00Z"} for i in range(n_events)]
        batches = [events[i:i + BATCH] for i in range(0, n_events, BATCH)]
        ingest = {}
        for clients in (1, 4):
            half = batches[: len(batches) // 2] if clients == 1 else batches[len(batches) // 2:]
            cpu = server_cpu_seconds(server.pid)
            bodies = [json.dumps({"events": b}).encode() for b in half]
            wall, lat = run_clients(clients, bodies, lambda http, b: http.request("POST", "/v1/events", b))
            cpu = server_cpu_seconds(server.pid) - cpu
            ingest[clients] = {"events_per_s": len(bodies) * BATCH / wall, "batch_p50_ms": 1000 * float(np.percentile(lat, 50)),
                               "batch_p95_ms": 1000 * float(np.percentile(lat, 95)),
                               "events_per_cpu_s": len(half) * BATCH / max(cpu, 1e-9)}
        students = [f"st{s}" for s in np.unique(sid)]
        rec = {}
        for clients in CLIENT_COUNTS:
            runs = []
            for _ in range(repeats):
                jobs = [students[j % len(students)] for j in rng.permutation(n_requests)]
                cpu = server_cpu_seconds(server.pid)
                wall, lat = run_clients(clients, jobs, lambda http, s: http.request("GET", f"/v1/students/{s}/recommendations?k=5"))
                cpu = server_cpu_seconds(server.pid) - cpu
                ms_ = 1000 * np.asarray(lat)
                runs.append({"p50": float(np.percentile(ms_, 50)), "p95": float(np.percentile(ms_, 95)),
                             "p99": float(np.percentile(ms_, 99)), "rps": len(lat) / wall, "cpu_ms": 1000 * cpu / len(lat)})
            rec[clients] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        return {"ingest": ingest, "recommend": rec}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)


def scratch_postgres(base_url: str) -> tuple[str | None, str]:
    """(URL of a fresh scratch database, note); None if the server is unreachable."""
    try:
        import psycopg

        with psycopg.connect(base_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP DATABASE IF EXISTS equilearn_bench")
            conn.execute("CREATE DATABASE equilearn_bench")
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return None, f"PostgreSQL not measured ({exc.__class__.__name__}: {str(exc)[:120]})"
    return base_url.rsplit("/", 1)[0] + "/equilearn_bench", "ok"


def drop_postgres(base_url: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS equilearn_bench WITH (FORCE)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=400, help="recommendation requests per run and client count")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="server processes (`equilearn serve --workers`)")
    parser.add_argument("--pin", action="store_true",
                        help="server on the last core, clients on the others (as with a load generator on its own machine)")
    args = parser.parse_args(argv)
    server_cpus = None
    if args.pin:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            parser.error("--pin needs at least 2 cores")
        server_cpus = {cores[-1]}
        os.sched_setaffinity(0, set(cores[:-1]))
    load_before = os.getloadavg()
    reference_before = cpu_reference_ms()
    results = {"SQLite": bench_backend("sqlite", None, args.events, args.requests, args.repeats, args.workers, server_cpus)}
    pg_base = os.environ.get("EQUILEARN_BENCH_POSTGRES_URL", PG_DEFAULT)
    pg_url, note = scratch_postgres(pg_base)
    if pg_url:
        try:
            results["PostgreSQL"] = bench_backend("postgres", pg_url, args.events, args.requests, args.repeats, args.workers, server_cpus)
        finally:
            drop_postgres(pg_base)
    load_after = os.getloadavg()
    reference_after = cpu_reference_ms()
    cmd = ".venv/bin/python -m experiments.bench_service" + "".join(
        f" --{k}" + ("" if v is True else f" {v}") for k, v in vars(args).items() if v != parser.get_default(k))
    lines = [
        f"# Service load benchmark (loopback{'' if args.workers == 1 else f', {args.workers} server processes'}"
        f"{', server pinned to one core, clients to the other' if args.pin else ''})", "",
        f"Command: `{cmd}`", "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"shared with other jobs: load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-min); "
        f"CPU reference loop {reference_before:.0f} ms before, {reference_after:.0f} ms after (the same loop took from "
        "about 100 to 210 ms in different runs on this virtual machine: compare runs at similar reference times).",
        f"`equilearn serve --workers {args.workers}` (uvicorn with uvloop and httptools), demo catalog (32 skills, 256 items, "
        f"192 resources), {args.events} events over 2,000 students; clients are threads with one keep-alive `http.client` "
        "connection each, " + ("on the other core." if args.pin else "on the same 2 cores (they compete with the server)."),
        "SQLite: WAL, synchronous=FULL (every acknowledged batch is on disk). Targets: >= 2,000 events/s in batches "
        "of 100; recommendation p95 <= 30 ms at 8 clients.", "",
        "## Ingestion (POST /v1/events, batches of 100, one transaction each)", "",
        "| backend | clients | events/s | batch p50 ms | batch p95 ms | events per server CPU-second |", "|---|---|---|---|---|---|",
    ]
    for backend, r in results.items():
        for clients, v in r["ingest"].items():
            lines.append(f"| {backend} | {clients} | {v['events_per_s']:,.0f} | {v['batch_p50_ms']:.1f} | {v['batch_p95_ms']:.1f} "
                         f"| {v['events_per_cpu_s']:,.0f} |")
    lines += ["", f"## Recommendations (GET /v1/students/{{id}}/recommendations?k=5, logged before returning; "
              f"{args.requests} requests per run, median of {args.repeats} runs)", "",
              "| backend | clients | p50 ms | p95 ms | p99 ms | requests/s | server CPU ms/request |", "|---|---|---|---|---|---|---|"]
    for backend, r in results.items():
        for clients, v in r["recommend"].items():
            lines.append(f"| {backend} | {clients} | {v['p50']:.1f} | {v['p95']:.1f} | {v['p99']:.1f} | {v['rps']:.0f} | {v['cpu_ms']:.1f} |")
    if not pg_url:
        lines += ["", note]
    lines += ["", "Server CPU per request/event is measured from /proc (user + system time of the server process): "
              "unlike latency it barely depends on the other jobs sharing the machine, so it shows what one "
              "unloaded core would sustain (1000 / CPU ms = requests/s per core).",
              "", "No reference service exists to compare against; the figures are for this implementation only."]
    out = OUT.with_name("service" + ("" if args.workers == 1 else f"_workers{args.workers}") + ("_pinned" if args.pin else "") + ".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
