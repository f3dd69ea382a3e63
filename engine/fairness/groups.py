"""Group columns, their intersections, and small-group suppression.

A *group spec* names one roster column (`gender`) or an intersection of several (`gender*disability`).
Every student gets one label per spec: the column value as text, `(missing)` for a null, and for an
intersection the values joined with ` & ` (`F & Y`).

Privacy: a group with fewer than `min_group_size` distinct students is *suppressed*: no number about it
(count, metric, curve) is ever computed into an output. *Complementary suppression* then hides further
groups so that a suppressed count cannot be recovered by subtracting shown figures from a shown total.
Every published table is a margin of the finer ones: a cell of `gender` is the sum of its line in
`gender*ell` (all cells sharing its values), the overall row the sum of the `gender` line, an unstratified
cell the sum of the same cell across strata. For every such relation (a margin and the line summing to
it) the rule, applied to all tables of an output together and repeated until stable, is:

- margin shown: the hidden cells of the line are none, or at least two whose students together number at
  least `min_group_size` (so neither a lone cell nor a too-small union is margin minus the shown cells);
  otherwise the smallest shown cell of the line is hidden too (the margin itself when none is left);
- margin hidden: at least one cell of its line is hidden (otherwise the margin is their sum).

Tables that an output does not publish but that lie between its tables (`gender` under
`gender*ell*disability`) are treated as published, which can only hide more. This stops exact recovery
by subtraction; bounds from combining many relations can still be narrow, as in any cell-suppression
scheme. Students counted in several strata make the union test approximate there (it sums counts).
Outputs never say which of the hidden groups was small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem

MISSING_LABEL = "(missing)"
OVERALL = "__overall__"  # the group label of a whole population (or stratum) row
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


Cell = tuple[object, ...]  # a table's identity (its dimensions) followed by the cell's values


def settle_suppression(n: dict[Cell, int], relations: Sequence[tuple[Cell, Sequence[Cell]]], min_size: int,
                       hidden: set[Cell] | None = None) -> set[Cell]:
    """Grow `hidden` (default: the cells with `n < min_size`) until every (margin, line) relation keeps the
    rule of the module docstring. Cells are any hashable keys; ties go to the smaller count, then the key's
    order, so the result is deterministic."""
    hidden = {c for c, size in n.items() if size < min_size} if hidden is None else set(hidden)
    order = {c: i for i, c in enumerate(sorted(n, key=repr))}
    smallest = lambda cells: min(cells, key=lambda c: (n[c], order[c]))  # noqa: E731
    changed = True
    while changed:
        changed = False
        for margin, line in relations:
            hid = [c for c in line if c in hidden]
            shown = [c for c in line if c not in hidden]
            if margin in hidden:
                extra = [smallest(shown)] if not hid and shown else []
            elif hid and (len(hid) == 1 or sum(n[c] for c in hid) < min_size):
                extra = [smallest(shown)] if shown else [margin]
            else:
                extra = []
            if extra:
                hidden.update(extra)
                changed = True
    return hidden


def suppress_cells(counts: pl.DataFrame, dims: Sequence[str], min_size: int, strata: Sequence[str] = ()) -> pl.DataFrame:
    """Add a boolean `suppressed` column to one table of cell counts (`n` = distinct students).

    `dims` are the group dimensions of the table (one column for a single attribute, several for an
    intersection); `strata` are columns inside which the table is repeated (e.g. a mastery band), each
    stratum protected on its own. Every margin of the table is taken as published. An output with several
    tables (or strata and their unstratified total) must use `plan_suppression`, which settles them together.
    """
    dims, strata = list(dims), list(strata)
    keys = [tuple(r) for r in counts.select(strata + dims).iter_rows()]
    n = dict(zip(keys, counts["n"].to_list()))
    relations: list[tuple[Cell, list[Cell]]] = []
    for j, free in enumerate(dims):
        lines: dict[Cell, list[Cell]] = {}
        for key in keys:
            lines.setdefault(("margin", free, key[:len(strata) + j] + key[len(strata) + j + 1:]), []).append(key)
        for margin, line in lines.items():
            n[margin] = sum(n[c] for c in line)
            relations.append((margin, line))
    hidden = settle_suppression(n, relations, min_size, {k for k in keys if n[k] < min_size})
    return counts.with_columns(pl.Series("suppressed", [k in hidden for k in keys], dtype=pl.Boolean))


def plan_suppression(labels: pl.DataFrame, specs: Sequence[GroupSpec], min_size: int, *, student_col: str,
                     stratum_col: str | None = None, totals_across_strata: bool = True) -> set[tuple[str | None, str, str]]:
    """The cells an output must hide, settled across all its tables at once.

    `labels`: one row per (student[, stratum]) with a text label column per roster column the specs use.
    The tables are every spec, every sub-intersection of one (and the overall row), each unstratified and,
    with `stratum_col`, inside each stratum, so an output that shows a stratified table and its
    unstratified total (or several specs that share columns) hides consistently. With
    `totals_across_strata=False` (an output that shows only the stratified tables) each stratum is settled
    on its own and no unstratified cell is returned. Returns
    `(stratum, spec name, label)` keys, stratum None for unstratified cells and spec name "" with label
    `OVERALL` for a whole population or stratum.
    """
    strata = ([False, True] if totals_across_strata else [True]) if stratum_col else [False]
    tables = sorted({frozenset(sub) for spec in specs for k in range(len(spec.columns) + 1)
                     for sub in combinations(spec.columns, k)}, key=lambda t: (len(t), sorted(t)))
    n: dict[Cell, int] = {}
    cells: dict[tuple[frozenset[str], bool], list[Cell]] = {}
    for table in tables:
        cols = sorted(table)
        for stratified in strata:
            keys = ([stratum_col] if stratified else []) + cols
            grouped = (labels.group_by(keys).agg(pl.col(student_col).n_unique().alias("n")) if keys
                       else pl.DataFrame({"n": [labels[student_col].n_unique()]}))
            values = grouped.select(keys).iter_rows() if keys else [()]
            found = []
            for row, size in zip(values, grouped["n"].to_list()):
                stratum = row[0] if stratified else None
                cell = (table, stratified, stratum, tuple(zip(cols, row[1:] if stratified else row)))
                n[cell] = size
                found.append(cell)
            cells[(table, stratified)] = found
    relations: list[tuple[Cell, list[Cell]]] = []
    for (table, stratified), found in cells.items():
        frees: list[str | None] = sorted(table) + ([None] if stratified and len(strata) == 2 else [])
        for free in frees:
            lines: dict[Cell, list[Cell]] = {}
            for cell in found:
                _, _, stratum, values = cell
                if free is None:
                    margin = (table, False, None, values)
                else:
                    margin = (table - {free}, stratified, stratum, tuple(v for v in values if v[0] != free))
                lines.setdefault(margin, []).append(cell)
            relations += [(margin, line) for margin, line in lines.items() if margin in n]
    hidden = settle_suppression(n, relations, min_size)
    out: set[tuple[str | None, str, str]] = set()
    for cell in hidden:
        table, _, stratum, values = cell
        by_column = dict(values)
        if not table:
            out.add((stratum, "", OVERALL))
        for spec in specs:
            if set(spec.columns) == table:
                out.add((stratum, spec.name, INTERSECTION_SEP.join(by_column[c] for c in spec.columns)))
    return out
