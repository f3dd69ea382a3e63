"""Causal per-response history statistics, built with polars expressions over whole columns.

For each response the statistics describe only that student's *earlier* responses (ordered by `seq`):
cumulative sums are taken within the group and the current row is subtracted, so nothing from the row
itself or later rows leaks in. Three scopes are counted:

- `total`: all earlier responses of the student,
- `item`:  earlier responses of the student to the same item,
- `skill`: earlier responses of the student to items tagged with the same skill (one value per skill
  of the current item; multi-skill items get one entry per skill).

Statistics per scope: `attempts` (count), `wins` (sum of `correct`), `fails` (attempts - wins) and, for
each decay rate r in `decays`, exponentially decayed sums `wins_r{i}` / `fails_r{i}`, where the
response k steps back weighs r**(k-1) (the latest earlier response weighs 1; r = 0 keeps only it).
`correct` may be fractional; wins then sum the partial credit.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

ROW = "__row__"
SKILL = "skill_id"
SCOPES = ("total", "item", "skill")
SCOPE_KEYS: dict[str, list[str]] = {"total": ["student_id"], "item": ["student_id", "item_id"], "skill": ["student_id", SKILL]}


def stat_names(decays: Sequence[float]) -> list[str]:
    """Names of the per-scope statistics computed for the given decay rates."""
    names = ["attempts", "wins", "fails"]
    for i in range(len(decays)):
        names += [f"wins_r{i}", f"fails_r{i}"]
    return names


def sequential_order(responses: pl.DataFrame) -> pl.DataFrame:
    """The needed columns sorted by (student_id, seq), with each row's input position in `ROW`."""
    missing = [c for c in ("student_id", "item_id", "skill_ids", "correct", "seq") if c not in responses.columns]
    if missing:
        raise ValueError(f"responses lack column(s) {missing}; expected the canonical response columns")
    frame = responses.select("student_id", "item_id", "skill_ids", pl.col("correct").cast(pl.Float64), "seq")
    if frame["correct"].null_count():
        raise ValueError(f"'correct' has {frame['correct'].null_count()} null value(s); every response needs a score in [0, 1]")
    return frame.with_row_index(ROW).sort(["student_id", "seq"], maintain_order=True)


def _decayed_prior_sum(value: pl.Expr, decay: float, key: list[str]) -> pl.Expr:
    """sum over earlier rows j of decay**(t-1-j) * value_j, within `key` groups (0 for a first row).

    polars' adjusted EWM mean m_t = S_t / sum_{j<=t} r**(t-j) gives the inclusive sum S_t; the
    exclusive sum at t is S_{t-1}, i.e. S shifted by one row within the group.
    """
    if decay == 0.0:
        return value.shift(1).fill_null(0.0).over(key)
    k = pl.int_range(1, pl.len() + 1)  # number of rows in the inclusive window
    inclusive = value.ewm_mean(alpha=1.0 - decay, adjust=True) * (1.0 - pl.lit(decay) ** k) / (1.0 - decay)
    return inclusive.shift(1).fill_null(0.0).over(key)


def _scope_stats(scope: str, decays: Sequence[float]) -> list[pl.Expr]:
    key = SCOPE_KEYS[scope]
    correct = pl.col("correct")
    attempts = pl.int_range(pl.len(), dtype=pl.Int64).over(key).cast(pl.Float64)
    wins = (correct.cum_sum() - correct).over(key)
    exprs = [attempts.alias(f"{scope}_attempts"), wins.alias(f"{scope}_wins"), (attempts - wins).alias(f"{scope}_fails")]
    for i, r in enumerate(decays):
        exprs.append(_decayed_prior_sum(correct, r, key).alias(f"{scope}_wins_r{i}"))
        exprs.append(_decayed_prior_sum(1.0 - correct, r, key).alias(f"{scope}_fails_r{i}"))
    return exprs


def response_history(ordered: pl.DataFrame, decays: Sequence[float] = ()) -> pl.DataFrame:
    """One row per response of `ordered` (same order): `total_*` and `item_*` statistics."""
    return ordered.select(*_scope_stats("total", decays), *_scope_stats("item", decays))


def skill_history(ordered: pl.DataFrame, decays: Sequence[float] = ()) -> pl.DataFrame:
    """One row per (response, skill of its item): position `pos` in `ordered`, `skill_id`, `skill_*` stats.

    Responses whose item has no skill contribute no row (they still count in the total and item scopes).
    """
    exploded = (
        ordered.select("student_id", "skill_ids", "correct")
        .with_row_index("pos")
        .explode("skill_ids")
        .rename({"skill_ids": SKILL})
        .filter(pl.col(SKILL).is_not_null())
        .unique(["pos", SKILL], keep="first", maintain_order=True)  # a skill listed twice counts once
    )
    return exploded.select(pl.col("pos").cast(pl.Int64), SKILL, *_scope_stats("skill", decays))


# ---- the same statistics kept online, one running counter per (student, scope) ----------------------
def new_counter(decays: Sequence[float]) -> list[float]:
    """A running counter: [attempts, wins, wins_r0, fails_r0, wins_r1, fails_r1, ...] (JSON-ready)."""
    return [0.0] * (2 + 2 * len(decays))


def record(counter: list[float], correct: float, decays: Sequence[float]) -> None:
    """Add one response to a counter in place (decayed sums: S <- r * S + value)."""
    counter[0] += 1.0
    counter[1] += correct
    for i, r in enumerate(decays):
        counter[2 + 2 * i] = r * counter[2 + 2 * i] + correct
        counter[3 + 2 * i] = r * counter[3 + 2 * i] + (1.0 - correct)


def counter_stats(counter: Sequence[float], decays: Sequence[float]) -> dict[str, float]:
    """The statistics of `stat_names(decays)` read off a counter."""
    stats = {"attempts": counter[0], "wins": counter[1], "fails": counter[0] - counter[1]}
    for i in range(len(decays)):
        stats[f"wins_r{i}"] = counter[2 + 2 * i]
        stats[f"fails_r{i}"] = counter[3 + 2 * i]
    return stats
