"""Edge cases of the recommendation audit (engine/fairness/recommendation_audit.py) the mutation run showed untested.

Reference: each metric re-implemented in plain Python from the module docstring (loops over the served
rows), on a small random table with several lists per student, ranks above 1, ties in time, students who
start on remedial material in a list that also holds advanced material, and a configurable exposure
definition.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest

from engine.errors import ConfigError, DataValidationError
from engine.fairness.recommendation_audit import ExposureConfig, audit_recommendations

LEVELS = ["remedial", "core", "advanced"]
KINDS = ["practice", "video", "enrichment", "intervention"]
BANDS = ["low", "mid", "high"]


def _served(seed: int = 0, n: int = 24) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        for t in range(3):
            band = BANDS[rng.integers(0, 3)]
            for rank in range(1, 2 + rng.integers(0, 3)):
                rows.append({"student_id": f"s{s:02d}", "timestamp": t, "rank": rank, "level": LEVELS[rng.integers(0, 3)],
                             "kind": KINDS[rng.integers(0, 4)], "mastery_band": band, "list_id": f"s{s:02d}-{t}"})
    roster = pl.DataFrame({"student_id": [f"s{s:02d}" for s in range(n)], "g": ["x" if s % 3 else "y" for s in range(n)]})
    return pl.DataFrame(rows), roster


def _advanced(row, config=ExposureConfig()) -> bool:
    return row["level"] in config.advanced_levels or row["kind"] in config.advanced_kinds


def _by_group(audit, family: str, metric: str) -> dict:
    return {(r.get("stratum"), r["group"]): r["value"] for r in audit.frames[family].by_group.iter_rows(named=True)
            if r["metric"] == metric}


def _mean(pairs) -> float:
    num = sum(a for a, _ in pairs)
    den = sum(b for _, b in pairs)
    return num / den


def test_every_metric_against_a_plain_reimplementation() -> None:
    served, roster = _served()
    group = dict(zip(roster["student_id"], roster["g"]))
    audit = audit_recommendations(served, roster, "g", min_group_size=1, n_boot=5)
    rows = served.to_dicts()

    exposure, weighted = defaultdict(list), defaultdict(list)
    for r in rows:
        w = 1 / math.log2(1 + r["rank"])
        key = (r["mastery_band"], group[r["student_id"]])
        exposure[key].append((float(_advanced(r)), 1.0))
        weighted[key].append((float(_advanced(r)) * w, w))
    got = _by_group(audit, "exposure", "advanced_exposure")
    assert got == pytest.approx({k: _mean(v) for k, v in exposure.items()})
    got = _by_group(audit, "exposure", "weighted_advanced_exposure")
    assert got == pytest.approx({k: _mean(v) for k, v in weighted.items()})

    lists = defaultdict(list)
    for r in rows:
        lists[r["list_id"]].append(r)
    not_offered = defaultdict(list)
    for items in lists.values():
        if any(r["mastery_band"] == "high" for r in items):
            not_offered[group[items[0]["student_id"]]].append((float(not any(_advanced(r) for r in items)), 1.0))
    got = _by_group(audit, "ready_not_offered", "ready_not_offered")
    assert got == pytest.approx({(None, g): _mean(v) for g, v in not_offered.items()})

    received = defaultdict(bool)
    for r in rows:
        received[(r["student_id"], r["mastery_band"])] |= r["kind"] == "intervention"
    rate = defaultdict(list)
    for (s, band), hit in received.items():
        rate[(band, group[s])].append((float(hit), 1.0))
    assert _by_group(audit, "intervention_rate", "intervention_rate") == pytest.approx({k: _mean(v) for k, v in rate.items()})

    moved = defaultdict(list)
    for s in group:
        mine = sorted((r for r in rows if r["student_id"] == s), key=lambda r: (r["timestamp"], r["rank"]))
        if mine[0]["level"] == "remedial":
            later = [r for r in mine if r["timestamp"] > mine[0]["timestamp"]]
            moved[group[s]].append((float(any(_advanced(r) for r in later)), 1.0))
    got = _by_group(audit, "remedial_to_advanced", "remedial_to_advanced")
    assert got == pytest.approx({(None, g): _mean(v) for g, v in moved.items()})
    assert audit.n_rows == len(rows) and audit.n_students == 24 and audit.skipped == [] and audit.not_applicable == {}


def test_advanced_material_in_the_first_list_is_not_a_later_move() -> None:
    rows = []
    for s in range(12):
        moved = s % 2 == 0  # even students get advanced material in a later list, odd ones only in the first list
        rows += [{"student_id": f"s{s:02d}", "timestamp": 0, "rank": 1, "level": "remedial", "kind": "practice", "mastery_band": "low"},
                 {"student_id": f"s{s:02d}", "timestamp": 0, "rank": 2, "level": "advanced", "kind": "practice", "mastery_band": "low"},
                 {"student_id": f"s{s:02d}", "timestamp": 1, "rank": 1, "level": "advanced" if moved else "core",
                  "kind": "practice", "mastery_band": "low"}]
    roster = pl.DataFrame({"student_id": [f"s{s:02d}" for s in range(12)], "g": ["a"] * 6 + ["b"] * 6})
    audit = audit_recommendations(pl.DataFrame(rows), roster, "g", min_group_size=1, n_boot=5, metrics=["remedial_to_advanced"])
    assert _by_group(audit, "remedial_to_advanced", "remedial_to_advanced") == {(None, "a"): 0.5, (None, "b"): 0.5}


def test_lists_without_list_id_are_student_and_time() -> None:
    served, roster = _served(seed=1)
    without = audit_recommendations(served.drop("list_id"), roster, "g", min_group_size=1, n_boot=5)
    with_ids = audit_recommendations(served, roster, "g", min_group_size=1, n_boot=5)
    assert _by_group(without, "ready_not_offered", "ready_not_offered") == pytest.approx(
        _by_group(with_ids, "ready_not_offered", "ready_not_offered"))
    # one list id shared across students: each list is carried by its first student
    merged = served.with_columns(pl.lit("one").alias("list_id"))
    audit = audit_recommendations(merged.filter(pl.col("mastery_band") == "high"), roster, "g", min_group_size=1, n_boot=5,
                                  metrics=["ready_not_offered"])
    ((_, value),) = _by_group(audit, "ready_not_offered", "ready_not_offered").items()
    assert value == 0.0  # the single list holds advanced material somewhere


def test_missing_time_columns_skip_the_metrics_that_need_them() -> None:
    served, roster = _served(seed=2)
    audit = audit_recommendations(served.drop("list_id", "timestamp"), roster, "g", min_group_size=1, n_boot=5)
    assert set(audit.frames) == {"exposure", "intervention_rate"}
    assert audit.skipped == [
        "ready_not_offered: needs a list_id or timestamp column to know which rows form one list",
        "remedial_to_advanced: needs a timestamp column to order what each student was served"]
    only = audit_recommendations(served.drop("timestamp"), roster, "g", min_group_size=1, n_boot=5,
                                 metrics=["ready_not_offered", "remedial_to_advanced"])
    assert set(only.frames) == {"ready_not_offered"}
    assert only.skipped == ["remedial_to_advanced: needs a timestamp column to order what each student was served"]


def test_nothing_to_compare_is_not_applicable() -> None:
    served, roster = _served(seed=3)
    nothing = served.with_columns(pl.lit("core").alias("level"), pl.lit("mid").alias("mastery_band"))
    audit = audit_recommendations(nothing, roster, "g", min_group_size=1, n_boot=5)
    none_started = "no student of any group started on remedial material"
    assert audit.not_applicable == {"ready_not_offered": "no list was served to a ready student, in any group",
                                    "remedial_to_advanced": none_started, "remedial_to_advanced_once_ready": none_started}
    assert audit.skipped == ["ready_not_offered: no list was served to a ready student, in any group",
                             f"remedial_to_advanced: {none_started}", f"remedial_to_advanced_once_ready: {none_started}"]
    # remedial starters, none of them ready later: only the second has nothing to compare
    never_ready = served.with_columns(pl.lit("remedial").alias("level"), pl.lit("mid").alias("mastery_band"))
    later = audit_recommendations(never_ready, roster, "g", min_group_size=1, n_boot=5)
    assert later.not_applicable["remedial_to_advanced_once_ready"] == ("no student of any group who started on remedial "
                                                                       "material was ready later")
    assert "remedial_to_advanced" in later.frames
    records = [e for e in audit.evidence() if e["kind"] == "not_applicable"]
    assert records == [{"kind": "not_applicable", "metric": m, "reason": r} for m, r in audit.not_applicable.items()]
    assert all(e["kind"] == "groups" and e["audit"] == "recommendations" for e in audit.evidence() if e not in records)


def test_ready_column_and_exposure_config() -> None:
    served, roster = _served(seed=4)
    config = ExposureConfig(advanced_levels=("core",), advanced_kinds=("video",), remedial_levels=("core",),
                            intervention_kinds=("practice",), ready_band="low")
    group = dict(zip(roster["student_id"], roster["g"]))
    ready_rows = served.with_columns((pl.col("rank") == 1).alias("ready"))
    audit = audit_recommendations(ready_rows, roster, "g", config=config, min_group_size=1, n_boot=5)
    rows = ready_rows.to_dicts()
    exposure = defaultdict(list)
    for r in rows:
        exposure[(r["mastery_band"], group[r["student_id"]])].append((float(_advanced(r, config)), 1.0))
    assert _by_group(audit, "exposure", "advanced_exposure") == pytest.approx({k: _mean(v) for k, v in exposure.items()})
    lists = defaultdict(list)
    for r in rows:
        lists[r["list_id"]].append(r)
    not_offered = defaultdict(list)
    for items in lists.values():
        if any(r["ready"] for r in items):  # the ready column, not the band
            not_offered[group[items[0]["student_id"]]].append((float(not any(_advanced(r, config) for r in items)), 1.0))
    assert _by_group(audit, "ready_not_offered", "ready_not_offered") == pytest.approx(
        {(None, g): _mean(v) for g, v in not_offered.items()})
    received = defaultdict(bool)
    for r in rows:
        received[(r["student_id"], r["mastery_band"])] |= r["kind"] == "practice"
    rate = defaultdict(list)
    for (s, band), hit in received.items():
        rate[(band, group[s])].append((float(hit), 1.0))
    assert _by_group(audit, "intervention_rate", "intervention_rate") == pytest.approx({k: _mean(v) for k, v in rate.items()})
    band_ready = audit_recommendations(served, roster, "g", config=ExposureConfig(ready_band="low"), min_group_size=1,
                                       n_boot=5, metrics=["ready_not_offered"])
    lists_low = {k: v for k, v in lists.items() if any(r["mastery_band"] == "low" for r in v)}
    expect = defaultdict(list)
    for items in lists_low.values():
        expect[group[items[0]["student_id"]]].append((float(not any(_advanced(r) for r in items)), 1.0))
    assert _by_group(band_ready, "ready_not_offered", "ready_not_offered") == pytest.approx(
        {(None, g): _mean(v) for g, v in expect.items()})


def test_rank_checks_and_required_columns() -> None:
    served, roster = _served(seed=5)
    for bad, shown in ((0, 0), (-2, -2)):
        broken = served.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(bad).otherwise(pl.col("rank")).alias("rank"))
        with pytest.raises(DataValidationError) as info:
            audit_recommendations(broken, roster, "g")
        (problem,) = info.value.problems
        assert (problem.row, problem.column, problem.value, problem.count) == (4, "rank", shown, 1)
        assert problem.hint == "rank must be a whole number >= 1 (1 = top of the list)"
    text = served.with_columns(pl.col("rank").cast(pl.Utf8)).with_columns(
        pl.when(pl.int_range(pl.len()) >= 5).then(pl.lit("top")).otherwise(pl.col("rank")).alias("rank"))
    with pytest.raises(DataValidationError) as info:
        audit_recommendations(text, roster, "g")
    assert info.value.problems[0].row == 6 and info.value.problems[0].count == served.height - 5
    with pytest.raises(ConfigError, match="served recommendations has no column\\(s\\) 'kind'"):
        audit_recommendations(served.drop("kind"), roster, "g")
    with pytest.raises(DataValidationError):
        audit_recommendations(served.with_columns(pl.lit(None, pl.Utf8).alias("level")), roster, "g")


def test_to_dict_uses_the_chosen_reference() -> None:
    served, roster = _served(seed=6)
    audit = audit_recommendations(served, roster, "g", reference="best", min_group_size=1, n_boot=25,
                                  metrics=["intervention_rate"])
    assert audit.reference == "best" and set(audit.frames) == {"intervention_rate"}
    body = audit.to_dict()
    assert (body["n_rows"], body["n_students"], body["skipped"]) == (served.height, 24, [])
    frame = audit.frames["intervention_rate"]
    assert body["intervention_rate"]["ratio_to_largest"] == frame.ratio("best").to_dicts()
    assert body["intervention_rate"]["difference_to_largest"] == frame.difference("best").to_dicts()
    assert body["intervention_rate"]["by_group"] == frame.by_group.to_dicts()
    assert body["intervention_rate"]["overall"] == frame.overall.to_dicts()
    default = audit_recommendations(served, roster, "g", min_group_size=1, n_boot=5, metrics=["exposure"])
    assert default.reference == "largest" and set(default.frames) == {"exposure"}
    sizes = audit_recommendations(served, roster, "g", n_boot=5, metrics=["exposure"], min_group_size=9,
                                  confidence=0.8, random_state=4)
    frame = sizes.frames["exposure"]
    assert (frame.min_group_size, frame.n_boot, frame.confidence, frame.random_state) == (9, 5, 0.8, 4)
    defaults = audit_recommendations(served.head(40), roster, "g", metrics=["exposure"]).frames["exposure"]
    assert (defaults.min_group_size, defaults.n_boot, defaults.confidence, defaults.random_state) == (10, 200, 0.95, 0)
