"""Fit diagnostics of a built model set: what the log held, which items and skills had too little data,
and how well the served predictor did on held-out students. Kept as JSON in the set (component `build`,
key `diagnostics`) and printed as a table by `equilearn model build`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LISTED = 30  # ids listed in the printed table; the JSON keeps them all


@dataclass(frozen=True)
class Diagnostics:
    catalog: str
    n_rows_in: int
    n_responses: int
    n_students: int
    n_unknown_rows: int
    unknown_items: list[str]
    irt_model: str
    min_item_responses: int
    n_items: int
    n_calibrated: int
    low_data_items: list[dict[str, Any]]  # item_id, n, and the a, b, c it keeps
    absent_items: list[str]
    inestimable_items: list[str]
    n_skills: int
    skills_without_evidence: list[str]
    sparse_skills: list[str]  # fewer responses than the skill model's minimum: pooled parameters
    predictor: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Everything but `predictor`, which a built set keeps beside it (`components.build.predictor`)."""
        out = asdict(self)
        del out["predictor"]
        return out

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Diagnostics:
        return cls(**payload)


def _ids(ids: list[str]) -> str:
    """"none", or the count and the first LISTED ids."""
    if not ids:
        return "none"
    more = f", ... ({len(ids) - LISTED} more)" if len(ids) > LISTED else ""
    return f"{len(ids)}: " + ", ".join(ids[:LISTED]) + more


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def format_table(d: Diagnostics) -> str:
    """The diagnostics as a plain-text report (what `equilearn model build` prints)."""
    lines = [f"model build: catalog {d.catalog} ({d.n_skills} skills, {d.n_items} items), "
             f"{d.n_responses:,} responses of {d.n_students:,} students"]
    if d.n_unknown_rows:
        lines.append(f"  left out {d.n_unknown_rows:,} of {d.n_rows_in:,} log rows naming {len(d.unknown_items)} item(s) "
                     f"not in the catalog (--ignore-unknown-items): {', '.join(d.unknown_items[:LISTED])}")
    kept = len(d.low_data_items) + len(d.absent_items) + len(d.inestimable_items)
    lines.append(f"  item bank ({d.irt_model}): {d.n_calibrated} of {d.n_items} items calibrated; {kept} keep the "
                 "catalog's parameters")
    lines.append(f"\nitems with too little data (< {d.min_item_responses} responses; keep the catalog's parameters): "
                 f"{len(d.low_data_items)}")
    if d.low_data_items:
        lines.append(f"  {'item_id':<24} {'responses':>9} {'a':>7} {'b':>7} {'c':>6}")
        for row in d.low_data_items[:LISTED]:
            lines.append(f"  {row['item_id']:<24} {row['n']:>9} {row['a']:>7.3f} {row['b']:>7.3f} {row['c']:>6.3f}")
        if len(d.low_data_items) > LISTED:
            lines.append(f"  ... {len(d.low_data_items) - LISTED} more (all under components.build.diagnostics)")
    lines.append(f"catalog items absent from the log (keep the catalog's parameters): {_ids(d.absent_items)}")
    if d.inestimable_items:
        lines.append(f"items without a finite estimate (all right or all wrong): {_ids(d.inestimable_items)}")
    lines.append(f"skills without evidence (the skill model's pooled parameters): {_ids(d.skills_without_evidence)}")
    if d.sparse_skills:
        lines.append(f"skills with too little evidence (pooled parameters): {_ids(d.sparse_skills)}")
    p = d.predictor
    if p.get("held_out"):
        h = p["held_out"]
        lines.append(f"\nheld-out predictor: {h['n_students']:,} students ({h['fraction']:.0%}, seed {h['seed']}), "
                     f"{h['n_responses']:,} responses, predicted in order from earlier responses only")
        lines.append(f"  {'irt_weight':>10}  {'AUC':>7}  {'log-loss':>8}")
        for row in p["weights"]:
            mark = "  <- served" if row["irt_weight"] == p["irt_weight"] else ""
            lines.append(f"  {row['irt_weight']:>10.2f}  {_num(row['auc']):>7}  {_num(row['logloss']):>8}{mark}")
    lines.append(f"predictor: {p.get('choice')} -> irt_weight {p.get('irt_weight')}"
                 + (f", held-out AUC {_num(p.get('auc'))}" if p.get("held_out") else " (no held-out evaluation)"))
    lines += [f"note: {n}" for n in d.notes]
    return "\n".join(lines)
