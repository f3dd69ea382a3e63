"""The content of the fairness report's blocks (engine/fairness/report.py): the verdict, who is affected, what to do,
each check's block and the suppressed groups, and the order of the blocks.

The third mutation pass (docs/mutation_fairness_evaluation.md, "What remains after the third pass") found that no
fast test checked these: the counts of failing comparisons and checks, the 'no usable data for' list, the failing /
undecided lines and the cut at 8, the 'about N (now M)' column, the 'All N comparisons' details, the stratum of a
hidden group and the audit-specific blocks at the end all survived mutation. The tests here build the explained checks
(`_check_blocks`, `_verdict`), the who-is-affected lists (`_affected_lines`, `_todo`) or a whole result (`blocks`) by
hand, so every count, list, order and cut-off is known in advance; the students needed to settle a comparison are
worked out from the formula in `engine.fairness.explain`'s docstring:

    n_needed = ceil(n (w h / margin)^2),  w = max(1, z(1 - alpha / m) / z(1 - (1 - confidence) / 2)),

with h the interval's half-width, margin |estimate - bound| and m the comparisons with an interval. The wording of
the report is not pinned: numbers are read with regexes, items found by the names given to them here.
"""

from __future__ import annotations

import re
from typing import Any

from engine.fairness import report
from engine.fairness.report import STATUS_WORDS, TODO, _affected_lines, _check_blocks, _todo, _verdict, blocks

INS = "INSUFFICIENT_EVIDENCE"


def _ints(text: str) -> list[str]:
    """The whole numbers in a text, with their thousands separators ('about 1,234 (now 100)' -> ['1,234', '100'])."""
    return re.findall(r"\d[\d,]*\d|\d", text)


def _count(text: str, word: str) -> int:
    m = re.search(rf"(\d+)\s+{word}", text)
    assert m, (word, text)
    return int(m.group(1))


# ---- _check_blocks: one block per check, its counts, the open rows and the details of all rows ---------------------

def _row(group: str, value: Any, ci: Any, status: str, **extra: Any) -> dict[str, Any]:
    return {"attribute": "sex", "group": group, "reference": "M", "stratum": None, "value": value, "ci": ci,
            "status": status, **extra}


CHECK_ONE_ROWS = [
    _row("F", 0.12, [0.08, 0.16], "FAIL", n_students=200),
    # undecided, both counts known: 'about 1,234 (now 100)', its reason not shown
    _row("G1", 0.1, [0.0, 0.2], INS, n_needed=1234, n_students=100, reason="REASON-A"),
    # undecided, students needed known but not the students now: the reason
    _row("G2", 0.04, [0.0, 0.09], INS, n_needed=50, n_students=None, reason="REASON-B"),
    # undecided, nothing known: n/a everywhere
    _row("G3", None, None, INS, n_needed=None, n_students=30),
    _row("G4", 0.01, [-0.02, 0.03], "PASS", n_students=500),
    _row("G5", 0.0, [-0.01, 0.01], "PASS", n_students=600),
]


def _explained_checks() -> list[dict[str, Any]]:
    return [
        {"status": "FAIL", "description": "CHECK-ONE", "meaning": "MEANING-1", "bound_text": "BOUND-1", "note": "NOTE-1",
         "counts": {"PASS": 2, "FAIL": 1, INS: 3}, "rows": CHECK_ONE_ROWS},
        {"status": "PASS", "description": "CHECK-TWO", "meaning": "MEANING-2", "bound_text": "BOUND-2", "note": None,
         "counts": {"PASS": 2, "FAIL": 0, INS: 0},
         "rows": [_row("H1", 0.5, [0.4, 0.6], "PASS"), _row("H2", 0.55, [0.45, 0.65], "PASS")]},
        # a status and a row status the report has no words for: shown as they are
        {"status": "ERROR", "description": "CHECK-THREE", "meaning": "MEANING-3", "bound_text": "BOUND-3",
         "counts": {"PASS": 0, "FAIL": 0, INS: 0}, "rows": [_row("K1", 0.5, [0.4, 0.6], "ODD")]},
    ]


def _cells(table_rows: list[list[str]]) -> dict[str, list[str]]:
    """Table rows by their group (the comparison's first cell is 'sex = <group> against M')."""
    out = {}
    for r in table_rows:
        m = re.match(r"sex = (\w+) against M$", r[0])
        assert m, r
        out[m.group(1)] = r[1:]
    return out


def test_check_blocks_kinds_and_order() -> None:
    out = _check_blocks(_explained_checks())
    # check one: heading, summary, open rows, details of all rows; check two (all pass): no open table;
    # check three (nothing passes): no details
    assert [b[0] for b in out] == ["h3", "p", "table", "details", "h3", "p", "details", "h3", "p", "table"]
    assert out[3][2][0] == "table" and out[6][2][0] == "table"
    assert [b[1].endswith(d) for b, d in zip((out[0], out[4], out[7]), ("CHECK-ONE", "CHECK-TWO", "CHECK-THREE"))] == [True] * 3


def test_check_blocks_heading_uses_the_status_words_or_the_status_itself() -> None:
    out = _check_blocks(_explained_checks())
    assert out[0][1].startswith(STATUS_WORDS["FAIL"])
    assert out[4][1].startswith(STATUS_WORDS["PASS"]) and not out[4][1].startswith("PASS")
    assert out[7][1].startswith("ERROR") and "None" not in out[7][1]


def test_check_blocks_summary_counts_and_note() -> None:
    out = _check_blocks(_explained_checks())
    one, two = out[1][1], out[5][1]
    assert (_count(one, "pass"), _count(one, "fail"), _count(one, "undecided")) == (2, 1, 3)
    assert "MEANING-1" in one and "BOUND-1" in one and "NOTE-1" in one
    assert (_count(two, "pass"), _count(two, "fail"), _count(two, "undecided")) == (2, 0, 0)
    assert "MEANING-2" in two and "BOUND-2" in two


def test_check_blocks_open_rows_value_interval_result_and_students_to_settle() -> None:
    out = _check_blocks(_explained_checks())
    open_rows = out[2][2]
    # the rows that did not pass, in the check's order
    assert [r[0] for r in open_rows] == ["sex = F against M", "sex = G1 against M", "sex = G2 against M", "sex = G3 against M"]
    cells = _cells(open_rows)
    assert cells["F"] == ["0.120", "0.080 to 0.160", STATUS_WORDS["FAIL"], ""]
    value, ci, result, settle = cells["G1"]
    assert (value, ci, result) == ("0.100", "0.000 to 0.200", STATUS_WORDS[INS])
    assert _ints(settle) == ["1,234", "100"] and "REASON-A" not in settle
    assert cells["G2"] == ["0.040", "0.000 to 0.090", STATUS_WORDS[INS], "REASON-B"]
    assert cells["G3"] == ["n/a", "n/a", STATUS_WORDS[INS], "n/a"]
    # an unknown row status: shown as is, nothing to settle
    assert _cells(out[9][2]) == {"K1": ["0.500", "0.400 to 0.600", "ODD", ""]}


def test_check_blocks_details_list_every_comparison() -> None:
    out = _check_blocks(_explained_checks())
    title, (_, _, rows) = out[3][1], out[3][2]
    assert _ints(title) == ["6"]
    cells = _cells(rows)
    assert list(cells) == ["F", "G1", "G2", "G3", "G4", "G5"]
    assert cells["G4"] == ["0.010", "-0.020 to 0.030", STATUS_WORDS["PASS"], ""]
    assert cells["G5"] == ["0.000", "-0.010 to 0.010", STATUS_WORDS["PASS"], ""]
    assert _ints(cells["G1"][3]) == ["1,234", "100"]
    title, (_, _, rows) = out[6][1], out[6][2]
    assert _ints(title) == ["2"]
    assert _cells(rows) == {"H1": ["0.500", "0.400 to 0.600", STATUS_WORDS["PASS"], ""],
                            "H2": ["0.550", "0.450 to 0.650", STATUS_WORDS["PASS"], ""]}


# ---- _verdict: the counts of failing comparisons and checks, the checks without data -------------------------------

def _check(status: str, description: str, passed: int = 0, failed: int = 0, undecided: int = 0) -> dict[str, Any]:
    rows = ([{"status": "PASS"}] * passed + [{"status": "FAIL"}] * failed + [{"status": INS}] * undecided)
    return {"status": status, "description": description, "counts": {"PASS": passed, "FAIL": failed, INS: undecided},
            "rows": rows}


def test_verdict_fail_counts_failing_comparisons_and_checks() -> None:
    explained = [_check("FAIL", "Check A", passed=1, failed=2, undecided=1), _check("FAIL", "Check B", failed=3),
                 _check("PASS", "Check C", passed=4), _check(INS, "Check D", undecided=2), _check("PASS", "Check E", passed=1)]
    text = _verdict("FAIL", explained)
    assert text.startswith("FAIL")
    # 2 + 3 failing comparisons in 2 failing checks (3 checks do not fail)
    assert _count(text, "comparison") == 5
    assert _count(text, "check") == 2
    assert _ints(text) == ["5", "2"]


def test_verdict_insufficient_counts_undecided_and_names_the_checks_without_data() -> None:
    explained = [_check(INS, "Check X", passed=1, undecided=3), _check(INS, "Check Y"), _check("PASS", "Check W", passed=2),
                 _check(INS, "Check V", undecided=1), _check(INS, "Check Z")]
    text = _verdict(INS, explained)
    assert not text.startswith(("PASS", "FAIL"))
    assert _ints(text) == ["4"] and _count(text, "comparison") == 4
    # the checks with no rows, in order, and only they
    assert re.search(r"Check Y\W{1,3}Check Z", text), text
    assert "Check X" not in text and "Check W" not in text and "Check V" not in text


def test_verdict_insufficient_without_undecided_comparisons_has_no_count() -> None:
    text = _verdict(INS, [_check(INS, "Check Y"), _check("PASS", "Check W", passed=2)])
    assert _ints(text) == [] and "Check Y" in text and "Check W" not in text
    assert "None" not in text


def test_verdict_insufficient_with_every_check_having_data_lists_none() -> None:
    text = _verdict(INS, [_check(INS, "Check X", undecided=2), _check("PASS", "Check W", passed=2)])
    assert _ints(text) == ["2"]
    assert "Check" not in text and not re.search(r":\s*\)", text), text


def test_verdict_pass_has_no_count() -> None:
    text = _verdict("PASS", [_check("PASS", "Check W", passed=2)])
    assert text.startswith("PASS") and _ints(text) == [] and "Check W" not in text


# ---- _affected_lines: failing lines, then at most 8 undecided ones and how many more -------------------------------

def _undecided(group: str, more: Any, value: Any = 0.2, ci: Any = (0.1, 0.3), reason: str | None = None) -> dict[str, Any]:
    return {"attribute": "grp", "group": group, "value": value, "ci": list(ci) if ci else ci, "more": more, "reason": reason,
            "bound_text": f"BOUND-{group}", "check": f"CHECK-{group}"}


def _who(n_undecided: int, failing: bool = True) -> dict[str, list[dict[str, Any]]]:
    fails = [{"attribute": "sex", "group": "F", "reference": "M", "value": 0.12, "ci": [0.08, 0.16],
              "bound_text": "BOUND-F1", "check": "CHECK-F1"},
             {"attribute": "ses", "group": "low", "stratum": "Q1", "value": 1.5, "ci": [1.2, 1.8],
              "bound_text": "BOUND-F2", "check": "CHECK-F2"}] if failing else []
    first = [_undecided("u01", 1234, 0.25, (0.1, 0.4), reason="REASON-A"),     # 'about 1,234 more'
             _undecided("u02", None, 0.3, (0.2, 0.4), reason="REASON-C"),      # on the bound: not its reason
             _undecided("u03", None, None, None, reason="REASON-B")]           # nothing estimated: its reason
    rest = [_undecided(f"u{k:02d}", 40 + k) for k in range(4, 30)]
    return {"failing": fails, "undecided": (first + rest)[:n_undecided]}


def _line_of(lines: list[str], group: str) -> str:
    found = [line for line in lines if re.search(rf"\b{group}\b", line)]
    assert len(found) == 1, (group, lines)
    return found[0]


def test_affected_lines_failing_first_then_eight_undecided_then_how_many_more() -> None:
    lines = _affected_lines(_who(10))
    assert len(lines) == 2 + 8 + 1
    assert all(isinstance(line, str) for line in lines)
    assert re.search(r"\bsex = F\b", lines[0]) and re.search(r"\bses = low\b", lines[1])
    assert [re.search(r"\bu\d\d\b", line).group(0) for line in lines[2:10]] == [f"u{k:02d}" for k in range(1, 9)]
    assert "u09" not in " ".join(lines) and "u10" not in " ".join(lines)
    assert _ints(lines[10]) == ["2"]


def test_affected_lines_cut_at_eight_exactly_and_nine() -> None:
    lines = _affected_lines(_who(8, failing=False))
    assert len(lines) == 8 and all(re.search(r"\bu0[1-8]\b", line) for line in lines)
    lines = _affected_lines(_who(9, failing=False))
    assert len(lines) == 9 and "u09" not in " ".join(lines) and _ints(lines[8]) == ["1"]


def test_affected_lines_failing_line_content() -> None:
    lines = _affected_lines(_who(0))
    assert len(lines) == 2
    assert all(s in lines[0] for s in ("0.120", "0.080 to 0.160", "BOUND-F1", "CHECK-F1", "against M"))
    assert all(s in lines[1] for s in ("1.500", "1.200 to 1.800", "BOUND-F2", "CHECK-F2", "Q1"))


def test_affected_lines_undecided_line_content_and_what_would_settle_it() -> None:
    lines = _affected_lines(_who(3, failing=False))
    u01, u02, u03 = (_line_of(lines, g) for g in ("u01", "u02", "u03"))
    assert all(s in u01 for s in ("0.250", "0.100 to 0.400", "BOUND-u01", "CHECK-u01"))
    assert re.search(r"\b1,?234\b", u01) and "REASON-A" not in u01 and "None" not in u01
    # estimate on the bound: no count, and not the row's reason
    assert all(s in u02 for s in ("0.300", "0.200 to 0.400")) and "REASON-C" not in u02 and "None" not in u02
    # nothing estimated: the row's reason, value and interval n/a
    assert "REASON-B" in u03 and u03.count("n/a") == 2


def test_affected_lines_nobody() -> None:
    lines = _affected_lines({"failing": [], "undecided": []})
    assert len(lines) == 1 and isinstance(lines[0], str) and lines[0]


# ---- _todo: what to do, by status -------------------------------------------------------------------------------------

def test_todo_fail_is_the_advice_of_the_audit_kind() -> None:
    who = _who(3)
    for kind in TODO:
        assert _todo("FAIL", kind, who) == [TODO[kind]]


def test_todo_insufficient_names_the_closest_undecided_comparison() -> None:
    who = {"failing": [], "undecided": [_undecided("near", 10), _undecided("far", 40), _undecided("none", None)]}
    todo = _todo(INS, "model", who)
    assert len(todo) == 2 and all(isinstance(t, str) for t in todo)
    assert "grp = near" in todo[0] and _ints(todo[0]) == ["10"] and "far" not in todo[0]
    # no comparison with a count: no count, no comparison named
    todo = _todo(INS, "model", {"failing": [], "undecided": [_undecided("none", None)]})
    assert len(todo) == 2 and isinstance(todo[0], str) and _ints(todo[0]) == [] and "grp" not in todo[0]


def test_todo_pass_is_one_item_and_not_a_fix() -> None:
    todo = _todo("PASS", "model", {"failing": [], "undecided": []})
    assert len(todo) == 1 and isinstance(todo[0], str)
    assert todo[0] not in TODO.values()
    assert todo != _todo(INS, "model", {"failing": [], "undecided": []})


# ---- blocks: the whole report's content, in order ----------------------------------------------------------------------

def _payload(kind: str, status: str, checks: list[dict[str, Any]], results: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"audit": kind, "status": status, "data": {}, "model_version": None, "results": results,
            "policy": {"name": "default", "version": "2"}, "min_group_size": 7, "generated_at": "2026-01-02",
            "findings": ["FINDING-1", "FINDING-2"], "checks": checks, "check_status": {"gap": status},
            "check_notes": {}, "suppressed_groups": [],
            "policy_checks": [{"name": "gap", "metric": "gain", "compare": "difference", "reference": "largest",
                               "min": None, "max": 0.05, "description": "GAP-CHECK"}], **extra}


def _gap_row(group: str, value: float, ci: list[float], status: str, n: int) -> dict[str, Any]:
    return {"name": "gap", "attribute": "sex", "group": group, "reference": "M", "stratum": None, "value": value,
            "ci": ci, "status": status, "n_students": n}


HEAD_KINDS = ["h1", "h2", "table", "h2", "verdict", "h2", "ul", "h2", "ul", "h2", "ul", "h2", "p"]


def test_blocks_of_a_failing_outcomes_audit_in_order_with_the_suppressed_groups() -> None:
    checks = [_gap_row("F", 0.3, [0.2, 0.4], "FAIL", 50), _gap_row("U", 0.25, [0.15, 0.35], "FAIL", 60),
              _gap_row("W", 0.0, [-0.01, 0.01], "PASS", 70)]
    results = {"gain_by_quartile": [], "gain_by_group": [], "gain_by_group_within_quartile": []}
    hidden = [{"table": "gain_by_group", "stratum": None, "attribute": "sex", "group": "X"},
              {"table": "gain_by_quartile", "stratum": "Q1", "attribute": "ses", "count": 3}]   # results.py's name
    out = blocks(_payload("outcomes", "FAIL", checks, results, suppressed_groups=hidden))
    kinds = [b[0] for b in out]
    # head; one check (heading, summary, open rows, details); suppressed groups (heading, text, list); the outcome
    # blocks: a heading, then three group tables under their headings
    assert kinds == HEAD_KINDS + ["h3", "p", "table", "details"] + ["h2", "p", "ul"] + ["h2", "h3", "table", "h3", "table", "h3", "table"]
    verdict = out[4]
    assert verdict[1] == "FAIL" and verdict[2].startswith("FAIL")
    assert _count(verdict[2], "comparison") == 2 and _count(verdict[2], "check") == 1
    who = out[6][1]
    assert len(who) == 2 and "sex = F" in who[0] and "sex = U" in who[1]
    assert out[8][1] == [TODO["outcomes"]]
    assert out[10][1] == ["FINDING-1", "FINDING-2"]
    assert out[13][1].endswith("GAP-CHECK") and _count(out[14][1], "fail") == 2 and _count(out[14][1], "pass") == 1
    assert "7" in _ints(out[18][1])
    sex, ses = out[19][1]
    assert "sex" in sex and "X" in sex and "Q1" not in sex
    assert "ses" in ses and "Q1" in ses and _ints(ses) == ["1", "3"]     # 'Q1' and '3 group(s)'
    # the hidden groups marked in the outcome tables (by group; by group within quartile)
    assert out[22][2] == [["sex", "X", report.SUPPRESSED, report.SUPPRESSED, ""]]
    assert out[26][2] == [["Q1", "ses", "3 group(s)", report.SUPPRESSED, report.SUPPRESSED, ""]]


def test_blocks_of_an_undecided_dif_audit_at_the_default_alpha_and_confidence() -> None:
    # 4 comparisons with an interval at the default alpha 0.05 and confidence 0.95: w = z(1 - 0.05/4) / z(0.975)
    # = 2.2414 / 1.9600 = 1.1436; the undecided one (0.1, interval 0 to 0.2, bound 0.05, 100 students) needs
    # ceil(100 (1.1436 * 0.1 / 0.05)^2) = ceil(523.12) = 524 students, 424 more
    checks = [_gap_row("F", 0.1, [0.0, 0.2], INS, 100)] + [_gap_row(g, 0.0, [-0.01, 0.01], "PASS", 100) for g in "VWY"]
    results = {"group_col": "sex", "reference": "M", "focal": ["F"], "items": []}
    payload = _payload("dif", INS, checks, results)
    assert "alpha" not in payload and "confidence" not in payload
    out = blocks(payload)
    kinds = [b[0] for b in out]
    assert kinds == HEAD_KINDS + ["h3", "p", "table", "details"] + ["h2", "p"] + ["h2", "p", "table"]
    assert out[-1][2] == []                                 # the DIF table, no items
    assert out[4][1] == INS and _ints(out[4][2]) == ["1"]
    settle = out[15][2][0][4]
    assert _ints(settle) == ["524", "100"]
    assert re.search(r"\b424\b", out[6][1][0]) and re.search(r"\b424\b", out[8][1][0])
    assert _ints(out[16][1]) == ["4"]                        # all 4 comparisons in the details


def test_blocks_of_an_undecided_recommendations_audit_with_its_own_alpha_and_confidence() -> None:
    # 1 comparison with an interval, alpha 0.01, confidence 0.90: w = z(0.99) / z(0.95) = 2.3263 / 1.6449 = 1.4143;
    # ceil(100 (1.4143 * 0.1 / 0.05)^2) = ceil(800.12) = 801 students, 701 more
    checks = [_gap_row("F", 0.1, [0.0, 0.2], INS, 100)]
    results = {"exposure": {"by_group": [{"metric": "advanced_exposure", "attribute": "sex", "group": "F", "stratum": None,
                                          "n_students": 40, "value": 0.3, "ci_low": 0.2, "ci_high": 0.4}],
                            "ratio_to_largest": []},
               "skipped": ["NOTE-R"]}
    out = blocks(_payload("recommendations", INS, checks, results, alpha=0.01, confidence=0.9))
    kinds = [b[0] for b in out]
    assert kinds == HEAD_KINDS + ["h3", "p", "table"] + ["h2", "p"] + ["h2", "h3", "table", "p"]
    assert _ints(out[15][2][0][4]) == ["801", "100"]
    assert re.search(r"\b701\b", out[6][1][0]) and re.search(r"\b701\b", out[8][1][0])
    assert out[-2][2] == [["sex", "F", "40", "0.300", "0.200 to 0.400"]]
    assert "NOTE-R" in out[-1][1]
