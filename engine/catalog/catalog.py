"""`Catalog`: validated skills, items, resources and interventions, plus the index arrays the engine reads.

`build_catalog` checks every table against its schema (engine/data/schema.py) and the cross-table
rules (unknown skills, prerequisite cycles, unknown kinds, non-positive discrimination) and raises one
`DataValidationError` listing all problems. Items without IRT parameters get a=1, b=0, c=0, skills without a
name their id, resources without a tier tier 1 (and without minutes none), and the counts are recorded in
`notes` (never silently).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

from engine.catalog.bundle import RawBundle, read_bundle
from engine.catalog.graph import PrerequisiteGraph, build_graph, cycle_problems, reference_problems
from engine.catalog.schema import INTERVENTIONS, LEVELS, RESOURCE_KINDS, SKILL_PARAMS, list_cell_hint
from engine.data.schema import ITEMS, RESOURCES, SKILLS, SKILL_LIST, TableSchema
from engine.data.validate import find_problems
from engine.errors import DataValidationError, NotFoundError, Problem

DEMO_CATALOG_PATH = Path(__file__).resolve().parent / "demo"
DEFAULT_IRT = {"a": 1.0, "b": 0.0, "c": 0.0}
# Beyond these an item parameter is a unit or sign mistake, not a calibration (calibrated banks keep a within 0-5 and
# b within +-6 logits), and the engine's arithmetic overflows on values like 1e300
MAX_ABS_IRT = 20.0
ID_LENGTH = 255  # the longest id the store keeps (engine.store.schema.ID_LENGTH): events could never name a longer one
SCHEMAS = {"skills": SKILLS, "items": ITEMS, "resources": RESOURCES, "interventions": INTERVENTIONS,
           "skill_params": SKILL_PARAMS}


def _tagged(problems: list[Problem], table: str) -> list[Problem]:
    return [dataclasses.replace(p, hint=f"[{table}] {p.hint}") for p in problems]


def _validated(frame: pl.DataFrame, schema: TableSchema, problems: list[Problem]) -> pl.DataFrame:
    cast, found = find_problems(frame, schema)
    problems.extend(_tagged(found, schema.name))
    return cast


def _stem(name: str) -> str:
    letters = "".join(ch for ch in name.lower() if ch.isalnum())
    return letters[:-1] if letters.endswith("s") else letters


def misspelt_column(column: str, known: Iterable[str]) -> str | None:
    """The known column `column` is a misspelling of, else None: the same name but for case, separators or a plural
    ('Skill-IDs', 'skill_id' for 'skill_ids'), a shortening of at least four letters ('prereqs' for 'prerequisites'),
    or a near spelling (difflib ratio >= 0.8, 'prerequisities')."""
    stem = _stem(column)
    for name in known:
        other = _stem(name)
        if stem == other or (min(len(stem), len(other)) >= 4 and (other.startswith(stem) or stem.startswith(other))):
            return name
    close = difflib.get_close_matches(column, list(known), n=1, cutoff=0.8)
    return close[0] if close else None


def column_name_problems(tables: dict[str, pl.DataFrame], notes: list[str]) -> list[Problem]:
    """A column the table's schema does not know that misspells one it does (`misspelt_column`) is a problem: its
    values would be ignored and the catalog served without them. Other unknown columns are kept but unused by the
    engine, and named in `notes`."""
    problems: list[Problem] = []
    for table, frame in tables.items():
        known = SCHEMAS[table].columns
        unused = []
        for column in (c for c in frame.columns if c not in known):
            meant = misspelt_column(column, known)
            if meant is None:
                unused.append(column)
            else:
                problems.append(Problem(None, column, None, f"[{table}] unknown column {column!r}: did you mean {meant!r}? "
                                                            "rename it (as it is, its values would be ignored)"))
        if unused:
            notes.append(f"{table}: column(s) not used by the engine: {', '.join(sorted(unused))}")
    return problems


def _id_length_problems(frame: pl.DataFrame, table: str, column: str) -> list[Problem]:
    return [Problem(row, column, value[:40] + "...", f"[{table}] ids are at most {ID_LENGTH} characters (answer events "
                                                     "could never name a longer one); shorten it")
            for row, value in enumerate(frame[column].to_list(), start=1) if isinstance(value, str) and len(value) > ID_LENGTH]


def _unknown_skill_problems(frame: pl.DataFrame, table: str, id_column: str, known: set[str]) -> list[Problem]:
    """Rows whose `skill_ids` list is empty or names a skill the catalog does not have."""
    if "skill_ids" not in frame.columns or frame.schema["skill_ids"] != SKILL_LIST:
        return []
    problems: list[Problem] = []
    for row, (owner, skills) in enumerate(zip(frame[id_column].to_list(), frame["skill_ids"].to_list()), start=1):
        if skills is None:
            continue  # reported as missing by the schema check
        if not skills:
            problems.append(Problem(row, "skill_ids", owner, f"[{table}] {owner!r} names no skill; list at least one skill id"))
        for s in skills:
            if s not in known:
                problems.append(Problem(row, "skill_ids", s, f"[{table}] {owner!r} refers to unknown skill {s!r}; "
                                        + (list_cell_hint(s, known) or "add it to skills or fix the id")))
    return problems


def _vocabulary_problems(frame: pl.DataFrame, table: str, column: str, allowed: tuple[str, ...]) -> list[Problem]:
    if column not in frame.columns:
        return []
    bad = [(i, v) for i, v in enumerate(frame[column].to_list(), start=1) if v is not None and v not in allowed]
    return [Problem(row, column, v, f"[{table}] must be one of {', '.join(allowed)}") for row, v in bad]


DEFAULT_TIER = 1  # tier 1 of a multi-tiered system of support: what every student may use on their own


def _with_default(frame: pl.DataFrame, column: str, default: pl.Expr) -> tuple[pl.DataFrame, int]:
    """`frame` with `column` filled by `default` where absent or empty (cast to the column's type), and how many
    rows were filled."""
    if column not in frame.columns:
        return frame.with_columns(default.alias(column)), frame.height
    missing = int(frame[column].is_null().sum())
    if missing:
        frame = frame.with_columns(pl.col(column).fill_null(default.cast(frame.schema[column])))
    return frame, missing


def _fill_descriptive_defaults(skills: pl.DataFrame, resources: pl.DataFrame,
                               notes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Descriptive columns a platform's catalog may leave out, filled where absent or empty: a skill's `name` (its
    id), a resource's `tier` (1) and `minutes` (unknown: no value). Nothing the models or the policy read; the
    count filled is recorded in `notes`."""
    filled = []
    if "skill_id" in skills.columns:
        skills, missing = _with_default(skills, "name", pl.col("skill_id").cast(pl.Utf8))
        if missing:
            filled.append(f"name = skill id for {missing} skill(s)")
    resources, missing = _with_default(resources, "tier", pl.lit(DEFAULT_TIER, dtype=pl.Int64))
    if missing:
        filled.append(f"tier = {DEFAULT_TIER} for {missing} resource(s)")
    resources, _ = _with_default(resources, "minutes", pl.lit(None, dtype=pl.Float64))
    if filled:
        notes.append("catalog columns left out got defaults: " + ", ".join(filled))
    return skills, resources


def _fill_irt_defaults(items: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Give every item a, b, c (defaults for missing values), recording how many were filled."""
    filled = []
    for column, default in DEFAULT_IRT.items():
        if column not in items.columns:
            items = items.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
        missing = int(items[column].is_null().sum())
        if missing:
            filled.append(f"{column}={default} for {missing} item(s)")
        items = items.with_columns(pl.col(column).cast(pl.Float64).fill_null(default))
    if filled:
        notes.append("items without IRT parameters got defaults: " + ", ".join(filled))
    return items


def _skill_matrix(lists: list[list[str]], index: dict[str, int]) -> np.ndarray:
    """(rows, S) bool membership matrix from per-row skill-id lists."""
    matrix = np.zeros((len(lists), len(index)), dtype=bool)
    rows = [r for r, skills in enumerate(lists) for _ in skills]
    cols = [index[s] for skills in lists for s in skills]
    matrix[rows, cols] = True
    return matrix


class Catalog:
    """Validated catalog tables and index arrays (S skills, I items, R resources).

    Arrays: `item_skills` (I, S) bool, `item_skill` (I,) primary skill, `item_a/b/c` (I,) IRT parameters,
    `items_by_skill` (S, M) item indices padded with -1, `resource_skills` (R, S) bool, `resource_skill`
    (R,) primary skill (the first listed), `resource_kind` (R,) codes into RESOURCE_KINDS,
    `resource_level` (R,) codes into LEVELS (0 remedial, 1 core, 2 advanced), `resource_minutes` (R,).
    """

    def __init__(self, name: str, version: str, source: str, skills: pl.DataFrame, items: pl.DataFrame,
                 resources: pl.DataFrame, interventions: pl.DataFrame, graph: PrerequisiteGraph,
                 skill_params: pl.DataFrame | None = None, notes: list[str] | None = None) -> None:
        self.name, self.version, self.source = name, version, source
        self.skills, self.items, self.resources, self.interventions = skills, items, resources, interventions
        self.skill_params = pl.DataFrame(schema=SKILL_PARAMS.columns) if skill_params is None else skill_params
        self.graph = graph
        self.notes = tuple(notes or ())
        self.skill_ids: tuple[str, ...] = tuple(skills["skill_id"].to_list())
        self.item_ids: tuple[str, ...] = tuple(items["item_id"].to_list())
        self.resource_ids: tuple[str, ...] = tuple(resources["resource_id"].to_list())
        self._skill_index = {s: i for i, s in enumerate(self.skill_ids)}
        self._item_index = {s: i for i, s in enumerate(self.item_ids)}
        self._resource_index = {s: i for i, s in enumerate(self.resource_ids)}
        item_lists = items["skill_ids"].to_list()
        self.item_skills = _skill_matrix(item_lists, self._skill_index)
        self.item_skill = np.array([self._skill_index[s[0]] for s in item_lists], dtype=np.int64)
        self.item_a = items["a"].to_numpy().astype(float)
        self.item_b = items["b"].to_numpy().astype(float)
        self.item_c = items["c"].to_numpy().astype(float)
        self.items_by_skill = self._pad_items_by_skill()
        res_lists = resources["skill_ids"].to_list()
        self.resource_skills = _skill_matrix(res_lists, self._skill_index)
        self.resource_skill = np.array([self._skill_index[s[0]] for s in res_lists], dtype=np.int64)
        self.resource_kind = np.array([RESOURCE_KINDS.index(k) for k in resources["kind"].to_list()], dtype=np.int64)
        self.resource_level = np.array([LEVELS.index(x) for x in resources["level"].to_list()], dtype=np.int64)
        self.resource_minutes = resources["minutes"].to_numpy().astype(float)
        self.skill_names: tuple[str, ...] = tuple(skills["name"].to_list())

    def _pad_items_by_skill(self) -> np.ndarray:
        """(S, M) indices of the items whose primary skill is s, padded with -1 (M = most items of a skill)."""
        counts = np.bincount(self.item_skill, minlength=self.n_skills)
        width = max(int(counts.max(initial=0)), 1)
        table = np.full((self.n_skills, width), -1, dtype=np.int64)
        order = np.argsort(self.item_skill, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(order.size) - starts[self.item_skill[order]]
        table[self.item_skill[order], slot] = order
        return table

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_resources(self) -> int:
        return len(self.resource_ids)

    def _lookup(self, index: dict[str, int], key: str, what: str) -> int:
        try:
            return index[key]
        except KeyError:
            sample = ", ".join(list(index)[:5])
            raise NotFoundError(f"unknown {what} {key!r} in catalog {self.name!r} (e.g. {sample}, ...)") from None

    def skill_index(self, skill_id: str) -> int:
        return self._lookup(self._skill_index, skill_id, "skill")

    def item_index(self, item_id: str) -> int:
        return self._lookup(self._item_index, item_id, "item")

    def resource_index(self, resource_id: str) -> int:
        return self._lookup(self._resource_index, resource_id, "resource")

    def skill_indices(self, skill_ids: list[str] | tuple[str, ...]) -> np.ndarray:
        return np.array([self.skill_index(s) for s in skill_ids], dtype=np.int64)

    def resource_indices(self, resource_ids: list[str] | tuple[str, ...]) -> np.ndarray:
        return np.array([self.resource_index(r) for r in resource_ids], dtype=np.int64)

    def with_item_params(self, params: pl.DataFrame) -> Catalog:
        """A copy whose items take a, b (and c when given) from `params` (item_id, a, b[, c]), e.g. a calibrated IRT model."""
        unknown = sorted(set(params["item_id"].to_list()) - set(self.item_ids))
        if unknown:
            raise NotFoundError(f"IRT parameters for {len(unknown)} item(s) not in catalog {self.name!r}, e.g. {unknown[:3]}")
        columns = [c for c in ("a", "b", "c") if c in params.columns]
        update = params.select(["item_id", *columns]).rename({c: f"__{c}" for c in columns})
        items = self.items.join(update, on="item_id", how="left", maintain_order="left").with_columns(
            [pl.coalesce(pl.col(f"__{c}").cast(pl.Float64), pl.col(c)).alias(c) for c in columns]
        ).drop([f"__{c}" for c in columns])
        return Catalog(self.name, self.version, self.source, self.skills, items, self.resources, self.interventions,
                       self.graph, self.skill_params, list(self.notes) + [f"IRT parameters replaced for {update.height} item(s)"])

    def retagged(self, skills: dict[str, str]) -> Catalog:
        """A copy whose items in `skills` ({item_id: skill_id}) are tagged with that one skill instead (e.g. the items
        `model build --apply-item-tags` found answering another skill); the change is kept in the notes."""
        if not skills:
            return self
        unknown = sorted(set(skills) - set(self.item_ids)) + sorted(set(skills.values()) - set(self.skill_ids))
        if unknown:
            raise NotFoundError(f"retagging names item(s) or skill(s) not in catalog {self.name!r}: {unknown[:3]}")
        column = self.items["skill_ids"]
        tags = [[skills[i]] if i in skills else own for i, own in zip(self.item_ids, column.to_list(), strict=True)]
        items = self.items.with_columns(pl.Series("skill_ids", tags, dtype=column.dtype))
        note = f"{len(skills)} item(s) retagged: " + ", ".join(f"{i} -> {s}" for i, s in sorted(skills.items())[:10])
        return Catalog(self.name, self.version, self.source, self.skills, items, self.resources, self.interventions,
                       self.graph, self.skill_params, list(self.notes) + [note + (" ..." if len(skills) > 10 else "")])

    def summary(self) -> dict[str, object]:
        return {
            "catalog": self.name,
            "version": self.version,
            "skills": self.n_skills,
            "items": self.n_items,
            "resources": self.n_resources,
            "interventions": self.interventions.height,
            "max_prerequisite_depth": int(self.graph.depth.max(initial=0)),
            "resources_by_level": {lvl: int((self.resource_level == i).sum()) for i, lvl in enumerate(LEVELS)},
            "notes": list(self.notes),
        }


def build_catalog(raw: RawBundle) -> Catalog:
    """Validate the raw tables of a bundle and build a `Catalog`, or raise with every problem found."""
    problems: list[Problem] = []
    notes: list[str] = []
    skills_raw = raw.tables["skills"]
    if "prerequisites" in skills_raw.columns:  # a skill with no prerequisites may leave the cell out
        if skills_raw.schema["prerequisites"] == pl.Null:
            skills_raw = skills_raw.with_columns(pl.lit([], dtype=SKILL_LIST).alias("prerequisites"))
        elif isinstance(skills_raw.schema["prerequisites"], pl.List):
            skills_raw = skills_raw.with_columns(pl.col("prerequisites").fill_null(pl.lit([], dtype=SKILL_LIST)))
    problems += column_name_problems({t: f for t, f in raw.tables.items() if t in SCHEMAS}, notes)
    skills_raw, resources_raw = _fill_descriptive_defaults(skills_raw, raw.tables["resources"], notes)
    skills = _validated(skills_raw, SKILLS, problems)
    items = _validated(raw.tables["items"], ITEMS, problems)
    resources = _validated(resources_raw, RESOURCES, problems)
    interventions_raw = raw.tables.get("interventions", pl.DataFrame())
    interventions = (
        _validated(interventions_raw, INTERVENTIONS, problems) if interventions_raw.height
        else pl.DataFrame(schema=INTERVENTIONS.columns)
    )
    params_raw = raw.tables.get("skill_params", pl.DataFrame())
    skill_params = _validated(params_raw, SKILL_PARAMS, problems) if params_raw.height else None
    if problems:  # cross-table checks need well-typed tables
        raise DataValidationError(problems, source=f"catalog {raw.source}")

    skill_ids = skills["skill_id"].to_list()
    prereqs = skills["prerequisites"].to_list()
    problems += _tagged(reference_problems(skill_ids, prereqs), "skills")
    problems += _tagged(cycle_problems(skill_ids, prereqs), "skills")
    known = set(skill_ids)
    problems += _unknown_skill_problems(items, "items", "item_id", known)
    problems += _unknown_skill_problems(resources, "resources", "resource_id", known)
    problems += _vocabulary_problems(resources, "resources", "kind", RESOURCE_KINDS)
    if skill_params is not None:
        problems += [Problem(r, "skill_id", s, f"[skill_params] unknown skill {s!r}; remove the row or add the skill")
                     for r, s in enumerate(skill_params["skill_id"].to_list(), start=1) if s not in known]
    items = _fill_irt_defaults(items, notes)
    bad_a = [(i, v) for i, v in enumerate(items["a"].to_list(), start=1) if not 0 < v <= MAX_ABS_IRT]
    problems += [Problem(r, "a", v, f"[items] discrimination a must be > 0 and at most {MAX_ABS_IRT:g}") for r, v in bad_a]
    bad_b = [(i, v) for i, v in enumerate(items["b"].to_list(), start=1) if not abs(v) <= MAX_ABS_IRT]
    problems += [Problem(r, "b", v, f"[items] difficulty b must lie within +-{MAX_ABS_IRT:g} logits") for r, v in bad_b]
    for table, frame, column in (("skills", skills, "skill_id"), ("items", items, "item_id"),
                                 ("resources", resources, "resource_id")):
        problems += _id_length_problems(frame, table, column)
    if "capacity_per_week" in interventions.columns:
        bad_cap = [(i, v) for i, v in enumerate(interventions["capacity_per_week"].to_list(), start=1) if v is not None and v < 0]
        problems += [Problem(r, "capacity_per_week", v, "[interventions] capacity must be >= 0") for r, v in bad_cap]
    if problems:
        raise DataValidationError(problems, source=f"catalog {raw.source}")
    without_items = [s for s in skill_ids if s not in set(items["skill_ids"].explode().to_list())]
    if without_items:
        notes.append(f"{len(without_items)} skill(s) have no items: {', '.join(without_items[:5])}")
    graph = build_graph(skill_ids, prereqs)
    return Catalog(raw.name, raw.version, raw.source, skills, items, resources, interventions, graph, skill_params, notes)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the bundle at `path` (folder or .toml/.json file); None loads the demo catalog."""
    return build_catalog(read_bundle(DEMO_CATALOG_PATH if path is None else path))


def demo_catalog() -> Catalog:
    """The shipped middle-school maths demo catalog (engine/catalog/demo)."""
    return load_catalog(DEMO_CATALOG_PATH)
