"""Canonical tables of DESIGN.md as polars schemas.

Every loader maps its public format onto these; every consumer may rely on them after `validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

UTC_DATETIME = pl.Datetime("us", "UTC")
SKILL_LIST = pl.List(pl.Utf8)


@dataclass(frozen=True)
class TableSchema:
    """Required and optional columns of one canonical table, plus its row-level rules."""

    name: str
    required: dict[str, pl.DataType]
    optional: dict[str, pl.DataType] = field(default_factory=dict)
    id_columns: tuple[str, ...] = ()  # must be non-empty strings
    unit_interval: tuple[str, ...] = ()  # must lie in [0, 1]
    unique_key: tuple[str, ...] = ()  # no two rows may share these values
    allowed: dict[str, tuple] = field(default_factory=dict)  # closed vocabularies
    positive: tuple[str, ...] = ()  # must be > 0

    @property
    def columns(self) -> dict[str, pl.DataType]:
        return {**self.required, **self.optional}


RESPONSES = TableSchema(
    name="responses",
    required={
        "student_id": pl.Utf8,
        "item_id": pl.Utf8,
        "skill_ids": SKILL_LIST,
        "correct": pl.Float64,
        "seq": pl.Int64,
    },
    # steered: engine.data.steering; resource_id: the resource used just before the answer (engine.recommend.resource_value)
    optional={"timestamp": UTC_DATETIME, "steered": pl.Boolean, "resource_id": pl.Utf8},
    id_columns=("student_id", "item_id"),
    unit_interval=("correct",),
    unique_key=("student_id", "seq"),
)

ROSTER = TableSchema(
    name="roster",
    required={"student_id": pl.Utf8},
    id_columns=("student_id",),
    unique_key=("student_id",),
)

QMATRIX = TableSchema(
    name="qmatrix",
    required={"item_id": pl.Utf8, "skill_id": pl.Utf8},
    id_columns=("item_id", "skill_id"),
    unique_key=("item_id", "skill_id"),
)

SKILLS = TableSchema(
    name="skills",
    required={"skill_id": pl.Utf8, "name": pl.Utf8, "prerequisites": SKILL_LIST},
    id_columns=("skill_id",),
    unique_key=("skill_id",),
)

ITEMS = TableSchema(
    name="items",
    required={"item_id": pl.Utf8, "skill_ids": SKILL_LIST},
    optional={"a": pl.Float64, "b": pl.Float64, "c": pl.Float64},
    id_columns=("item_id",),
    unit_interval=("c",),
    unique_key=("item_id",),
)

RESOURCES = TableSchema(
    name="resources",
    required={
        "resource_id": pl.Utf8,
        "kind": pl.Utf8,
        "skill_ids": SKILL_LIST,
        "level": pl.Utf8,
        "tier": pl.Int64,
    },
    optional={"minutes": pl.Float64, "capacity": pl.Int64, "title": pl.Utf8},
    id_columns=("resource_id",),
    unique_key=("resource_id",),
    allowed={"level": ("remedial", "core", "advanced"), "tier": (1, 2, 3)},
    positive=("minutes",),
)

SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (RESPONSES, ROSTER, QMATRIX, SKILLS, ITEMS, RESOURCES)
}

RESOURCE_LEVELS = RESOURCES.allowed["level"]
RESOURCE_TIERS = RESOURCES.allowed["tier"]
