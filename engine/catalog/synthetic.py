"""Deterministic generators of catalog tables: items and resources for a skill graph, and whole
synthetic catalogs of any size (for benchmarks and tests).

The demo bundle's `items.csv`, `resources.csv` and `skill_params.csv` were written by
`write_generated_tables(demo folder)` from its hand-written `skills.toml`; rerunning it reproduces them.

Rules (the same for every catalog):
- Items: `items_per_skill` per skill; difficulty b centred on -1.5 + 3 * depth / max depth (deeper skills
  are harder) and spread -0.9..0.9 within the skill; discrimination a ~ lognormal(0.1, 0.2) in [0.5, 2.2];
  every fourth item is multiple choice with c = 0.2, the rest open response with c = 0.
- Resources per skill: core practice set, video and reading on the skill; remedial worked examples and
  scaffolded practice on the skill plus its direct prerequisites; an advanced enrichment project on the
  skill plus up to two skills that build on it.
- Skill parameters (population priors for cold start): P(known) falls with depth from 0.55 to 0.15;
  learn 0.2, guess 0.2, slip 0.1, forget 0.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.catalog.bundle import RawBundle, read_table
from engine.catalog.graph import build_graph
from engine.catalog.schema import LIST_SEPARATOR

RESOURCE_TEMPLATES: tuple[tuple[str, str, str, float, str], ...] = (
    # suffix, kind, level, minutes, coverage (skill | with_prerequisites | with_dependents)
    ("practice", "practice_set", "core", 15.0, "skill"),
    ("video", "video", "core", 8.0, "skill"),
    ("reading", "reading", "core", 10.0, "skill"),
    ("worked", "worked_example", "remedial", 12.0, "with_prerequisites"),
    ("scaffold", "practice_set", "remedial", 15.0, "with_prerequisites"),
    ("project", "enrichment_project", "advanced", 40.0, "with_dependents"),
)
TITLES = {
    "practice": "{name}: practice set",
    "video": "{name}: video lesson",
    "reading": "{name}: reading",
    "worked": "{name}: worked examples, reviewing what it builds on",
    "scaffold": "{name}: scaffolded practice with hints",
    "project": "{name}: enrichment project",
}


def _depth(skills: pl.DataFrame) -> np.ndarray:
    graph = build_graph(skills["skill_id"].to_list(), skills["prerequisites"].to_list())
    return graph.depth


def generate_items(skills: pl.DataFrame, items_per_skill: int = 8, seed: int = 2009) -> pl.DataFrame:
    """Items table (item_id, skill_ids, a, b, c, format) for an acyclic skills table."""
    rng = np.random.default_rng(seed)
    depth = _depth(skills)
    centre = -1.5 + 3.0 * depth / max(int(depth.max(initial=0)), 1)
    spread = np.linspace(-0.9, 0.9, items_per_skill)
    rows = []
    for s, skill in enumerate(skills["skill_id"].to_list()):
        b = centre[s] + spread + rng.normal(0.0, 0.15, items_per_skill)
        a = np.clip(rng.lognormal(0.1, 0.2, items_per_skill), 0.5, 2.2)
        for j in range(items_per_skill):
            mc = j % 4 == 3
            rows.append({
                "item_id": f"{skill}-{j + 1:02d}", "skill_ids": [skill], "a": round(float(a[j]), 3),
                "b": round(float(b[j]), 3), "c": 0.2 if mc else 0.0, "format": "multiple_choice" if mc else "open",
            })
    return pl.DataFrame(rows, schema={"item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "a": pl.Float64,
                                      "b": pl.Float64, "c": pl.Float64, "format": pl.Utf8})


def generate_resources(skills: pl.DataFrame) -> pl.DataFrame:
    """Resources table: six per skill at the three levels (see the module docstring)."""
    ids = skills["skill_id"].to_list()
    names = dict(zip(ids, skills["name"].to_list()))
    prereqs = dict(zip(ids, skills["prerequisites"].to_list()))
    dependents: dict[str, list[str]] = {s: [] for s in ids}
    for s in ids:
        for p in prereqs[s]:
            dependents[p].append(s)
    rows = []
    for s in ids:
        for suffix, kind, level, minutes, coverage in RESOURCE_TEMPLATES:
            covered = [s]
            if coverage == "with_prerequisites":
                covered += list(prereqs[s])
            elif coverage == "with_dependents":
                covered += dependents[s][:2]
            title = TITLES[suffix].format(name=names[s])
            if coverage == "with_dependents" and len(covered) > 1:
                title += ", leading into " + " and ".join(names[c] for c in covered[1:])
            rows.append({"resource_id": f"{s}.{suffix}", "kind": kind, "skill_ids": covered, "level": level,
                         "tier": 1, "minutes": minutes, "title": title})
    return pl.DataFrame(rows, schema={"resource_id": pl.Utf8, "kind": pl.Utf8, "skill_ids": pl.List(pl.Utf8),
                                      "level": pl.Utf8, "tier": pl.Int64, "minutes": pl.Float64, "title": pl.Utf8})


def generate_skill_params(skills: pl.DataFrame) -> pl.DataFrame:
    """Population priors per skill (skill_id, prior, learn, guess, slip, forget) for cold start."""
    depth = _depth(skills)
    prior = 0.55 - 0.40 * depth / max(int(depth.max(initial=0)), 1)
    n = skills.height
    return pl.DataFrame({
        "skill_id": skills["skill_id"], "prior": np.round(prior, 3), "learn": np.full(n, 0.2),
        "guess": np.full(n, 0.2), "slip": np.full(n, 0.1), "forget": np.zeros(n),
    })


def random_skill_graph(n_skills: int, seed: int = 0, max_prerequisites: int = 2, window: int = 8) -> pl.DataFrame:
    """A random acyclic skills table: skill j draws up to `max_prerequisites` from the `window` skills before it."""
    rng = np.random.default_rng(seed)
    ids = [f"s{j:04d}" for j in range(n_skills)]
    prereqs: list[list[str]] = []
    for j in range(n_skills):
        pool = list(range(max(0, j - window), j))
        k = min(len(pool), int(rng.integers(0, max_prerequisites + 1)))
        chosen = sorted(rng.choice(pool, size=k, replace=False).tolist()) if k else []
        prereqs.append([ids[p] for p in chosen])
    return pl.DataFrame({"skill_id": ids, "name": [f"Skill {j}" for j in range(n_skills)], "prerequisites": prereqs},
                        schema={"skill_id": pl.Utf8, "name": pl.Utf8, "prerequisites": pl.List(pl.Utf8)})


def synthetic_bundle(n_skills: int = 100, items_per_skill: int = 10, seed: int = 0) -> RawBundle:
    """A whole random catalog (n_skills * items_per_skill items, 6 resources per skill, no interventions)."""
    skills = random_skill_graph(n_skills, seed=seed)
    bundle = RawBundle(source=f"synthetic(n_skills={n_skills}, items_per_skill={items_per_skill}, seed={seed})",
                       name="synthetic", version=f"{seed}")
    bundle.tables = {
        "skills": skills,
        "items": generate_items(skills, items_per_skill, seed=seed),
        "resources": generate_resources(skills),
        "interventions": pl.DataFrame(),
        "skill_params": generate_skill_params(skills),
    }
    return bundle


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns([pl.col(c).list.join(LIST_SEPARATOR) for c, t in frame.schema.items() if isinstance(t, pl.List)])


def write_generated_tables(folder: str | Path, items_per_skill: int = 8, seed: int = 2009) -> None:
    """(Re)write items.csv, resources.csv and skill_params.csv of the bundle at `folder` from its skills table."""
    folder = Path(folder)
    skills = read_table(next(folder.glob("skills.*")), "skills")
    _csv_ready(generate_items(skills, items_per_skill, seed)).write_csv(folder / "items.csv")
    _csv_ready(generate_resources(skills)).write_csv(folder / "resources.csv")
    generate_skill_params(skills).write_csv(folder / "skill_params.csv")
