"""Group columns, their intersections, and small-group suppression.

A *group spec* names one roster column (`gender`) or an intersection of several (`gender*disability`).
Every student gets one label per spec: the column value as text, `(missing)` for a null, and for an
intersection the values joined with ` & ` (`F & Y`).

Privacy: a group with fewer than `min_group_size` distinct students is *suppressed*: no number about it
(count, metric, curve) is ever computed into an output. *Complementary suppression* then hides further
groups so that a suppressed count cannot be recovered by subtracting the shown groups from a shown total:
in every "line" of a table (all cells that share the values of every dimension but one, which sum to a
shown margin) a single suppressed cell is never left alone; the smallest shown cell of that line is
suppressed with it, repeated until stable. Outputs never say which of the hidden groups was small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem

MISSING_LABEL = "(missing)"
INTERSECTION_SEP = " & "
DEFAULT_MIN_GROUP_SIZE = 10


@dataclass(frozen=True)
class GroupSpec:
    """One grouping: a single roster column or an intersection of several."""

    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return "*".join(self.columns)

    @classmethod
    def parse(cls, text: str) -> GroupSpec:
        """`"gender"` -> one column; `"gender*disability"` -> their intersection."""
        columns = tuple(part.strip() for part in text.split("*"))
        if not columns or any(not c for c in columns):
            raise ConfigError(f"bad group spec {text!r}: use a column name or names joined by '*' (e.g. gender*disability)")
        if len(set(columns)) != len(columns):
            raise ConfigError(f"bad group spec {text!r}: a column appears twice")
        return cls(columns)


def parse_group_specs(specs: str | Iterable[str | GroupSpec]) -> list[GroupSpec]:
    """Accept `"g1,g2,g1*g2"` or a list of names/specs; keep order, drop duplicates."""
    items = [s for s in specs.split(",") if s.strip()] if isinstance(specs, str) else list(specs)
    out: list[GroupSpec] = []
    for item in items:
        spec = item if isinstance(item, GroupSpec) else GroupSpec.parse(str(item))
        if spec not in out:
            out.append(spec)
    if not out:
        raise ConfigError("no group columns given; name at least one (e.g. --groups gender)")
    return out


def label_expr(spec: GroupSpec) -> pl.Expr:
    """Polars expression giving each row its group label for `spec` (nulls become `(missing)`)."""
    parts = [pl.col(c).cast(pl.Utf8).fill_null(MISSING_LABEL) for c in spec.columns]
    if len(parts) == 1:
        return parts[0].alias(spec.name)
    return pl.concat_str(parts, separator=INTERSECTION_SEP).alias(spec.name)


def check_roster(roster: pl.DataFrame, specs: Sequence[GroupSpec], student_col: str) -> pl.DataFrame:
    """Validate the roster for `specs` and return one row per student with the group columns.

    Raises ConfigError for an unknown column (naming it and the available ones) and
    DataValidationError for a group column with a single value or a student with conflicting values.
    """
    needed = sorted({c for s in specs for c in s.columns})
    if student_col not in roster.columns:
        raise ConfigError(f"roster has no {student_col!r} column; columns are: {', '.join(roster.columns)}")
    unknown = [c for c in needed if c not in roster.columns]
    if unknown:
        available = ", ".join(c for c in roster.columns if c != student_col)
        raise ConfigError(f"unknown group column(s) {', '.join(map(repr, unknown))}; available: {available}")
    table = roster.select([pl.col(student_col).cast(pl.Utf8), *needed]).unique()
    problems: list[Problem] = []
    conflicting = table.group_by(student_col).len().filter(pl.col("len") > 1)
    if conflicting.height:
        first = conflicting.row(0, named=True)
        problems.append(
            Problem(None, student_col, first[student_col], "student has different group values on different rows; "
                    "give each student one roster row", count=conflicting.height)
        )
    for column in needed:
        values = table.select(pl.col(column).cast(pl.Utf8).fill_null(MISSING_LABEL)).unique().to_series().to_list()
        if len(values) < 2:
            problems.append(
                Problem(None, column, values[0] if values else None,
                        "group column has a single value, so there is nothing to compare; choose another column")
            )
    if problems:
        raise DataValidationError(problems, source="roster")
    return table


def student_groups(roster: pl.DataFrame, specs: Sequence[GroupSpec], student_col: str) -> pl.DataFrame:
    """One row per student: `student_col` plus one label column per spec (named `spec.name`)."""
    table = check_roster(roster, specs, student_col)
    return table.select(pl.col(student_col), *[label_expr(s) for s in specs])


def suppress_cells(counts: pl.DataFrame, dims: Sequence[str], min_size: int, strata: Sequence[str] = ()) -> pl.DataFrame:
    """Add a boolean `suppressed` column to a table of cell counts (`n` = distinct students).

    `dims` are the group dimensions of the table (one column for a single attribute, several for an
    intersection); `strata` are columns inside which the table is repeated (e.g. a mastery band), each
    stratum protected on its own. Primary: `n < min_size`. Complementary: see the module docstring.
    """
    table = counts.with_columns((pl.col("n") < min_size).alias("suppressed")).with_row_index("__cell__")
    dims, strata = list(dims), list(strata)
    changed = True
    while changed:
        changed = False
        for free in dims:
            line_keys = strata + [d for d in dims if d != free]
            lines = (
                table.group_by(line_keys or pl.lit(0).alias("__all__"), maintain_order=True)
                .agg(pl.col("suppressed").sum().alias("n_sup"), pl.len().alias("n_cells"),
                     pl.col("__cell__").filter(~pl.col("suppressed")).sort_by(
                         pl.col("n").filter(~pl.col("suppressed"))).first().alias("next_cell"))
                .filter((pl.col("n_sup") == 1) & (pl.col("n_cells") > 1) & pl.col("next_cell").is_not_null())
            )
            if lines.height:
                extra = lines["next_cell"]
                table = table.with_columns(
                    (pl.col("suppressed") | pl.col("__cell__").is_in(extra.implode())).alias("suppressed"))
                changed = True
    return table.drop("__cell__")
