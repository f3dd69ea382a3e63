"""`Dataset`: what every loader returns, canonical tables plus an account of anything left out."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from engine.data.validate import validate


@dataclass(frozen=True)
class DropReport:
    """Rows a loader had to leave out, and why (never silent)."""

    reason: str
    rows: int

    def __str__(self) -> str:
        return f"dropped {self.rows} row(s): {self.reason}"


@dataclass
class Dataset:
    """Canonical response log (with the source's own train/test split when it has one) and side tables."""

    name: str
    train: pl.DataFrame
    test: pl.DataFrame | None = None
    roster: pl.DataFrame | None = None
    qmatrix: pl.DataFrame | None = None
    dropped: list[DropReport] = field(default_factory=list)

    @property
    def responses(self) -> pl.DataFrame:
        """All responses, train then test."""
        return self.train if self.test is None else pl.concat([self.train, self.test], how="diagonal_relaxed")

    def summary(self) -> dict[str, object]:
        """Counts a user checks first: students, items, skills, responses, correct rate, drops."""
        r = self.responses
        out: dict[str, object] = {
            "dataset": self.name,
            "responses": r.height,
            "students": r["student_id"].n_unique(),
            "items": r["item_id"].n_unique(),
            "skills": r["skill_ids"].explode().drop_nulls().n_unique(),
            "correct_rate": round(float(r["correct"].mean()), 4) if r.height else None,
            "train_responses": self.train.height,
            "test_responses": None if self.test is None else self.test.height,
            "dropped": [str(d) for d in self.dropped],
        }
        if self.roster is not None:
            out["roster_students"] = self.roster.height
        return out


def canonical_responses(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Give a loader's frame a `seq` (file order within each student) if it lacks one, then validate.

    `frame` must hold student_id, item_id, skill_ids, correct and optionally timestamp, already in
    the order the responses happened within each student.
    """
    if "seq" not in frame.columns:
        frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("student_id").alias("seq"))
    ordered = ["student_id", "item_id", "skill_ids", "correct", "seq"]
    extra = [c for c in frame.columns if c not in ordered]
    return validate(frame.select(ordered + extra), "responses", source=source)
