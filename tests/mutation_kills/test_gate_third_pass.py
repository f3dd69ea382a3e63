"""Two paths of the deployment gate (engine/fairness/gate.py) the third mutation pass found untested
(docs/mutation_fairness_evaluation.md, "Third pass"): a record without its reference group followed by other
records (`_rows_for` #189), and a row with standard error 0 against a check with both bounds (`_test` #68)."""

from __future__ import annotations

from engine.fairness.gate import Check, Row, _rows_for, _test


def _record(attribute: str, groups: list[str], estimate: list[float]) -> dict:
    k = len(groups)
    cov = [[0.0004 if i == j else 0.0 for j in range(k)] for i in range(k)]
    return {"metric": "auc", "kind": "frame", "attribute": attribute, "stratum": None, "groups": groups,
            "estimate": estimate, "cov": cov, "n_students": [100] * k, "higher_is_better": True, "suppressed": 0}


def test_a_record_without_its_reference_group_does_not_stop_the_later_records() -> None:
    """The check compares against the group named "girls". The first record (race) has no such group, so it gives no
    rows; the second (gender) has it and, the reference being a named group with only a maximum, is tested both ways:
    boys against girls, shortfall 0.80 - 0.70 = 0.10, and girls against boys, -0.10, each with SE
    sqrt(0.0004 + 0.0004)."""
    check = Check("auc gap", "model", "auc", "difference", reference="girls", max=0.05)
    records = [_record("race", ["a", "b"], [0.8, 0.7]), _record("gender", ["boys", "girls"], [0.7, 0.8])]
    rows, suppressed, vacuous = _rows_for(check, records)
    assert [(r.attribute, r.group, r.reference) for r in rows] == [("gender", "boys", "girls"), ("gender", "girls", "boys")]
    assert [round(r.value, 12) for r in rows] == [0.1, -0.1]
    assert all(abs(r.se - 0.0008 ** 0.5) < 1e-12 for r in rows)
    assert (suppressed, vacuous) == (0, [])


def test_an_exact_value_is_tested_against_both_bounds() -> None:
    """SE 0 (an exact value): (p_fail, p_pass) are p-values, small = confidently outside / inside. Inside [min, max]
    it is (1, 0): certainly inside; above the maximum (0, 1): certainly outside, and below the minimum too. Testing
    the minimum alone would call the value above the maximum inside."""
    check = Check("share in band", "recommendation", "share", "value", min=0.2, max=0.6)

    def row(value: float) -> Row:
        return Row(check, "gender", None, "girls", None, value, 0.0)

    assert _test(row(0.4)) == (1.0, 0.0)
    assert _test(row(0.9)) == (0.0, 1.0)
    assert _test(row(0.1)) == (0.0, 1.0)
