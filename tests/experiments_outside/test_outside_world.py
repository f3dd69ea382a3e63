"""The outside check's own world obeys the rules it states (independent truths about that simulator)."""

from __future__ import annotations

import numpy as np

from experiments.outside_check.driver import local_runs
from experiments.outside_check.stats import paired, quartiles
from experiments.outside_check.world import Learners, WorldSpec, make_cohort, make_world, sigmoid


def test_learning_peaks_at_the_stated_success_rate_and_is_gated_by_prerequisites() -> None:
    world = make_world(WorldSpec(peak_success=0.45), seed=3)
    learners = Learners(world, make_cohort(world, 4, seed=1, prefix="t"))
    p = np.linspace(0.05, 0.95, 181)
    bump = learners.learning(p, gate=1.0, rate=1.0)
    assert abs(p[bump.argmax()] - 0.45) < 0.006
    assert abs(bump.max() - 1.0) < 1e-3  # rate 1 x bump 1 x gate 1 at the peak
    # one logit step (the bump's SD) away from the peak teaches exp(-1/2) of the peak
    one_sd = sigmoid(np.log(0.45 / 0.55) + 1.0)
    assert abs(learners.learning(np.array([one_sd]), 1.0, 1.0)[0] - np.exp(-0.5)) < 1e-9
    # a skill whose weakest prerequisite is at level 0.25 is gated to 0.25 ** 1.5 = 0.125
    child = next(s for s, pre in enumerate(world.prerequisites) if pre)
    pre = world.prerequisites[child]
    learners.theta[:, pre] = world.median_b[pre] + np.log(0.25 / 0.75)
    assert np.allclose(learners.gate()[:, child], 0.125)


def test_groups_differ_only_in_starting_proficiency() -> None:
    world = make_world(WorldSpec(), seed=3)
    cohort = make_cohort(world, 4000, seed=2, prefix="t")
    high, low = cohort.group == 0, cohort.group == 1
    assert abs(np.log(cohort.rate[high]).mean() - np.log(cohort.rate[low]).mean()) < 0.05
    gap = cohort.theta0[high].mean(axis=0) - cohort.theta0[low].mean(axis=0)
    roots = [s for s, pre in enumerate(world.prerequisites) if not pre]  # no prerequisite cap on roots
    assert np.all(np.abs(gap[roots] - WorldSpec().opportunity_gap) < 0.12)


def test_catalog_noise_is_the_stated_share() -> None:
    world = make_world(WorldSpec(n_skills=15, mistag_share=0.10, difficulty_noise=0.5), seed=5)
    assert 0.03 < (world.catalog_skill != world.item_skill).mean() < 0.2
    assert abs(np.std(world.catalog_b - world.item_b) - 0.5) < 0.12


def test_oracle_beats_random_and_curriculum_on_the_same_students() -> None:
    world = make_world(WorldSpec(peak_success=0.65), seed=7)
    cohort = make_cohort(world, 200, seed=1, prefix="t")
    uniforms = np.random.default_rng(0).random((200, 30))
    runs = local_runs(world, cohort, uniforms, seed=0)
    assert paired(runs["oracle"].gain, runs["random item"].gain).low > 0
    assert paired(runs["oracle"].gain, runs["gated curriculum"].gain).low > 0
    assert runs["random item"].gain.mean() > 0  # practice teaches something even at random


def test_quartiles_split_by_rank() -> None:
    q = quartiles(np.array([5.0, 1.0, 3.0, 2.0, 8.0, 7.0, 4.0, 6.0]))
    assert q.tolist() == [2, 0, 1, 0, 3, 3, 1, 2]


def test_the_outside_check_imports_no_project_module() -> None:
    """It must reach the system only through the CLI and HTTP, like an outside platform."""
    import ast
    from pathlib import Path

    import experiments.outside_check as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in {"engine", "models", "service"}, f"{path.name} imports {name}"


def test_guessing_floor_and_item_slopes_follow_the_stated_rule_and_leave_the_default_world_alone() -> None:
    plain = make_world(WorldSpec(), seed=5)
    varied = make_world(WorldSpec(guessing=0.25, slope_sd=0.5), seed=5)
    assert plain.item_a is None  # the default draws nothing more: same graph, items and catalog as before the variants
    assert np.array_equal(plain.item_b, varied.item_b) and np.array_equal(plain.catalog_skill, varied.catalog_skill)
    items = np.arange(varied.n_items)
    # at theta = b every item is a coin flip above the floor: 0.25 + 0.75 / 2, whatever its slope
    assert np.allclose(varied.success(varied.item_b, items), 0.625)
    # one logit above b: 0.25 + 0.75 sigmoid(a), a the item's own slope (log-SD 0.5 around 1)
    assert np.allclose(varied.success(varied.item_b + 1.0, items), 0.25 + 0.75 * sigmoid(varied.item_a))
    assert abs(np.log(varied.item_a).std() - 0.5) < 0.1
    assert np.allclose(plain.success(plain.item_b + 1.0, items), sigmoid(np.ones(items.size)))
