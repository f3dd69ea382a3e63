"""Edge cases of the pre-deployment audit's small parts (engine/fairness/predeployment.py) that the mutation run
showed untested: option checks, the exit code, the INSUFFICIENT_EVIDENCE payload of a part that cannot run,
the group columns taken from a roster, and the human summary, each worked by hand from the docstrings.
(The whole `audit_model_set` runs simulations of minutes; tests/fairness/test_predeployment_evidence.py and the
CLI tests cover it.)
"""

from __future__ import annotations

import polars as pl
import pytest

from engine.errors import ConfigError
from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, load_policy
from engine.fairness.predeployment import (
    DEFAULT_SUITE_SETTINGS,
    SUITE_POLICIES,
    AuditOptions,
    _groups,
    _insufficient,
    exit_code,
    summary_lines,
)


def test_option_defaults_and_checks() -> None:
    opts = AuditOptions()
    assert (opts.sim_students, opts.sim_students_max, opts.sim_steps, opts.sim_seed) == (500, 4000, 80, 11)
    assert (opts.suite_students, opts.suite_steps, opts.suite_seeds, opts.suite_settings) == (200, 40, (1,), DEFAULT_SUITE_SETTINGS)
    assert (opts.policy, opts.recommendations_policy, opts.dif_method, opts.dif_adjust) == (None, None, "mh", "holm")
    assert DEFAULT_SUITE_SETTINGS == ("bkt", "curve", "proficiency-peak60", "misspecified-15")
    assert SUITE_POLICIES == ("equilearn", "random")
    for name in ("sim_students", "sim_students_max", "sim_steps", "suite_steps"):
        with pytest.raises(ConfigError, match=f"^{name.replace('_', '-')} must be >= 1, got 0$"):
            AuditOptions(**{name: 0})
        assert getattr(AuditOptions(**{name: 1}), name) == 1
    with pytest.raises(ConfigError, match="^suite-students must be >= 0 \\(0 leaves the suite out\\), got -1$"):
        AuditOptions(suite_students=-1)
    assert AuditOptions(suite_students=0).suite_students == 0


def test_exit_codes() -> None:
    assert (exit_code(PASS), exit_code(FAIL), exit_code(INSUFFICIENT)) == (0, 1, 2)


def test_a_part_that_cannot_run_is_insufficient_with_its_reason() -> None:
    policy = load_policy()
    assert _insufficient("dif", policy, "no items", "set/2") == {
        "audit": "dif", "status": INSUFFICIENT, "policy": {"name": policy.name, "version": policy.version},
        "model_version": "set/2", "findings": ["The dif audit could not run: no items."], "checks": [],
        "check_status": {}, "error": "no items"}


def test_group_columns_default_to_every_roster_column_but_the_id() -> None:
    roster = pl.DataFrame({"gender": ["a"], "student_id": ["s"], "ses": ["x"]})
    assert _groups(roster, None) == ["gender", "ses"] and _groups(roster, []) == ["gender", "ses"]
    assert _groups(roster, ("ses",)) == ["ses"]


def _report() -> dict:
    gain = {"equilearn": {"F": {"mean": 0.4}, "M": {"mean": 0.35}}, "random": {"F": {"mean": 0.2}, "M": {"mean": 0.25}}}
    return {
        "model_version": "demo/3", "content_sha256": "abcdef0123456789", "status": FAIL,
        "part_status": {"recommendations": PASS, "dif:gender": INSUFFICIENT, "model": FAIL},
        "parts": {"dif:gender": {"check_status": {"dif_c_items": INSUFFICIENT}, "check_notes": {}},
                  "model": {"check_status": {"auc_shortfall": FAIL, "abroca": PASS},
                            "check_notes": {"auc_shortfall": "1 group(s) suppressed"}, "findings": ["f1"]}},
        "learner_suite": {"students": 200, "steps": 40, "settings": [{"setting": "bkt", "gain_by_group": gain}]},
        "skipped": ["learner-model suite: --suite-students 0"], "seconds": {"total": 12.34},
    }


def test_summary_lines_say_why_a_part_did_not_pass() -> None:
    assert summary_lines(_report()) == [
        "model set demo/3 (content sha256:abcdef012345): FAIL",
        f"  {'recommendations':<24} PASS",
        f"  {'dif:gender':<24} INSUFFICIENT_EVIDENCE",
        "    dif_c_items: insufficient_evidence",
        f"  {'model':<24} FAIL",
        "    auc_shortfall: 1 group(s) suppressed",
        "  learner suite (200 students x 40 steps, evidence): gain equilearn / random by group",
        f"    {'bkt':<22} F 0.400 / 0.200, M 0.350 / 0.250",
        "  not run: learner-model suite: --suite-students 0",
        "  12.3 s",
    ]


def test_summary_lines_fall_back_to_findings_and_skip_an_empty_suite() -> None:
    report = _report()
    report["part_status"] = {"model": INSUFFICIENT, "other": FAIL}
    report["parts"] = {"model": {"check_status": {"auc": PASS}, "findings": ["a", "b", "c", "d"]}}
    report["learner_suite"] = None
    report["skipped"] = []
    report["seconds"] = {}
    assert summary_lines(report) == [
        "model set demo/3 (content sha256:abcdef012345): FAIL",
        f"  {'model':<24} INSUFFICIENT_EVIDENCE", "    a", "    b", "    c",
        f"  {'other':<24} FAIL",
        "  0.0 s",
    ]


def test_an_undecided_simulated_gate_says_how_many_students_it_simulated_and_how_to_get_more() -> None:
    """Simulated evidence costs only time: an INSUFFICIENT_EVIDENCE recommendations part names the simulations it ran
    and the option that runs a larger one (twice the last); a part that decided says nothing of it."""
    report = _report()
    report["part_status"] = {"recommendations": INSUFFICIENT, "model": FAIL}
    note = "only suppressed groups: too few students to decide"
    tried = {"students_tried": [500, 1000, 2000, 4000]}
    report["parts"] = {"recommendations": {"check_status": {"once_ready": INSUFFICIENT}, "check_notes": {"once_ready": note},
                                           "data": tried},
                       "model": {"check_status": {"auc": FAIL}, "check_notes": {}, "data": tried}}
    lines = summary_lines(report)
    assert lines[1:6] == [f"  {'recommendations':<24} INSUFFICIENT_EVIDENCE", f"    once_ready: {note}",
                          "    simulated 500, 1,000, 2,000, 4,000 students; more evidence: run again with --sim-students-max 8000",
                          f"  {'model':<24} FAIL", "    auc: fail"]
