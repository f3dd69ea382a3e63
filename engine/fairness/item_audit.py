"""Item audit on a table: pick item columns, form groups, apply the minimum group size, run DIF.

Input: a wide table, one row per student, one 0/1 column per item (blank/null = not answered) and a
group column (e.g. difR's `verbal`: 24 items, `Anger`, `Gender`). Item columns are the ones named, or
else every column other than the group column whose values are all 0, 1 or null; the others are listed
in `skipped_columns` with the reason (never dropped silently).

Groups: `focal` is one value or several (several -> generalized MH / multi-group logistic). The
reference is the named value, or with a single focal value and no reference, everyone else. A focal
group (or the reference) with fewer than `min_group_size` students is not analysed and its size is
never reported; the audit then says the evidence is insufficient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.fairness.dif import DifResult, logistic_dif, mh_dif
from engine.fairness.groups import MISSING_LABEL

REST_LABEL = "rest"


def item_columns(table: pl.DataFrame, group_col: str, items: Sequence[str] | None,
                 exclude: Sequence[str] = ()) -> tuple[list[str], list[dict[str, str]]]:
    """(item columns, skipped columns with reasons)."""
    if items:
        missing = [c for c in items if c not in table.columns]
        if missing:
            raise ConfigError(f"unknown item column(s) {', '.join(map(repr, missing))}; columns are: {', '.join(table.columns)}")
        return list(items), []
    chosen, skipped = [], []
    for column in table.columns:
        if column == group_col or column in exclude:
            continue
        series = table[column]
        if not series.dtype.is_numeric():
            skipped.append({"column": column, "reason": f"not numeric ({series.dtype})"})
            continue
        values = series.drop_nulls().unique().to_list()
        if not set(values) <= {0, 1}:
            skipped.append({"column": column, "reason": "values other than 0/1 (not a dichotomous item)"})
            continue
        chosen.append(column)
    if not chosen:
        raise ConfigError("no 0/1 item columns found; name them with --items")
    return chosen, skipped


@dataclass
class ItemAudit:
    group_col: str
    reference: str
    focal: list[str]
    n_students: int
    result: DifResult | None
    skipped_columns: list[dict[str, str]] = field(default_factory=list)
    suppressed_groups: list[str] = field(default_factory=list)
    excluded_students: int = 0

    def evidence(self) -> list[dict[str, Any]]:
        """One value per focal group for the gate: the number of class C items (None when suppressed)."""
        out = []
        for f in self.focal:
            c_items = (None if self.result is None or f in self.suppressed_groups
                       else sum(1 for i in self.result.items if i.flag_for_review and f in i.focal.split(",")))
            out.append({"kind": "value", "audit": "dif", "metric": "dif_c_items", "higher_is_better": False,
                        "stratum": None, "attribute": self.group_col, "group": f, "reference": self.reference,
                        "estimate": c_items, "se": 0.0 if c_items is not None else None, "p_value": None,
                        "n_students": None, "suppressed": c_items is None})
        return out

    def to_dict(self) -> dict[str, Any]:
        body = self.result.to_dict() if self.result is not None else {"items": [], "flag_for_review": []}
        return {"group_col": self.group_col, "reference": self.reference, "focal": self.focal,
                "n_students": self.n_students, "excluded_students": self.excluded_students,
                "skipped_columns": self.skipped_columns, "suppressed_groups": self.suppressed_groups, **body}


def audit_items(table: pl.DataFrame, group_col: str, focal: str | Sequence[str], *, reference: str | None = None,
                items: Sequence[str] | None = None, exclude: Sequence[str] = (), method: Literal["mh", "logistic"] = "mh",
                dif_type: Literal["both", "uniform", "nonuniform"] = "both", match: Literal["score", "rest"] = "score",
                purify: bool = False, alpha: float = 0.05, adjust: str = "none", min_group_size: int = 10) -> ItemAudit:
    """DIF of the item columns of `table` between `focal` group(s) and the reference (module docstring)."""
    if method not in ("mh", "logistic"):
        raise ConfigError(f"unknown DIF method {method!r}; use mh or logistic")
    if group_col not in table.columns:
        raise ConfigError(f"unknown group column {group_col!r}; columns are: {', '.join(table.columns)}")
    focal_values = [focal] if isinstance(focal, str) else [str(f) for f in focal]
    labels = table[group_col].cast(pl.Utf8).fill_null(MISSING_LABEL)
    present = labels.unique().to_list()
    if len(present) < 2:
        hint = ("group column has a single value, so there is nothing to compare" if present
                else "the table has no rows; give one row per student with this group column and the 0/1 item columns")
        raise DataValidationError([Problem(None, group_col, present[0] if present else None, hint)], source="DIF groups")
    unknown = [f for f in focal_values if f not in present]
    if unknown or (reference is not None and reference not in present):
        bad = unknown or [reference]
        raise ConfigError(f"group value(s) {', '.join(map(repr, bad))} not found in {group_col!r}; values are: {', '.join(sorted(present))}")
    columns, skipped = item_columns(table, group_col, items, exclude)
    label_array = labels.to_numpy().astype(str)
    if reference is None:
        if len(focal_values) > 1:
            rest = [v for v in present if v not in focal_values]
            reference = max(sorted(rest), key=lambda v: int(np.sum(label_array == v)))
        else:
            reference = REST_LABEL
            label_array = np.where(label_array == focal_values[0], label_array, REST_LABEL)
    sizes = {v: int(np.sum(label_array == v)) for v in [reference, *focal_values]}
    suppressed = [v for v in focal_values if sizes[v] < min_group_size]
    if sizes[reference] < min_group_size:
        suppressed = list(focal_values)
    analysed = [v for v in focal_values if v not in suppressed]
    in_analysis = np.isin(label_array, [reference, *analysed])
    # students outside the compared groups are counted only when no group is suppressed (else the count
    # plus the analysed total would reveal the suppressed group's size)
    outside = 0 if suppressed else int((~in_analysis).sum())
    audit = ItemAudit(group_col, reference, focal_values, int(in_analysis.sum()) if analysed else 0, None, skipped,
                      suppressed, excluded_students=outside)
    if not analysed:
        return audit
    X = table.select([pl.col(c).cast(pl.Float64) for c in columns]).to_numpy()[in_analysis]
    group = label_array[in_analysis]
    kwargs = dict(reference=reference, focal=analysed, match=match, purify=purify, alpha=alpha, adjust=adjust)
    audit.result = (mh_dif(X, group, columns, **kwargs) if method == "mh"
                    else logistic_dif(X, group, columns, dif_type=dif_type, **kwargs))
    return audit
