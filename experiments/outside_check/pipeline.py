"""The documented pipeline, driven from outside: catalog bundle + response log -> ``equilearn model build``
-> ``equilearn model audit --file`` -> ``equilearn keys create`` -> ``equilearn serve`` (README, "From your
log to a served model set"). Only subprocesses of the ``equilearn`` command and files it reads.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np

from experiments.outside_check.policies import RandomItem
from experiments.outside_check.world import Cohort, Learners, World

EQUILEARN = str(Path(sys.executable).with_name("equilearn"))
LOG_START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
STEP = timedelta(hours=12)  # two practice sessions a day, for the log and for the served students


def step_time(start: datetime, step: int) -> str:
    """ISO 8601 UTC timestamp of a practice step."""
    return (start + step * STEP).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_catalog(world: World, folder: Path) -> Path:
    """The catalog as the platform knows it (noisy tags and difficulties), as a bundle folder of CSVs.

    Per skill: a core practice set and a core video, a remedial worked example, an advanced enrichment
    project. In this world resources have no effect of their own: only answered items teach."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.toml").write_text('name = "outside-check"\nversion = "1"\n')
    with open(folder / "skills.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["skill_id", "name", "prerequisites"])
        for s, sid in enumerate(world.skill_ids):
            out.writerow([sid, f"skill {sid}", ";".join(world.skill_ids[p] for p in world.prerequisites[s])])
    with open(folder / "items.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["item_id", "skill_ids", "a", "b"])
        for i, iid in enumerate(world.item_ids):
            out.writerow([iid, world.skill_ids[world.catalog_skill[i]], "1.0", f"{world.catalog_b[i]:.3f}"])
    resources = [("practice", "practice_set", "core", 1, 15), ("video", "video", "core", 1, 8),
                 ("worked", "worked_example", "remedial", 2, 12), ("project", "enrichment_project", "advanced", 1, 30)]
    with open(folder / "resources.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["resource_id", "kind", "skill_ids", "level", "tier", "minutes", "title"])
        for sid in world.skill_ids:
            for tag, kind, level, tier, minutes in resources:
                out.writerow([f"{sid}-{tag}", kind, sid, level, tier, minutes, f"{kind} on {sid}"])
    return folder


def write_random_practice_log(world: World, cohort: Cohort, steps: int, seed: int, path: Path) -> int:
    """Simulate ``cohort`` answering a random item at every step and write the generic CSV log
    (student_id, item_id, correct, timestamp). Returns the number of responses."""
    learners = Learners(world, cohort)
    policy = RandomItem(world, cohort.size, seed)
    rng = np.random.default_rng(seed + 1)
    rows: list[tuple[str, str, int, str]] = []
    for t in range(steps):
        items = policy.choose(t)
        correct = rng.random(cohort.size) < learners.p_correct(items)
        stamp = step_time(LOG_START, t)
        rows.extend((sid, world.item_ids[i], int(c), stamp) for sid, i, c in zip(cohort.student_ids, items, correct))
        learners.step(items)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["student_id", "item_id", "correct", "timestamp"])
        out.writerows(sorted(rows))  # by student, then time: the order a platform export would have
    return len(rows)


class PipelineError(RuntimeError):
    """A documented command failed; the message carries its command line and output."""


@dataclass
class Platform:
    """One outside platform's working folder and environment (its own EQUILEARN_HOME and SQLite store)."""

    workdir: Path
    code: Path | None = None  # run the equilearn commands from this source tree (e.g. an export of a commit)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(EQUILEARN_HOME=str(self.home), MLFLOW_DISABLE_TELEMETRY="true", **extra)
        if self.code is not None:  # ahead of the editable install, whose finder comes after PYTHONPATH
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.code), env.get("PYTHONPATH")]))
        return env

    def run(self, name: str, args: list[str], ok: tuple[int, ...] = (0,), timeout: float = 900,
            **extra: str) -> subprocess.CompletedProcess[str]:
        """Run ``equilearn ARGS`` in the working folder; raise PipelineError on an unexpected exit code."""
        started = time.perf_counter()
        done = subprocess.run([EQUILEARN, *args], cwd=self.workdir, env=self.env(**extra), capture_output=True,
                              text=True, timeout=timeout)
        self.timings[name] = time.perf_counter() - started
        if done.returncode not in ok:
            raise PipelineError(f"`equilearn {' '.join(args)}` exited {done.returncode}\n"
                                f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}")
        return done

    def build(self, catalog: Path, log: Path, out: Path) -> str:
        """``equilearn model build``, as the README shows; returns its printed diagnostics."""
        done = self.run("model build", ["model", "build", "--catalog", str(catalog), "--data", str(log),
                                        "--format", "generic", "--out", str(out)])
        return done.stdout

    def audit(self, model_set: Path, extra: tuple[str, ...] = (), name: str = "model audit") -> tuple[str, str]:
        """``equilearn model audit --file`` (and the options `extra`, timed as `name`): the verdict (PASS, FAIL,
        INSUFFICIENT_EVIDENCE from exit 0, 1, 2; ``crashed`` when it exits 1 with a traceback, which records nothing)
        and its output."""
        done = self.run(name, ["model", "audit", "--file", str(model_set), *extra], ok=(0, 1, 2))
        text = done.stdout + done.stderr
        if done.returncode == 1 and "Traceback (most recent call last)" in text:
            return "crashed", text
        return {0: "PASS", 1: "FAIL", 2: "INSUFFICIENT_EVIDENCE"}[done.returncode], text

    def create_key(self) -> str:
        """``equilearn keys create --scope ingest,recommend``: the key it prints once."""
        done = self.run("keys create", ["keys", "create", "--scope", "ingest,recommend"])
        key = done.stdout.strip().splitlines()[-1].strip()
        if not key.startswith("eqk_"):
            raise PipelineError(f"`keys create` printed no key: {done.stdout!r}")
        return key


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``EQUILEARN_MODEL_SET_FILE=SET equilearn serve --port P`` in the platform's folder, until closed.

    ``verdict`` is `model audit`'s: PASS serves as documented; FAIL (which the development flag does not
    lift) serves with the documented ``EQUILEARN_REQUIRE_PASSING_AUDIT=false``; anything else (not audited,
    crashed, INSUFFICIENT_EVIDENCE) with ``--allow-unaudited``, so the check can still measure the policy."""

    def __init__(self, platform: Platform, model_set: Path, verdict: str, ready_timeout: float = 180):
        self.platform, self.port = platform, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        args = [EQUILEARN, "serve", "--port", str(self.port), "--log-level", "warning"]
        extra = {"EQUILEARN_MODEL_SET_FILE": str(model_set)}
        if verdict == "FAIL":
            extra["EQUILEARN_REQUIRE_PASSING_AUDIT"] = "false"
        elif verdict != "PASS":
            args.append("--allow-unaudited")
        self.log_path = platform.workdir / "server.log"
        self._log = open(self.log_path, "w")
        started = time.perf_counter()
        self.process = subprocess.Popen(args, cwd=platform.workdir, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=platform.env(**extra))
        self.readyz = self._wait_ready(ready_timeout)
        platform.timings["serve until ready"] = time.perf_counter() - started

    def _wait_ready(self, timeout: float) -> dict:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.close()
                raise PipelineError(f"`equilearn serve` exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                answer = httpx.get(self.base_url + "/readyz", timeout=5)
                if answer.status_code == 200:
                    return answer.json()
                last = f"{answer.status_code} {answer.text[:500]}"
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.5)
        self.close()
        raise PipelineError(f"server not ready after {timeout:.0f} s: {last}\n{self.log_tail()}")

    def log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-3000:]

    def close(self) -> None:
        """Stop the server process this object started (SIGTERM, then SIGKILL after 20 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
