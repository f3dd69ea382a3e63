"""Edge cases of the item audit (engine/fairness/item_audit.py) that the mutation run showed untested.

References: the module docstring's rules worked by hand on a small table (which columns are items, which
group is the reference, who is suppressed and what is counted), and `mh_dif` / `logistic_dif` (checked
against difR and statsmodels in tests/fairness/test_dif.py) run directly on the students chosen by hand.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from engine.errors import ConfigError, DataValidationError
from engine.fairness.dif import logistic_dif, mh_dif
from engine.fairness.item_audit import REST_LABEL, audit_items, item_columns


def _table(seed: int = 0, sizes: dict[str, int] | None = None, n_items: int = 6) -> pl.DataFrame:
    sizes = sizes or {"a": 40, "b": 30, "c": 20}
    rng = np.random.default_rng(seed)
    group = np.concatenate([[g] * n for g, n in sizes.items()])
    ability = rng.normal(size=group.size)
    cols = {}
    for j in range(n_items):
        shift = 1.5 if (j == 0) else 0.0
        logit = ability - 0.3 * j + np.where(group == "b", -shift, 0.0)
        cols[f"i{j}"] = (rng.random(group.size) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame({"grp": group, **cols, "score": rng.normal(size=group.size), "name": [f"n{k}" for k in range(group.size)]})


def test_item_columns_automatic_named_and_skipped() -> None:
    table = _table().with_columns(pl.Series("blank", [None] * 90, dtype=pl.Int64), pl.Series("flag", [True, False] * 45))
    chosen, skipped = item_columns(table, "grp", None, exclude=["i5"])
    assert chosen == ["i0", "i1", "i2", "i3", "i4", "blank"]
    assert skipped == [{"column": "score", "reason": "values other than 0/1 (not a dichotomous item)"},
                       {"column": "name", "reason": "not numeric (String)"},
                       {"column": "flag", "reason": "not numeric (Boolean)"}]
    assert item_columns(table, "grp", ["i3", "i1"]) == (["i3", "i1"], [])
    with pytest.raises(ConfigError, match="unknown item column\\(s\\) 'x', 'y'; columns are: grp, i0"):
        item_columns(table, "grp", ["i0", "x", "y"])
    with pytest.raises(ConfigError, match="no 0/1 item columns found; name them with --items"):
        item_columns(table.select("grp", "score", "name"), "grp", None)
    assert item_columns(table.select("grp", "i0"), "grp", [])[0] == ["i0"]  # an empty list: choose automatically


def test_single_focal_group_against_everyone_else() -> None:
    table = _table()
    audit = audit_items(table, "grp", "b", min_group_size=5)
    assert audit.reference == REST_LABEL and audit.focal == ["b"] and audit.suppressed_groups == []
    assert audit.n_students == 90 and audit.excluded_students == 0
    X = table.select([pl.col(f"i{j}").cast(pl.Float64) for j in range(6)]).to_numpy()
    group = np.where(table["grp"].to_numpy() == "b", "b", "rest")
    direct = mh_dif(X, group, [f"i{j}" for j in range(6)], reference="rest", focal=["b"])
    assert [i.chi2 for i in audit.result.items] == pytest.approx([i.chi2 for i in direct.items])
    assert audit.skipped_columns == [{"column": "score", "reason": "values other than 0/1 (not a dichotomous item)"},
                                     {"column": "name", "reason": "not numeric (String)"}]


def test_several_focal_groups_take_the_largest_other_group_as_reference() -> None:
    table = _table(sizes={"a": 25, "b": 30, "c": 25, "d": 20})
    audit = audit_items(table, "grp", ["b", "d"], items=["i0", "i1", "i2"], min_group_size=5)
    assert audit.reference == "a"  # a and c both 25: the first label
    assert audit.n_students == 75 and audit.excluded_students == 25  # c is outside the compared groups
    keep = np.isin(table["grp"].to_numpy(), ["a", "b", "d"])
    X = table.select("i0", "i1", "i2").cast(pl.Float64).to_numpy()[keep]
    direct = mh_dif(X, table["grp"].to_numpy()[keep], ["i0", "i1", "i2"], reference="a", focal=["b", "d"])
    assert [(i.item_id, i.focal, i.chi2) for i in audit.result.items] == [(i.item_id, i.focal, pytest.approx(i.chi2))
                                                                          for i in direct.items]
    bigger_c = _table(sizes={"a": 25, "b": 30, "c": 26, "d": 20})
    assert audit_items(bigger_c, "grp", ["b", "d"], items=["i0"], min_group_size=5).reference == "c"


def test_options_reach_the_dif_functions() -> None:
    table = _table(seed=3)
    items = [f"i{j}" for j in range(6)]
    X = table.select(items).cast(pl.Float64).to_numpy()
    keep = np.isin(table["grp"].to_numpy(), ["a", "b"])
    kw = dict(reference="a", focal=["b"], match="rest", purify=True, alpha=0.1, adjust="holm")
    audit = audit_items(table, "grp", "b", reference="a", items=items, method="logistic", dif_type="uniform", match="rest",
                        purify=True, alpha=0.1, adjust="holm", min_group_size=5)
    direct = logistic_dif(X[keep], table["grp"].to_numpy()[keep], items, dif_type="uniform", **kw)
    assert audit.result.method == "logistic-uniform" == direct.method
    assert (audit.result.match, audit.result.purified, audit.result.alpha, audit.result.adjust) == ("rest", True, 0.1, "holm")
    assert [i.p_adjusted for i in audit.result.items] == pytest.approx([i.p_adjusted for i in direct.items])
    mh = audit_items(table, "grp", "b", reference="a", items=items, match="rest", purify=True, alpha=0.1, adjust="holm",
                     min_group_size=5)
    direct = mh_dif(X[keep], table["grp"].to_numpy()[keep], items, **kw)
    assert mh.result.method == "mh" and mh.result.anchor_items == direct.anchor_items
    assert [i.p_adjusted for i in mh.result.items] == pytest.approx([i.p_adjusted for i in direct.items])
    assert mh.excluded_students == 20 and mh.n_students == 70


def test_suppression_of_focal_and_reference_groups() -> None:
    table = _table(sizes={"a": 12, "b": 10, "c": 9})
    audit = audit_items(table, "grp", ["b", "c"], reference="a", items=["i0", "i1"])
    # c (9) alone hidden would be the table minus a and b: b is hidden with it, so nothing is analysed
    assert audit.suppressed_groups == ["b", "c"] and audit.excluded_students == 0  # no count that would reveal c's size
    assert audit.n_students == 0 and audit.result is None
    at_limit = audit_items(table, "grp", "b", reference="a", items=["i0"], min_group_size=10)
    assert at_limit.suppressed_groups == [] and at_limit.excluded_students == 9
    small_reference = audit_items(table, "grp", "a", reference="c", items=["i0"])
    assert small_reference.suppressed_groups == ["a"] and small_reference.result is None
    assert small_reference.n_students == 0 and small_reference.excluded_students == 0
    evidence = small_reference.evidence()
    assert evidence == [{"kind": "value", "audit": "dif", "metric": "dif_c_items", "higher_is_better": False,
                         "stratum": None, "attribute": "grp", "group": None, "reference": "c", "estimate": None,
                         "se": None, "p_value": None, "n_students": None, "suppressed": True}]
    body = small_reference.to_dict()
    assert body["items"] == [] and body["flag_for_review"] == [] and body["suppressed_groups"] == [{"attribute": "grp", "count": 1}]


def test_evidence_counts_class_c_items_per_focal_group() -> None:
    table = _table(seed=1, sizes={"a": 150, "b": 150, "c": 150}, n_items=5)
    audit = audit_items(table, "grp", ["b", "c"], reference="a", items=[f"i{j}" for j in range(5)])
    flagged = {f: sum(1 for i in audit.result.items if i.focal == f and i.ets_class == "C") for f in ("b", "c")}
    assert flagged["b"] >= 1  # item i0 is 1.5 logits harder for b
    got = {e["group"]: e for e in audit.evidence()}
    for f in ("b", "c"):
        assert got[f]["estimate"] == flagged[f] and got[f]["se"] == 0.0 and got[f]["suppressed"] is False
        assert got[f]["reference"] == "a" and got[f]["attribute"] == "grp"
    body = audit.to_dict()
    assert (body["group_col"], body["reference"], body["focal"], body["n_students"], body["excluded_students"]) == (
        "grp", "a", ["b", "c"], 450, 0)
    assert body["method"] == "mh" and len(body["items"]) == 10
    assert body["skipped_columns"] == audit.skipped_columns and body["suppressed_groups"] == []
    logistic = audit_items(table, "grp", ["b", "c"], reference="a", items=["i0", "i1"], method="logistic")
    count = sum(1 for i in logistic.result.items if i.flag_for_review)
    assert [e["estimate"] for e in logistic.evidence()] == [count, count]  # "b,c": one model for both groups


def test_errors_name_the_problem() -> None:
    table = _table()
    with pytest.raises(ConfigError, match="unknown DIF method 'irt'; use mh or logistic"):
        audit_items(table, "grp", "b", method="irt")
    with pytest.raises(ConfigError, match="unknown group column 'g'; columns are: grp, i0"):
        audit_items(table, "g", "b")
    with pytest.raises(ConfigError, match="group value\\(s\\) 'z' not found in 'grp'; values are: a, b, c"):
        audit_items(table, "grp", ["b", "z"])
    with pytest.raises(ConfigError, match="group value\\(s\\) 'q' not found in 'grp'; values are: a, b, c"):
        audit_items(table, "grp", "b", reference="q")
    with pytest.raises(DataValidationError) as info:
        audit_items(table.with_columns(pl.lit("a").alias("grp")), "grp", "a")
    (problem,) = info.value.problems
    assert problem.column == "grp" and problem.value == "a" and "single value" in problem.hint
    nulls = table.with_columns(pl.when(pl.col("grp") == "c").then(None).otherwise(pl.col("grp")).alias("grp"))
    audit = audit_items(nulls, "grp", "(missing)", reference="a", items=["i0"], min_group_size=5)
    assert audit.focal == ["(missing)"] and audit.n_students == 60


def test_documented_defaults() -> None:
    table = _table(sizes={"a": 12, "b": 10, "c": 9})
    audit = audit_items(table, "grp", "b", reference="a", items=["i0", "i1", "i2"])
    result = audit.result
    assert (result.method, result.match, result.purified, result.alpha, result.adjust) == ("mh", "score", False, 0.05, "none")
    assert audit.suppressed_groups == [] and audit_items(table, "grp", "c", reference="a", items=["i0"]).suppressed_groups == ["c"]
    logistic = audit_items(table, "grp", "b", reference="a", items=["i0", "i1"], method="logistic").result
    assert logistic.method == "logistic-both"


def test_logistic_dif_steps_add_up_on_a_small_table() -> None:
    """On tiny groups matched on two items, the fits with a group term reach quasi-separation. The two one-step
    likelihood-ratio tests (uniform, then non-uniform) are differences of nested fits, so each is >= 0 and together
    they make the two-step test (chi2). A Newton fit thrown off by a near-singular Hessian once gave
    lr_uniform = -6e18 and lr_nonuniform = +6e18 with p = 0.0 (a spurious non-uniform DIF)."""
    table = _table(sizes={"a": 12, "b": 10, "c": 9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way either
        result = audit_items(table, "grp", "b", reference="a", items=["i0", "i1"], method="logistic").result
    for item in result.items:
        assert item.lr_uniform >= -1e-9 and item.lr_nonuniform >= -1e-9
        assert item.lr_uniform + item.lr_nonuniform == pytest.approx(item.chi2, abs=1e-9)
        assert 0.0 <= item.delta_r2 <= 1.0 and item.p_nonuniform > 0.05
