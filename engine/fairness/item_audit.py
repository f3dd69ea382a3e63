"""Item audit on a table: pick item columns, form groups, apply the minimum group size, run DIF.

Input: a wide table, one row per student, one 0/1 column per item (blank/null = not answered) and a
group column (e.g. difR's `verbal`: 24 items, `Anger`, `Gender`). Item columns are the ones named, or
else every column other than the group column whose values are all 0, 1 or null; the others are listed
in `skipped_columns` with the reason (never dropped silently).

Groups: `focal` is one value or several (several -> generalized MH / multi-group logistic). The
reference is the named value, or with a single focal value and no reference, everyone else.

Privacy (`min_group_size`, at least 1): a focal group with fewer than `min_group_size` students is
*hidden*: it is left out of the analysis, so no figure (count, statistic, class C tally) about it exists;
when the reference is that small, every focal group is hidden. What the output publishes about students
is: per item, `n_reference` and `n_focal` of each shown focal group (with everyone answering, the group
sizes), and `n_students`, the reference plus the shown focal groups. The number of students in the table
(or with each value of the group column) is treated as known: it is the roster's size, and other audits
of the same students print it. So the hidden students would be that number minus the shown counts, and
*complementary suppression* keeps this from being one small group's count:

- the hidden focal groups are none, or at least two that together hold at least `min_group_size`
  students; otherwise the smallest shown focal group (ties: the label first in sort order) is hidden too, repeated
  until this holds or no focal group is left;
- no published total includes a hidden group: `n_students` counts the reference and the shown focal
  groups only, and `excluded_students` (students outside the compared groups) is reported as 0 whenever
  a group is hidden, since it plus `n_students` would be the table's size minus the hidden groups.

The output never says which hidden group was the small one, and `to_dict` and `evidence` never name a
hidden group at all (they give how many were hidden); the names appear only in the assembled result's
`suppressed_groups` list, and only when the policy's `show_suppressed_labels` allows it
(`engine.fairness.results.suppressed_groups`). The audit then says the evidence is insufficient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.fairness.dif import DifResult, logistic_dif, mh_dif
from engine.fairness.groups import MISSING_LABEL, settle_suppression

REST_LABEL = "rest"


def hidden_focal_groups(sizes: dict[str, int], reference: str, focal: Sequence[str], min_group_size: int) -> list[str]:
    """Focal groups to hide (in `focal` order): too small, or hidden with them (module docstring's rule).

    `sizes` holds the number of students of the reference and of every focal group. With the reference shown,
    the focal groups sum to a known total (the table's size minus the reference): one margin-and-line relation,
    settled by the rule every other fairness table uses (`groups.settle_suppression`).
    """
    if sizes[reference] < min_group_size:
        return list(focal)
    total = ("focal groups together",)  # the relation's margin: a key no label can equal
    n = {**{f: sizes[f] for f in focal}, total: sum(sizes[f] for f in focal)}
    hidden = settle_suppression(n, [(total, list(focal))], min_group_size, {f for f in focal if sizes[f] < min_group_size})
    return [f for f in focal if f in hidden]


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

    @property
    def shown_focal(self) -> list[str]:
        """The focal groups analysed and shown (not hidden by the minimum group size)."""
        return [f for f in self.focal if f not in self.suppressed_groups]

    def hidden_entries(self) -> list[dict[str, Any]]:
        """How many focal groups were hidden, without their names (empty when none was)."""
        return [{"attribute": self.group_col, "count": len(self.suppressed_groups)}] if self.suppressed_groups else []

    def evidence(self) -> list[dict[str, Any]]:
        """One value per focal group for the gate: the number of class C items.

        Shown groups first, then one unnamed record (`group` None, `suppressed` True) per hidden group, so
        the gate counts them without a name or a position that would tell which one it was.
        """
        base = {"kind": "value", "audit": "dif", "metric": "dif_c_items", "higher_is_better": False, "stratum": None,
                "attribute": self.group_col, "reference": self.reference, "p_value": None, "n_students": None}
        out = []
        for f in self.shown_focal:
            c_items = (None if self.result is None
                       else sum(1 for i in self.result.items if i.flag_for_review and f in i.focal.split(",")))
            out.append({**base, "group": f, "estimate": c_items, "se": 0.0 if c_items is not None else None,
                        "suppressed": c_items is None})
        out += [{**base, "group": None, "estimate": None, "se": None, "suppressed": True} for _ in self.suppressed_groups]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The result without a hidden group's name or number: `focal` lists the shown focal groups and
        `suppressed_groups` how many were hidden (`[{"attribute": ..., "count": k}]`, empty when none)."""
        body = self.result.to_dict() if self.result is not None else {"items": [], "flag_for_review": []}
        return {"group_col": self.group_col, "reference": self.reference, "focal": self.shown_focal,
                "n_students": self.n_students, "excluded_students": self.excluded_students,
                "skipped_columns": self.skipped_columns, "suppressed_groups": self.hidden_entries(), **body}


def audit_items(table: pl.DataFrame, group_col: str, focal: str | Sequence[str], *, reference: str | None = None,
                items: Sequence[str] | None = None, exclude: Sequence[str] = (), method: Literal["mh", "logistic"] = "mh",
                dif_type: Literal["both", "uniform", "nonuniform"] = "both", match: Literal["score", "rest"] = "score",
                purify: bool = False, alpha: float = 0.05, adjust: str = "none", min_group_size: int = 10) -> ItemAudit:
    """DIF of the item columns of `table` between `focal` group(s) and the reference (module docstring)."""
    if min_group_size < 1:
        raise ConfigError(f"min_group_size must be at least 1, got {min_group_size}")
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
    suppressed = hidden_focal_groups(sizes, reference, focal_values, min_group_size)
    analysed = [v for v in focal_values if v not in suppressed]
    in_analysis = np.isin(label_array, [reference, *analysed])
    # students outside the compared groups are counted only when no group is hidden (else the count plus
    # the analysed total would be the table's size minus the hidden groups)
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
