"""Vocabularies of the catalog and the one table the shared schemas do not define: interventions.

Skills, items and resources use `engine.data.schema` (SKILLS, ITEMS, RESOURCES); resource kinds and
intervention kinds are closed vocabularies checked here, so a typo in a bundle is named, not guessed.
"""

from __future__ import annotations

import re

import polars as pl

from engine.data.schema import RESOURCE_LEVELS, TableSchema

RESOURCE_KINDS: tuple[str, ...] = ("practice_set", "video", "worked_example", "reading", "enrichment_project")
LEVELS: tuple[str, ...] = tuple(RESOURCE_LEVELS)  # remedial, core, advanced: index = level code
REMEDIAL, CORE, ADVANCED = (LEVELS.index(x) for x in ("remedial", "core", "advanced"))

INTERVENTION_KINDS: tuple[str, ...] = ("small_group", "individual_tutoring", "teacher_conference")

INTERVENTIONS = TableSchema(
    name="interventions",
    required={
        "intervention_id": pl.Utf8,
        "kind": pl.Utf8,
        "tier": pl.Int64,
        "capacity_per_week": pl.Int64,
    },
    optional={"minutes": pl.Float64, "title": pl.Utf8},
    id_columns=("intervention_id",),
    unique_key=("intervention_id",),
    allowed={"kind": INTERVENTION_KINDS, "tier": (1, 2, 3)},
    positive=("minutes",),
)

# Population priors per skill for cold start (a fitted BKT model's parameters can replace them).
SKILL_PARAMS = TableSchema(
    name="skill_params",
    required={"skill_id": pl.Utf8, "prior": pl.Float64, "learn": pl.Float64, "guess": pl.Float64, "slip": pl.Float64},
    optional={"forget": pl.Float64},
    id_columns=("skill_id",),
    unique_key=("skill_id",),
    unit_interval=("prior", "learn", "guess", "slip", "forget"),
)

# CSV cells hold lists (prerequisites, skill_ids) as text joined by this separator.
LIST_SEPARATOR = ";"


def list_cell_hint(value: str, known: set[str]) -> str:
    """For an unknown id that is really a list written with another separator ('s1|s2', 's1,s2', '["s1", "s2"]'):
    how list cells are written; else ''."""
    parts = [p.strip().strip("'\"") for p in re.split(r"[|,/]", value.strip().strip("[]"))]
    if len(parts) > 1 and all(p in known for p in parts):
        return f"list cells are separated by {LIST_SEPARATOR!r}: write {LIST_SEPARATOR.join(parts)!r}"
    return ""
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "skills": ("prerequisites",),
    "items": ("skill_ids",),
    "resources": ("skill_ids",),
    "interventions": (),
    "skill_params": (),
}
TABLES: tuple[str, ...] = ("skills", "items", "resources", "interventions", "skill_params")
