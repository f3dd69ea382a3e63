"""The README's pipeline on catalogs and logs of other shapes than ours -> experiments/results/pipeline_shapes.md

    .venv/bin/python -m experiments.pipeline_shapes [--shapes minimal,large] [--code TREE] [--workdir DIR]

An outside platform builds its model set with the documented commands from its own catalog and log, whose shape we do
not choose: no IRT parameters, one resource per skill, items tagged to two skills, answers as true/false, times as
Unix seconds or none, numeric ids, a flat or a chain-shaped prerequisite graph, a catalog too large for its log to
give any item 30 answers. Per shape (`SHAPES`) this writes the catalog (CSV bundle) and a random-practice log, then
runs `equilearn model build --format generic`, `equilearn model audit --file` (once more with `--sim-students-max`
twice the default when the first is undecided, as its summary advises), `equilearn keys create`, `equilearn serve`,
and over HTTP: a brand-new student's recommendations, three answer events, the recommendations after them and the
student's mastery. A row shows what a platform would see at each step: the verdict, the status codes, how many items
the first list offered.

The learners behind the log: per skill a proficiency N(student's general level, 0.5^2); an answer is right with
probability sigmoid(proficiency - b) and practice adds 0.1 to the proficiency of the item's first skill. The point
is the shape of the data, not the learning (the learner-model suite and the outside check measure that).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from experiments.outside_check.pipeline import Platform, PipelineError, Server

RESULTS = Path(__file__).resolve().parent / "results"
UNDECIDED_RETRY = 8000  # --sim-students-max of the second audit (twice the default of 4,000)
CALIBRATED = 30  # answers an item needs to be calibrated by `model build` (its --min-item-responses default)


@dataclass(frozen=True)
class Shape:
    """A platform's catalog and log: sizes, graph (`random`: one or two earlier prerequisites, `chain`, `flat`), and
    the catalog's and log's particulars."""

    name: str
    skills: int
    items_per_skill: int
    students: int
    steps: int
    graph: str = "random"
    irt_params: bool = True
    all_levels: bool = True  # core, remedial (over the direct prerequisites) and advanced; else one core practice set
    two_tags: bool = False  # each skill's first item also tagged to its first prerequisite
    correct_as: str = "01"  # "01" or "bool" (true/false)
    times: str = "iso"  # "iso", "unix" (seconds) or "none" (no timestamp column)
    numeric_ids: bool = False
    description: str = ""


SHAPES: tuple[Shape, ...] = (
    Shape("minimal", 10, 8, 150, 40, irt_params=False, all_levels=False, times="none",
          description="no IRT parameters, one core practice set per skill, no answer times"),
    Shape("small-log", 12, 6, 100, 20, description="the smallest log the README speaks of"),
    Shape("two-tags", 15, 10, 200, 50, two_tags=True, correct_as="bool", times="unix",
          description="items tagged to two skills, answers as true/false, times as Unix seconds"),
    Shape("numeric-ids", 10, 8, 150, 40, numeric_ids=True, description="student, item and skill ids that are numbers"),
    Shape("chain", 25, 8, 200, 60, graph="chain", description="25 skills in one chain of prerequisites"),
    Shape("flat", 30, 8, 200, 60, graph="flat", description="30 skills without prerequisites"),
    Shape("large", 60, 20, 300, 50, description=f"about 12 answers an item: none has the {CALIBRATED} the build calibrates on"),
)


def _prerequisites(shape: Shape, rng: np.random.Generator) -> list[list[int]]:
    if shape.graph == "flat":
        return [[] for _ in range(shape.skills)]
    if shape.graph == "chain":
        return [[] if k == 0 else [k - 1] for k in range(shape.skills)]
    return [[] if k == 0 else sorted(rng.choice(k, size=min(k, int(rng.integers(1, 3))), replace=False).tolist())
            for k in range(shape.skills)]


def write_platform(shape: Shape, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    """The shape's catalog bundle (`folder/catalog`) and random-practice log (`folder/log.csv`)."""
    rng = np.random.default_rng(seed)
    catalog = folder / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    skills = [str(k + 1) if shape.numeric_ids else f"S{k:02d}" for k in range(shape.skills)]
    prereq = _prerequisites(shape, rng)
    with open(catalog / "skills.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["skill_id", "prerequisites"])
        out.writerows([s, ";".join(skills[p] for p in prereq[k])] for k, s in enumerate(skills))
    item_ids, item_skill, item_b = [], [], []
    with open(catalog / "items.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["item_id", "skill_ids"] + (["a", "b"] if shape.irt_params else []))
        for k, s in enumerate(skills):
            for j in range(shape.items_per_skill):
                item = str(1000 * (k + 1) + j) if shape.numeric_ids else f"{s}-{j}"
                b = -1.5 + 3.0 * k / shape.skills + rng.normal(0.0, 0.6)
                tags = f"{s};{skills[prereq[k][0]]}" if shape.two_tags and j == 0 and prereq[k] else s
                params = [f"{rng.uniform(0.7, 1.8):.2f}", f"{b:.2f}"] if shape.irt_params else []
                out.writerow([item, tags, *params])
                item_ids.append(item)
                item_skill.append(k)
                item_b.append(b)
    with open(catalog / "resources.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["resource_id", "kind", "skill_ids", "level"])
        for k, s in enumerate(skills):
            out.writerow([f"{s}-practice", "practice_set", s, "core"])
            if shape.all_levels:
                out.writerow([f"{s}-worked", "worked_example", ";".join([s] + [skills[p] for p in prereq[k]]), "remedial"])
                out.writerow([f"{s}-project", "enrichment_project", s, "advanced"])
    log = folder / "log.csv"
    _write_log(shape, np.array(item_ids), np.array(item_skill), np.array(item_b), rng, log)
    return catalog, log


def _write_log(shape: Shape, item_ids: np.ndarray, item_skill: np.ndarray, item_b: np.ndarray, rng: np.random.Generator,
               path: Path) -> None:
    """Random practice (module docstring), one row per answer, in time order."""
    n = shape.students
    rows = np.arange(n)
    proficiency = rng.normal(0.0, 1.0, (n, 1)) + rng.normal(0.0, 0.5, (n, shape.skills))
    students = np.array([str(s + 1) if shape.numeric_ids else f"stu{s:04d}" for s in range(n)])
    columns = ["student_id", "item_id", "correct"] + ([] if shape.times == "none" else ["timestamp"])
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for t in range(shape.steps):
            item = rng.integers(0, item_ids.size, n)
            right = rng.random(n) < 1.0 / (1.0 + np.exp(-(proficiency[rows, item_skill[item]] - item_b[item])))
            proficiency[rows, item_skill[item]] += 0.1
            correct = np.where(right, "true", "false") if shape.correct_as == "bool" else right.astype(int).astype(str)
            stamp = ([] if shape.times == "none" else
                     [str(1_700_000_000 + 86_400 * t)] if shape.times == "unix" else
                     [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + 86_400 * t))])
            out.writerows([students[s], item_ids[item[s]], correct[s], *stamp] for s in range(n))


def most_answers(log: Path) -> int:
    """Answers on the log's most answered item."""
    with open(log, newline="") as fh:
        items = [row["item_id"] for row in csv.DictReader(fh)]
    return int(np.unique(items, return_counts=True)[1].max())


@dataclass
class Outcome:
    shape: Shape
    most_answers: int = 0  # answers on the log's most answered item (the build calibrates items with CALIBRATED or more)
    build_s: float = float("nan")
    verdict: str = "not run"
    audit_s: float = float("nan")
    retry: str = ""  # the second audit's verdict, with --sim-students-max UNDECIDED_RETRY
    new_student: str = ""  # status and number of items in a brand-new student's first list
    events: str = ""
    after: str = ""
    mastery: str = ""
    error: str = ""


def run_shape(shape: Shape, workdir: Path, code: Path | None) -> Outcome:
    """The README's commands and the HTTP calls on one shape (module docstring)."""
    outcome = Outcome(shape)
    folder = workdir / shape.name
    catalog, log = write_platform(shape, folder)
    outcome.most_answers = most_answers(log)
    platform = Platform(folder, code=code)
    model_set = folder / "model_set.json"
    try:
        platform.build(catalog, log, model_set)
        outcome.build_s = platform.timings["model build"]
        outcome.verdict, _ = platform.audit(model_set)
        outcome.audit_s = platform.timings["model audit"]
        verdict = outcome.verdict
        if verdict == "INSUFFICIENT_EVIDENCE":
            verdict, _ = platform.audit(model_set, ("--sim-students-max", str(UNDECIDED_RETRY)), "model audit (larger)")
            outcome.retry = f"{verdict} ({platform.timings['model audit (larger)']:.0f} s)"
        key = platform.create_key()
        with Server(platform, model_set, verdict) as server:
            outcome.new_student, outcome.events, outcome.after, outcome.mastery = _drive(server.base_url, key, shape)
    except (PipelineError, httpx.HTTPError, KeyError, ValueError) as error:
        lines = str(error).strip().splitlines()  # a PipelineError: the command line first, its own message last
        outcome.error = lines[-1][:300] if lines else type(error).__name__
    return outcome


def _drive(base_url: str, key: str, shape: Shape) -> tuple[str, str, str, str]:
    """A brand-new student: first list, three answers to its first item, the list after them, the mastery."""
    student = "900001" if shape.numeric_ids else "brand-new"
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60) as client:
        first = client.get(f"/v1/students/{student}/recommendations?k=5")
        items = [r["item_id"] for r in first.json().get("recommendations", [])] if first.status_code == 200 else []
        new_student = f"{first.status_code}, {len(items)} items"
        if not items:
            return new_student, "", "", ""
        events = [{"event_id": f"{student}-{j}", "student_id": student, "item_id": items[0], "correct": j % 2,
                   "timestamp": f"2026-01-0{j + 1}T10:00:00Z"} for j in range(3)]
        posted = client.post("/v1/events", json={"events": events})
        stored = posted.json().get("stored") if posted.status_code == 200 else None
        after = client.get(f"/v1/students/{student}/recommendations?k=5")
        again = len(after.json().get("recommendations", [])) if after.status_code == 200 else 0
        mastery = client.get(f"/v1/students/{student}/mastery")
        responses = mastery.json().get("n_responses") if mastery.status_code == 200 else None
        return (new_student, f"{posted.status_code}, {stored} stored", f"{after.status_code}, {again} items",
                f"{mastery.status_code}, {responses} responses")


def markdown(outcomes: list[Outcome], command: str, seconds: float, load: tuple[float, float, float]) -> str:
    lines = ["# The README's pipeline on catalogs and logs of other shapes", "",
             f"Command: `{command}` ({seconds / 60:.0f} min; load average before {', '.join(f'{x:.2f}' for x in load)}). "
             "What it does: the module docstring of `experiments/pipeline_shapes.py`.", "",
             "| shape | catalog and log | most answers on one item | model build | model audit | audit again, "
             f"--sim-students-max {UNDECIDED_RETRY} | new student: first list | 3 answer events | list after them | mastery | "
             "error |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        s = o.shape
        sizes = (f"{s.skills} skills x {s.items_per_skill} items, {s.students} students x {s.steps} answers: "
                 f"{s.description}")
        lines.append(f"| {s.name} | {sizes} | {o.most_answers} | {o.build_s:.0f} s | {o.verdict} ({o.audit_s:.0f} s) | "
                     f"{o.retry or '-'} | {o.new_student} | {o.events} | {o.after} | {o.mastery} | {o.error or '-'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(s.name for s in SHAPES), help="comma-separated names from SHAPES")
    ap.add_argument("--code", type=Path, default=None, help="run the equilearn commands from this source tree")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/equilearn-pipeline-shapes"))
    ap.add_argument("--out", type=Path, default=RESULTS / "pipeline_shapes.md")
    args = ap.parse_args()
    by_name = {s.name: s for s in SHAPES}
    unknown = [n for n in args.shapes.split(",") if n not in by_name]
    if unknown:
        ap.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    load, started = os.getloadavg(), time.perf_counter()
    outcomes = []
    for name in args.shapes.split(","):
        outcomes.append(run_shape(by_name[name], args.workdir, args.code))
        print(f"[pipeline_shapes] {name}: build {outcomes[-1].build_s:.0f} s, audit {outcomes[-1].verdict}", flush=True)
    command = ".venv/bin/python -m experiments.pipeline_shapes" + ("" if args.shapes == ",".join(by_name) else
                                                                  f" --shapes {args.shapes}")
    args.out.write_text(markdown(outcomes, command, time.perf_counter() - started, load))


if __name__ == "__main__":
    main()
