"""Edge cases of the outcome audit (engine/fairness/outcome_audit.py) and of the shared input checks
(engine/fairness/validation.py) that the mutation run showed untested.

References: pre/post windows, quartile cuts and the "every row grows" rule worked by hand on small tables,
numpy's quantiles, and the documented error format (row 1-based, column, value, hint, count).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.errors import ConfigError, DataValidationError
from engine.fairness.outcome_audit import QUARTILE_LABELS, audit_outcomes, outcomes_from_log
from engine.fairness.validation import ROWS_LISTED, check_values, require_columns


def test_windows_by_hand_and_who_is_left_out() -> None:
    log = pl.DataFrame({"who": ["a"] * 4 + ["b"] * 5 + ["c"] * 3, "t": [3, 2, 1, 0, 0, 1, 2, 3, 4, 2, 1, 0],
                        "ok": [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]})
    table, left_out = outcomes_from_log(log, window=2, student_col="who", correct_col="ok", order_col="t")
    # a in time order: 0, 0, 1, 1 -> pre 0, post 1; b: 0, 1, 0, 1, 1 -> pre 0.5, post 1; c has 3 < 4 answers
    assert table.to_dicts() == [{"student_id": "a", "pre": 0.0, "post": 1.0}, {"student_id": "b", "pre": 0.5, "post": 1.0}]
    assert left_out == 1
    exact, none_left = outcomes_from_log(log.filter(pl.col("who") == "a"), window=2, student_col="who", correct_col="ok",
                                         order_col="t")
    assert exact.height == 1 and none_left == 0  # exactly 2 x window answers is enough
    default = pl.DataFrame({"student_id": ["a"] * 20, "seq": list(range(20)), "correct": [0.0] * 10 + [1.0] * 10})
    assert outcomes_from_log(default)[0].to_dicts() == [{"student_id": "a", "pre": 0.0, "post": 1.0}]
    with pytest.raises(ConfigError, match="response log has no column\\(s\\) 'seq'"):
        outcomes_from_log(log.rename({"t": "time"}), student_col="who", correct_col="ok")


def _outcomes(n: int = 40, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    pre = np.round(rng.random(n), 2)
    pre[:4] = [0.2, 0.2, 0.2, 0.2]  # ties at a quartile cut
    post = pre + rng.normal(0.1, 0.05, n)
    ids = [f"s{i:02d}" for i in range(n)]
    return (pl.DataFrame({"student_id": ids, "pre": pre, "post": post}),
            pl.DataFrame({"student_id": ids, "g": ["x" if i % 2 else "y" for i in range(n)]}))


def test_quartiles_by_hand() -> None:
    outcomes, roster = _outcomes()
    audit = audit_outcomes(outcomes, roster, "g", n_boot=20, min_group_size=3)
    pre = outcomes["pre"].to_numpy()
    cuts = np.quantile(pre, [0.25, 0.5, 0.75])
    assert audit.quartile_cuts == pytest.approx(cuts.tolist())
    label = np.array([QUARTILE_LABELS[int(np.sum(v >= cuts))] for v in pre])  # a value on a cut goes up
    gain = outcomes["post"].to_numpy() - pre
    overall = {r["stratum"]: r for r in audit.by_quartile.overall.iter_rows(named=True)}
    for q in QUARTILE_LABELS:
        assert overall[q]["value"] == pytest.approx(gain[label == q].mean())
        assert overall[q]["n_students"] == int(np.sum(label == q))
    within = {(r["stratum"], r["group"]): r["value"] for r in audit.by_quartile.by_group.iter_rows(named=True)}
    g = roster["g"].to_numpy()
    for (q, grp), value in within.items():
        assert value == pytest.approx(gain[(label == q) & (g == grp)].mean())
    by_group = {r["group"]: r["value"] for r in audit.by_group.by_group.iter_rows(named=True)}
    assert by_group == pytest.approx({grp: gain[g == grp].mean() for grp in ("x", "y")})
    assert audit.students_left_out == 0 and audit.notes == []
    assert audit_outcomes(outcomes, roster, "g", n_boot=5, students_left_out=7).students_left_out == 7


def test_every_row_grows_needs_every_interval_above_zero() -> None:
    outcomes, roster = _outcomes(n=60, seed=1)
    grows = audit_outcomes(outcomes, roster, "g", n_boot=40, min_group_size=3)
    tables = [grows.by_group.by_group, grows.by_quartile.by_group, grows.by_quartile.overall]
    assert grows.every_row_grows() == all(bool((t["ci_low"] > 0).all()) for t in tables)
    assert grows.every_row_grows()
    # one quartile-and-group cell that does not grow
    low = outcomes["pre"].to_numpy() <= np.quantile(outcomes["pre"].to_numpy(), 0.25)
    odd = np.array([i % 2 == 1 for i in range(60)])
    post = np.where(low & odd, outcomes["pre"].to_numpy() - 0.1, outcomes["post"].to_numpy())
    flat = audit_outcomes(outcomes.with_columns(pl.Series("post", post)), roster, "g", n_boot=40, min_group_size=3)
    assert not flat.every_row_grows()
    assert flat.by_group.by_group["ci_low"].min() > 0  # the groups alone still grow: only the cell shows it
    body = flat.to_dict()
    assert body["every_row_grows"] is False and body["quartile_cuts"] == flat.quartile_cuts
    assert body["gain_by_quartile"] == flat.by_quartile.overall.to_dicts()
    assert body["gain_by_group_within_quartile"] == flat.by_quartile.by_group.to_dicts()
    assert body["gain_by_group"] == flat.by_group.by_group.to_dicts()
    assert body["gain_overall"] == flat.by_group.overall.to_dicts()
    assert body["students_left_out"] == 0 and body["notes"] == []
    evidence = flat.evidence()
    assert all(e["kind"] == "groups" and e["audit"] == "outcomes" for e in evidence)
    assert {e["stratum"] for e in evidence} == {None, "Q1", "Q2", "Q3", "Q4"}
    tiny = audit_outcomes(outcomes, roster, "g", n_boot=40, min_group_size=40)  # every group hidden: no row, no claim
    assert tiny.by_group.by_group.height == 0 and tiny.every_row_grows() == bool((tiny.by_quartile.overall["ci_low"] > 0).all())


def test_outcome_inputs_are_checked() -> None:
    outcomes, roster = _outcomes()
    with pytest.raises(ConfigError, match="outcomes has no column\\(s\\) 'post'; columns are: student_id, pre"):
        audit_outcomes(outcomes.drop("post"), roster, "g")
    with pytest.raises(DataValidationError) as info:
        audit_outcomes(outcomes.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("pre")).alias("pre")),
                       roster, "g")
    assert (info.value.problems[0].row, info.value.problems[0].column) == (3, "pre")
    assert info.value.source == "outcomes"
    defaults = audit_outcomes(outcomes, roster, "g")
    frame = defaults.by_group
    assert (frame.min_group_size, frame.n_boot, frame.confidence, frame.random_state) == (10, 200, 0.95, 0)
    assert defaults.by_quartile.stratum_col == "prior_quartile" and defaults.students_left_out == 0
    ints = outcomes.with_columns(pl.Series("student_id", list(range(40))))
    audit = audit_outcomes(ints, roster.with_columns(pl.Series("student_id", [str(i) for i in range(40)])), "g", n_boot=5,
                           min_group_size=3)
    assert audit.by_group.overall["n_students"].item() == 40


def test_require_columns_names_all_missing_and_present() -> None:
    frame = pl.DataFrame({"a": [1], "b": [2]})
    require_columns(frame, ["a", "b"], "t")
    with pytest.raises(ConfigError, match="^t has no column\\(s\\) 'x', 'y'; columns are: a, b$"):
        require_columns(frame, ["x", "a", "y"], "t")


def test_check_values_lists_rows_then_a_summary() -> None:
    n = ROWS_LISTED + 5
    frame = pl.DataFrame({"a": [None] * n, "p": [0.0, 1.0, -0.1, 1.1, None] + [0.5] * (n - 5), "s": ["x"] * n})
    with pytest.raises(DataValidationError) as info:
        check_values(frame, "preds", not_null=["a"], unit_interval=["p"])
    problems = info.value.problems
    assert [p.row for p in problems[:ROWS_LISTED]] == list(range(1, ROWS_LISTED + 1))
    summary = problems[ROWS_LISTED]
    assert (summary.row, summary.column, summary.count) == (ROWS_LISTED + 1, "a", 5)
    assert summary.hint == "missing value; fill it or remove the row (audits never drop rows silently)"
    ranged = problems[ROWS_LISTED + 1:]
    assert [(p.row, p.column, p.value) for p in ranged] == [(3, "p", -0.1), (4, "p", 1.1)]  # 0, 1 and null are fine here
    assert ranged[0].hint == "must be a number between 0 and 1"
    assert info.value.source == "preds"
    exactly = pl.DataFrame({"a": [None] * ROWS_LISTED})
    with pytest.raises(DataValidationError) as info:
        check_values(exactly, "t", not_null=["a"])
    assert len(info.value.problems) == ROWS_LISTED and all(p.count == 1 for p in info.value.problems)
    with pytest.raises(DataValidationError) as info:
        check_values(pl.DataFrame({"p": ["0.5", "high", None], "q": [float("nan"), 0.5, 0.5]}), "t", unit_interval=["p", "q"])
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "p"), (1, "q")]
    check_values(frame.select("s"), "t", not_null=["s"], unit_interval=[])
