"""The response log a model set is built from: checked against the catalog, with the catalog's skills.

- Items must be catalog items. A log naming other items is an error listing its rows (row of the log as
  loaded, i.e. sorted by student and order, with the student and the position of the response), unless
  `ignore_unknown_items`, which leaves those rows out and reports how many.
- `skill_ids` come from the catalog's items table (the log's own skill column, if any, is not used), so
  the skill model is fitted for the catalog's skills.
- An optional boolean column `steered` marks the answers to items the adaptive policy chose
  (`engine.data.steering`); it is kept.
- An optional column `resource_id` names the resource the student used just before the answer (empty: none); it is
  kept, and must name catalog resources (an error listing the rows, unless `ignore_unknown_items`, which keeps those
  answers without their resource and reports how many). From it the build measures what each resource teaches
  (`engine.recommend.resource_value`).
- `read_store_log` reads the service's own event log in chunks of students (see its docstring for the
  memory bound); `engine.recommend.outcomes.read_store_outcomes` pairs its served log with it (what followed each
  served resource).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.catalog import Catalog
from engine.data.schema import SKILL_LIST
from engine.data.steering import STEERED, check_steered
from engine.errors import DataError, DataValidationError, Problem
from engine.recommend.resource_value import RESOURCE_COLUMN
from engine.store.events import CHUNK_STUDENTS

ROWS_LISTED = 20
COLUMNS = ("student_id", "item_id", "correct", "seq", "timestamp")


@dataclass(frozen=True)
class PreparedLog:
    """The log restricted to catalog items, with catalog skills; and what was left out."""

    responses: pl.DataFrame
    n_rows_in: int
    n_unknown_rows: int
    unknown_items: tuple[str, ...]
    n_unknown_resource_rows: int = 0  # answers kept without the resource they named (not in the catalog)
    unknown_resources: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """sha256 of the responses used (student, item, score, order), independent of row order."""
        frame = self.responses.select("student_id", "item_id", "correct", "seq").sort("student_id", "seq")
        digest = hashlib.sha256()
        for column in frame.columns:
            digest.update(column.encode())
            digest.update(frame[column].cast(pl.Utf8).str.join("\x1f").item().encode())
        return f"sha256:{digest.hexdigest()}"


def _unknown_problems(unknown: pl.DataFrame, catalog: Catalog) -> list[Problem]:
    hint = f"item not in catalog {catalog.name!r}: add it to the catalog's items, or use --ignore-unknown-items"
    listed = unknown.head(ROWS_LISTED)
    problems = [Problem(int(r) + 1, "item_id", i, f"student {s!r}, response #{int(q) + 1}: {hint}")
                for r, s, q, i in listed.select("__row", "student_id", "__pos", "item_id").iter_rows()]
    if unknown.height > ROWS_LISTED:
        r, i = unknown["__row"][ROWS_LISTED], unknown["item_id"][ROWS_LISTED]
        problems.append(Problem(int(r) + 1, "item_id", i, hint, count=unknown.height - ROWS_LISTED))
    return problems


def prepare_log(catalog: Catalog, responses: pl.DataFrame, ignore_unknown_items: bool = False) -> PreparedLog:
    """Canonical responses (student_id, item_id, correct, seq[, timestamp]) checked against `catalog`
    and given the catalog's skill_ids (module docstring)."""
    missing = [c for c in ("student_id", "item_id", "correct") if c not in responses.columns]
    if missing:
        raise DataError(f"response log: missing column(s) {', '.join(missing)}; load it with `--format` of its layout")
    if responses.height == 0:
        raise DataError("response log: no responses; a model set needs a log with responses to catalog items")
    frame = responses
    if "seq" not in frame.columns:
        frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("student_id").alias("seq"))
    keep = [c for c in (*COLUMNS, STEERED, RESOURCE_COLUMN) if c in frame.columns]  # `steered`: engine.data.steering
    frame = (check_steered(frame).select(keep).with_columns(pl.col("student_id").cast(pl.Utf8), pl.col("item_id").cast(pl.Utf8),
                                             pl.col("correct").cast(pl.Float64))
             .sort("student_id", "seq", maintain_order=True).with_row_index("__row"))
    known = pl.col("item_id").is_in(pl.Series(list(catalog.item_ids), dtype=pl.Utf8).implode())
    unknown = frame.filter(~known)
    unknown_items: tuple[str, ...] = ()
    if unknown.height:
        positions = frame.select("__row", pl.int_range(pl.len()).over("student_id").alias("__pos"))
        unknown = unknown.join(positions, on="__row", how="left")
        unknown_items = tuple(sorted(unknown["item_id"].unique().to_list()))
        if not ignore_unknown_items:
            source = (f"response log: {unknown.height} of {frame.height} row(s) name {len(unknown_items)} item(s) not in "
                      f"catalog {catalog.name!r} (e.g. {', '.join(repr(i) for i in unknown_items[:5])}). Fix: add those "
                      "items to the catalog's items table (with their skills), or rerun with --ignore-unknown-items to "
                      "leave those rows out (they are counted in the diagnostics). Rows are numbered in the log as "
                      "loaded: sorted by student, then each student's order")
            raise DataValidationError(_unknown_problems(unknown, catalog), source=source)
        frame = frame.filter(known)
        if frame.height == 0:
            raise DataError(f"response log: no row names an item of catalog {catalog.name!r}; is it the catalog the "
                            "log was recorded with?")
    unknown_resources = _unknown_resources(frame, catalog) if RESOURCE_COLUMN in frame.columns else frame.clear()
    if unknown_resources.height:
        if not ignore_unknown_items:
            _raise_unknown_resources(unknown_resources, catalog)
        named = pl.col(RESOURCE_COLUMN).cast(pl.Utf8)
        frame = frame.with_columns(pl.when(named.is_in(pl.Series(list(catalog.resource_ids), dtype=pl.Utf8).implode()))
                                   .then(named).otherwise(None).alias(RESOURCE_COLUMN))
    skills = catalog.items.select(pl.col("item_id"), pl.col("skill_ids").cast(SKILL_LIST))
    frame = frame.drop("__row").join(skills, on="item_id", how="left", maintain_order="left")
    resources = tuple(sorted(unknown_resources[RESOURCE_COLUMN].unique().to_list())) if unknown_resources.height else ()
    return PreparedLog(frame, responses.height, unknown.height, unknown_items, unknown_resources.height, resources)


def _unknown_resources(frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """The rows of `frame` whose `resource_id` names no catalog resource (empty cells are answers without one)."""
    named = pl.col(RESOURCE_COLUMN).cast(pl.Utf8)
    known = named.is_in(pl.Series(list(catalog.resource_ids), dtype=pl.Utf8).implode())
    return frame.with_columns(named).filter(named.is_not_null() & ~known)


def _raise_unknown_resources(unknown: pl.DataFrame, catalog: Catalog) -> None:
    """The error listing the rows whose `resource_id` the catalog lacks, and the fixes."""
    hint = (f"resource not in catalog {catalog.name!r}: name one of the catalog's resources, leave resource_id empty "
            "where the student used none, or use --ignore-unknown-items to keep the answer without its resource")
    problems = [Problem(int(r) + 1, RESOURCE_COLUMN, v, f"student {s!r}: {hint}")
                for r, s, v in unknown.head(ROWS_LISTED).select("__row", "student_id", RESOURCE_COLUMN).iter_rows()]
    if unknown.height > ROWS_LISTED:
        problems.append(Problem(int(unknown["__row"][ROWS_LISTED]) + 1, RESOURCE_COLUMN, unknown[RESOURCE_COLUMN][ROWS_LISTED],
                                hint, count=unknown.height - ROWS_LISTED))
    raise DataValidationError(problems, source=f"response log: {unknown.height} row(s) name a resource not in catalog "
                                               f"{catalog.name!r}. Rows are numbered in the log as loaded: sorted by student, "
                                               "then each student's order")


def read_store_log(store: Any, chunk_students: int = CHUNK_STUDENTS) -> pl.DataFrame:
    """The service's event log as canonical responses, read `chunk_students` students at a time.

    Memory bound: the database rows of at most `chunk_students` students are Python objects at once; what
    is kept is the compact columnar log (student, item, score, order, time: about 40-60 bytes a response,
    e.g. ~60 MB for 1M responses), which the fits need whole. `resource_id` (the resource behind each answer) is kept
    when some event named one, so the build measures resource values and cover learning from the service's log too."""
    students = store.student_ids()
    if not students:
        raise DataError("the service's event log is empty: no responses to build a model set from (send events to "
                        "POST /v1/events, or build from a file with --data)")
    log = store.events_frame_chunked(students, (*COLUMNS, RESOURCE_COLUMN), chunk_students)
    return log if log[RESOURCE_COLUMN].null_count() < log.height else log.drop(RESOURCE_COLUMN)
