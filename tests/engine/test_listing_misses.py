"""experiments.listing_misses: each cause on views built by hand, the ready set against the places the recommender
actually gives to ready skills, and the recorded misses of a small suite run against the runner's own count."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate import runner
from engine.simulate.policies import EquilearnPolicy
from engine.simulate.suite import OURS, built_policy, random_practice_log, setting_by_name
from experiments.listing_misses import CAUSES, EngineViews, Miss, cause, listed_clock, ready_skills, recording


def _views(flagged: list[list[bool]], ready: list[list[bool]], tag: list[list[int]], true: list[list[int]] | None) -> EngineViews:
    """One student, two skills, one step per row of the lists."""
    return EngineViews(flagged=[np.array([f]) for f in flagged], ready=[np.array([r]) for r in ready],
                       listed_tag=[np.array([t]) for t in tag], listed_true=[] if true is None else [np.array([t]) for t in true])


def test_each_cause_on_views_built_by_hand() -> None:
    miss = Miss(student=0, skill=1, first=0, last=1, dip=False)
    nothing = _views([[False, False]] * 2, [[False, False]] * 2, [[0, -1]] * 2, None)
    assert cause(miss, nothing) == CAUSES[4]  # never among the ready places' skills
    assert cause(Miss(0, 1, 0, 1, dip=True), nothing) == CAUSES[0]  # a dip first, whatever else held
    once_ready = _views([[False, False]] * 2, [[False, False], [False, True]], [[0, -1]] * 2, None)
    assert cause(miss, once_ready) == CAUSES[3]
    flagged_throughout = _views([[False, True]] * 2, [[False, True]] * 2, [[0, -1]] * 2, None)
    assert cause(miss, flagged_throughout) == CAUSES[2]
    flagged_once = _views([[False, True], [False, False]], [[False, False]] * 2, [[0, -1]] * 2, None)
    assert cause(miss, flagged_once) == CAUSES[4]
    # outside world: an item tagged with the skill was listed, but it truly belongs to skill 0
    mistagged = _views([[False, False]] * 2, [[False, True]] * 2, [[0, -1], [1, -1]], [[0, -1], [0, -1]])
    assert cause(miss, mistagged) == CAUSES[1]
    truly_listed_elsewhere = _views([[False, False]] * 2, [[False, True]] * 2, [[0, -1], [0, -1]], [[0, -1], [1, -1]])
    assert cause(miss, truly_listed_elsewhere) == CAUSES[3]  # the other way round is not a tag miss


def test_the_ready_set_holds_every_skill_a_ready_place_went_to() -> None:
    catalog = load_catalog(None)
    engine = MasteryEngine(catalog)
    policy = EquilearnPolicy(engine)
    batch = engine.new_batch([f"s{i}" for i in range(40)])
    rng = np.random.default_rng(3)
    kept = 0
    for t in range(12):  # answers move the students out of placement, so the policy's lists give ready places
        choice = policy.recommender.choose_batch(batch, 5, now=float(t), rng=rng, placement_sd=None)
        _, ready = ready_skills(policy, batch, float(t))
        slots = choice.selection.kept_for_ready_skill
        rows, cols = np.nonzero(slots & (choice.resources >= 0))
        assert ready[rows, catalog.resource_skill[choice.resources[rows, cols]]].all()
        kept += rows.size
        items = np.where(choice.items[:, 0] >= 0, choice.items[:, 0], 0)
        engine.update_batch(batch, np.arange(40), items, (rng.random(40) < 0.6).astype(float), np.full(40, float(t)))
    assert kept > 0


def test_recorded_misses_match_the_runners_count_and_were_never_listed() -> None:
    catalog = load_catalog(None)
    setting = setting_by_name("bkt")
    world = setting.world(catalog, 40, 2)
    log = random_practice_log(setting, catalog, 300, 60, 10_002, content=world)
    engine, progress = built_policy(catalog, log, 2)
    views = EngineViews()
    with recording(views) as clocks:
        run = runner.run_policy(world, setting, OURS, 30, engine=engine, progress=progress)
    assert run.ready_listed_missed > 0
    misses = listed_clock(clocks, run.ready_listed_missed)  # raises unless the counts agree
    assert len(views.flagged) == 30
    for m in misses:
        assert m.last - m.first == runner.READY_WINDOW
        assert not any((views.listed_tag[t][m.student] == m.skill).any() for t in range(m.first, m.last + 1))
