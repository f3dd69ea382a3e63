"""Edge cases of the model audit (engine/fairness/model_audit.py) that the mutation run showed untested.

References: per-row columns recomputed from their definitions (squared error, clipped log-loss, residual,
mastery products), reliability curves, ROC curves and ABROCA tests recomputed group by group with the
project's own tested functions (`reliability_curve`, `roc_curve`, `abroca_test`, `identity_predictiveness`)
on the rows chosen by hand, the one-hot coding rule of the docstring (largest level dropped, suppressed
levels pooled), and the progress protocol counted by hand.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.evaluation.metrics import reliability_curve
from engine.fairness.identity import identity_predictiveness
from engine.fairness.metricframe import OVERALL
from engine.fairness.model_audit import (
    ROC_GRID,
    _curves_at_grid,
    _dummies,
    audit_model,
    model_metrics,
    prepare_rows,
)
from engine.fairness.roc import abroca_test, roc_curve

FAST = dict(n_boot=25, n_permutations=25, n_folds=3)


def _population(seed: int = 0, sizes=(("A", 14), ("B", 12), ("C", 10), ("D", 4)), per: int = 6) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, roster = [], []
    k = 0
    for g, n in sizes:
        for _ in range(n):
            sid = f"s{k:03d}"
            roster.append({"student_id": sid, "grp": g, "ses": "hi" if k % 2 else "lo"})
            for _ in range(per):
                p = float(rng.uniform(0.05, 0.95))
                rows.append({"student_id": sid, "correct": float(rng.random() < p), "p": p, "mastered": bool(p > 0.6)})
            k += 1
    return pl.DataFrame(rows), pl.DataFrame(roster)


def test_metric_list_and_directions() -> None:
    names = [(m.name, m.higher_is_better) for m in model_metrics(False)]
    assert names == [("auc", True), ("rmse", False), ("logloss", False), ("ece", False), ("mean_residual", True)]
    full = model_metrics(True)
    assert [(m.name, m.higher_is_better) for m in full[5:]] == [("mastery_success", True), ("mastery_gap", True)]
    assert (full[5].numerator, full[5].denominator, full[6].numerator, full[6].denominator) == ("m_y", "m_one", "m_resid", "m_one")
    assert full[1].sqrt and not full[2].sqrt and (full[1].numerator, full[2].numerator, full[4].numerator) == ("sq_err", "loss", "resid")


def test_prepared_columns_follow_their_definitions() -> None:
    frame = pl.DataFrame({"who": [1, 2, 3, 4], "y": [1, 0, 1, 0], "q": [0.0, 1.0, 0.7, 0.5], "m": [True, False, True, None]})
    rows = prepare_rows(frame.drop_nulls(), y_col="y", p_col="q", student_col="who", mastery_col="m")
    y = np.array([1.0, 0.0, 1.0])
    p = np.array([0.0, 1.0, 0.7])
    q = np.clip(p, 1e-7, 1 - 1e-7)
    assert rows["who"].dtype == pl.Utf8 and rows["who"].to_list() == ["1", "2", "3"]
    np.testing.assert_allclose(rows["sq_err"].to_numpy(), (y - p) ** 2)
    np.testing.assert_allclose(rows["loss"].to_numpy(), -(y * np.log(q) + (1 - y) * np.log(1 - q)))
    np.testing.assert_allclose(rows["resid"].to_numpy(), y - p)
    m = np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(rows["m_y"].to_numpy(), m * y)
    np.testing.assert_allclose(rows["m_resid"].to_numpy(), m * (y - p))
    np.testing.assert_allclose(rows["m_one"].to_numpy(), m)
    assert "m_y" not in prepare_rows(frame, y_col="y", p_col="q", student_col="who", mastery_col=None).columns


def test_curves_at_the_grid() -> None:
    y = np.array([1, 0, 1, 0, 1.0])
    p = np.array([0.9, 0.8, 0.6, 0.3, 0.2])
    fpr, tpr = roc_curve(y, p)
    assert _curves_at_grid(y, p) == np.interp(ROC_GRID, fpr, tpr).round(4).tolist()
    assert _curves_at_grid(np.ones(3), p[:3]) == []
    assert ROC_GRID.size == 101 and ROC_GRID[0] == 0.0 and ROC_GRID[-1] == 1.0


def test_dummies_drop_the_largest_level_and_pool_suppressed_ones() -> None:
    labelled = pl.DataFrame({"g": ["a", "a", "a", "b", "b", "c", "d"], "h": ["x", "y", "y", "x", "y", "y", "y"]})
    from engine.fairness.groups import GroupSpec

    g, h = GroupSpec(("g",)), GroupSpec(("h",))
    got = _dummies(labelled, [g], set())
    np.testing.assert_array_equal(got, np.column_stack([[0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1]]))
    pooled = _dummies(labelled, [g, h], {("g", "c"), ("g", "d"), ("h", "zz")})
    # g: a (3) is the reference; b and the pool (c, d) get columns, in sorted order ("__pooled__" < "b")
    np.testing.assert_array_equal(pooled, np.column_stack([[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0, 0],
                                                           [1, 0, 0, 1, 0, 0, 0]]))
    assert _dummies(labelled, [], set()).shape == (7, 0)


def test_audit_curves_abroca_and_identity_against_a_groupwise_recomputation() -> None:
    preds, roster = _population()
    progress = []
    audit = audit_model(preds, "grp", roster=roster, min_group_size=5, confidence=0.9, random_state=2,
                        progress=lambda done, total, text: progress.append((done, total, text)), **FAST)
    joined = preds.join(roster, on="student_id")
    shown = sorted(k.group for k in audit.frame.points if k.group != OVERALL and k.metric == "auc")
    assert shown == ["A", "B"]  # D (4 students) is suppressed, and C (the next smallest) with it
    assert len(audit.reliability) == len(audit.roc) == 2
    for rel, g in zip(audit.reliability, shown):
        part = joined.filter(pl.col("grp") == g)
        pred, obs, count = reliability_curve(part["correct"].to_numpy(), part["p"].to_numpy())
        assert rel == {"attribute": "grp", "group": g, "predicted": pred.round(4).tolist(),
                       "observed": obs.round(4).tolist(), "count": count.tolist()}
    for curve, g in zip(audit.roc, shown):
        part = joined.filter(pl.col("grp") == g)
        assert curve["fpr"] == ROC_GRID.round(4).tolist()
        assert curve["tpr"] == _curves_at_grid(part["correct"].to_numpy(), part["p"].to_numpy())
    (a,) = audit.abroca
    assert (a["attribute"], a["group"], a["reference"], a["n_students"]) == ("grp", "B", "A", 12)
    pair = joined.filter(pl.col("grp").is_in(["A", "B"])).sort("student_id", maintain_order=True)
    ids, local = np.unique(pair["student_id"].to_numpy(), return_inverse=True)
    in_b = np.array([roster.filter(pl.col("student_id") == s)["grp"].item() == "B" for s in ids])
    direct = abroca_test(pair["correct"].to_numpy(), pair["p"].to_numpy(), local, in_b, n_permutations=25, n_boot=25,
                         confidence=0.9, random_state=2)
    assert a["abroca"] == pytest.approx(direct.value)
    assert (a["p_value"], a["n_permutations"]) == (pytest.approx(direct.p_value), direct.n_permutations)
    assert (a["ci_low"], a["ci_high"], a["se"]) == pytest.approx((direct.ci_low, direct.ci_high, direct.se), nan_ok=True)
    assert a["null"] == [round(x, 6) for x in direct.null] and a["boot"] == [round(x, 6) for x in direct.boot]
    # identity: rows in input order, students indexed by sorted id, the hidden C and D pooled into one level
    sid = preds["student_id"].to_numpy()
    uniq, student = np.unique(sid, return_inverse=True)
    grp = dict(zip(roster["student_id"], roster["grp"]))
    labels = np.array([grp[s] if grp[s] in "AB" else "__pooled__" for s in sid], dtype=object)
    dummies = np.column_stack([(labels == lv).astype(float) for lv in ("B", "__pooled__")])
    direct_id = identity_predictiveness(preds["correct"].to_numpy(), preds["p"].to_numpy(), student, dummies, n_folds=3,
                                        n_boot=25, confidence=0.9, random_state=2)
    got, want = audit.identity.to_dict(), direct_id.to_dict()
    assert got.pop("delta_auc_ci") == pytest.approx(want.pop("delta_auc_ci"))
    assert got == pytest.approx(want)
    assert audit.identity_by_attribute == {}  # a single attribute: no per-attribute test
    assert progress == [(0, None, "metrics by group (bootstrap)"), (1, 3, "ABROCA grp=B vs A"),
                        (2, 3, "identity predictiveness (all groups)"), (3, 3, "done")]


def test_two_attributes_report_each_identity_test_and_the_gate_evidence() -> None:
    preds, roster = _population(seed=1, sizes=(("A", 12), ("B", 12)))
    progress = []
    audit = audit_model(preds, ["grp", "ses"], roster=roster, min_group_size=5, mastery_col="mastered",
                        progress=lambda done, total, text: progress.append((done, total, text)), **FAST)
    assert [t for _, _, t in progress] == ["metrics by group (bootstrap)", "ABROCA grp=B vs A", "ABROCA ses=lo vs hi",
                                           "identity predictiveness (all groups)", "identity predictiveness (grp)",
                                           "identity predictiveness (ses)", "done"]
    assert [d for d, _, _ in progress] == [0, 1, 2, 3, 4, 5, 6] and {t for _, t, _ in progress[1:]} == {6}
    assert set(audit.identity_by_attribute) == {"grp", "ses"}
    assert audit.identity.n_group_parameters == 2 and audit.identity_tested
    evidence = audit.evidence()
    groups = [e for e in evidence if e["kind"] == "groups"]
    assert len(groups) == 2 * 7 and all(e["audit"] == "model" for e in groups)
    values = [e for e in evidence if e["kind"] == "value"]
    assert [e["metric"] for e in values] == ["abroca", "abroca", "identity_delta_auc"]
    first = values[0]
    a = audit.abroca[0]
    assert first == {"kind": "value", "audit": "model", "metric": "abroca", "higher_is_better": False, "stratum": None,
                     "attribute": "grp", "group": "B", "reference": "A", "estimate": a["abroca"], "se": a["se"],
                     "p_value": a["p_value"], "n_students": 12, "ci": [a["ci_low"], a["ci_high"]], "null": a["null"],
                     "boot": a["boot"], "n_permutations": a["n_permutations"]}
    ident = values[2]
    assert ident == {"kind": "value", "audit": "model", "metric": "identity_delta_auc", "higher_is_better": False,
                     "stratum": None, "attribute": "grp+ses", "group": "all", "reference": None,
                     "estimate": audit.identity.delta_auc, "se": audit.identity.delta_auc_se,
                     "p_value": audit.identity.p_value, "n_students": 24, "suppressed": False}
    body = audit.to_dict()
    assert "null" not in body["abroca"][0] and "boot" not in body["abroca"][0] and body["abroca"][0]["group"] == "B"
    assert body["identity_finding"] == audit.finding() and body["students_without_roster"] == 0
    assert body["identity_predictiveness"] == audit.identity.to_dict()
    assert body["identity_predictiveness_by_attribute"]["ses"] == audit.identity_by_attribute["ses"].to_dict()
    assert body["reliability"] == audit.reliability and body["roc"] == audit.roc
    assert body["by_group"] == audit.frame.by_group.to_dicts() and body["overall"] == audit.frame.overall.to_dicts()


def test_findings_in_words() -> None:
    preds, roster = _population(seed=2, sizes=(("A", 12), ("B", 12)))
    audit = audit_model(preds, "grp", roster=roster, min_group_size=5, **FAST)
    i = audit.identity
    test = (f"cross-fitted likelihood-ratio test over {i.n_students} students: LR = {i.lr_stat:.2f}, "
            f"one-sided p = {i.p_value:.3g}; change in AUC = {i.delta_auc:+.4f} "
            f"(95% CI {i.delta_auc_ci[0]:+.4f} to {i.delta_auc_ci[1]:+.4f})")
    improves = ("Group membership improves the prediction of outcomes beyond the model's own prediction, so the learning "
                "data does not fully explain outcomes for these groups (" + test + ").")
    not_detected = ("Adding group membership does not detectably improve the prediction of outcomes beyond the model's "
                    "own prediction (" + test + ").")
    assert audit.finding(alpha=i.p_value) == not_detected  # p = alpha is not below alpha
    assert audit.finding(alpha=math.nextafter(i.p_value, 1)) == improves
    assert audit.finding() == (improves if i.p_value < 0.05 else not_detected)
    small = audit_model(preds, "grp", roster=roster, min_group_size=13, **FAST)
    assert not small.identity_tested and small.abroca == [] and small.reliability == []
    assert small.finding() == ("Identity-predictiveness was not tested: every group is below the minimum size, so there "
                               "is no group membership that may be used.")
    assert small.evidence()[-1]["suppressed"] is True


def test_students_without_roster_rows_and_group_columns_on_the_rows() -> None:
    preds, roster = _population(seed=3, sizes=(("A", 12), ("B", 12)))
    on_rows = preds.join(roster, on="student_id")
    a = audit_model(on_rows, "grp", min_group_size=5, **FAST)
    b = audit_model(preds, "grp", roster=roster, min_group_size=5, **FAST)
    assert a.abroca[0]["abroca"] == b.abroca[0]["abroca"] and a.identity.p_value == b.identity.p_value
    renamed = on_rows.rename({"student_id": "who", "correct": "y", "p": "pred"})
    c = audit_model(renamed, "grp", y_col="y", p_col="pred", student_col="who", min_group_size=5, **FAST)
    assert c.frame.by_group.to_dicts() == a.frame.by_group.to_dicts()
    partial = roster.filter(pl.col("student_id") != "s000")
    d = audit_model(preds, "grp", roster=partial, min_group_size=1, **FAST)
    assert d.frame.students_without_roster == 1
    assert "(missing)" in {k.group for k in d.frame.points}


def test_documented_defaults() -> None:
    preds, roster = _population(seed=4, sizes=(("A", 12), ("B", 11)), per=4)
    audit = audit_model(preds, "grp", roster=roster)
    frame = audit.frame
    assert (frame.min_group_size, frame.n_boot, frame.confidence, frame.random_state) == (10, 200, 0.95, 0)
    assert audit.abroca[0]["n_permutations"] == 200 and audit.identity.n_folds == 5
    assert len(audit.abroca[0]["boot"]) > 20 and audit.abroca[0]["reference"] == "A"
