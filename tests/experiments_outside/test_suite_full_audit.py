"""The roster `experiments.suite_full_audit` gives the audit log names each student's own group, and one small row runs
the whole pre-deployment audit with a verdict for every part."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.fairness.predeployment import AuditOptions
from engine.simulate.suite import random_practice_log, setting_by_name
from engine.simulate.world import make_world
from experiments.suite_full_audit import GROUP, audit_row, log_roster

VERDICTS = {"PASS", "FAIL", "INSUFFICIENT_EVIDENCE"}


@pytest.mark.parametrize("name", ["bkt", "misspecified-20"])
def test_roster_gives_each_log_student_the_group_their_world_drew(name: str) -> None:
    catalog, setting, n, log_seed = load_catalog(None), setting_by_name(name), 200, 20_003
    content = setting.world(catalog, 50, 3)
    log = random_practice_log(setting, catalog, n, 2, log_seed, content=content, resources=True)
    roster = log_roster(setting, catalog, n, log_seed)
    assert set(roster["student_id"]) == set(log["student_id"]) and roster.height == n
    world = make_world(catalog, n, log_seed)  # drawn directly, not through the setting
    rows = np.array([int(s.rsplit("-", 1)[1]) for s in roster["student_id"]])
    assert (roster[GROUP].to_numpy() == np.array([g.name for g in world.groups])[world.group[rows]]).all()


def test_the_rosters_students_answer_as_their_world_says_they_start() -> None:
    """Independent of names: at the first step a student answers items of skills their world says they know far more
    often than others; the same check against the next student's knowledge (a misaligned roster) shows little."""
    catalog, setting, n, log_seed = load_catalog(None), setting_by_name("bkt"), 400, 20_001
    log = random_practice_log(setting, catalog, n, 1, log_seed, content=setting.world(catalog, 300, 1))
    roster = log_roster(setting, catalog, n, log_seed)
    position = {s: k for k, s in enumerate(roster["student_id"])}
    rows = np.array([position[s] for s in log["student_id"]])
    item = {i: k for k, i in enumerate(catalog.item_ids)}
    skill = catalog.item_skill[[item[i] for i in log["item_id"]]]
    y = log["correct"].to_numpy()
    known0 = make_world(catalog, n, log_seed).known0

    def contrast(shift: int) -> float:
        known = known0[(rows + shift) % n, skill]
        return float(y[known].mean() - y[~known].mean())

    assert contrast(0) > 0.45
    assert contrast(1) < 0.25


def test_one_small_row_has_a_verdict_for_every_part() -> None:
    options = AuditOptions(sim_students=60, sim_students_max=60, sim_steps=15, suite_students=0)
    row = audit_row("curve", 1, log_students=40, audit_students=40, steps=15, options=options)
    assert set(row["part_status"]) == {"recommendations", f"dif:{GROUP}", "model"}
    assert set(row["part_status"].values()) <= VERDICTS and row["status"] in VERDICTS
    assert row["same_as_build_log"] is False
    assert row["model"]["n_students"] == 40
    assert row["dif"]["tested"] <= row["dif"]["items"] and row["dif"]["class_c"] <= row["dif"]["tested"]
    # the first / later split re-adds to the model audit's own observed-minus-predicted per group (its replay, its mean)
    audited = row["model"]["values"]["under_over_estimation"]
    for group, split in row["residual_by_first_answer"].items():
        whole = split["share_first"] * split["first"] + (1 - split["share_first"]) * split["later"]
        assert whole == pytest.approx(audited[group]["value"], abs=1e-9)
