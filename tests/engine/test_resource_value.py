"""What each resource teaches, measured from a log that records the resource behind each answer (issue 14:
"the value of each kind of resource ... estimated from outcomes"; `engine.recommend.resource_value`)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from engine.catalog import load_catalog
from engine.errors import DataValidationError
from engine.modelbuild import build_model_set
from engine.modelbuild.data import prepare_log
from engine.recommend.constraints import resolve
from engine.recommend.law import LearningLaw
from engine.recommend.learning import DifficultyProgress
from engine.catalog.schema import CORE, REMEDIAL
from engine.recommend.resource_value import NO_CONTRAST, fit_resource_value, level_contrast, multipliers, resource_uses
from engine.recommend.scoring import ResourceGeometry, score_resources
from engine.recommend import RecommenderConfig
from engine.runtime.modelset import build_policy
from engine.simulate.suite import built_policy, random_practice_log, setting_by_name

LAW = LearningLaw((0.0, 0.5, 1.0), (0.3, 0.3), (0.01, 0.01), (5000, 5000))  # informative: 0.3 logits a step


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def test_uses_count_every_covering_use_up_to_and_including_the_answer() -> None:
    """Resource 0 covers skill 0, resource 1 skills 0 and 1. Student 0: answers on skills 0, 0, 1 after using
    resources 0, 1, none; student 1: one answer on skill 1 after resource 0 (which does not cover it)."""
    covers = np.array([[True, False], [True, True]])
    uses = resource_uses(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), np.array([0, 1, 2, 0]),
                         np.array([0, 1, -1, 0]), covers).toarray()
    assert uses.tolist() == [[1, 0], [1, 1], [0, 1], [0, 0]]


def test_known_resource_effects_are_recovered(catalog) -> None:
    """Answers drawn from the factor model with known per-use learning delta_r (each kind at its level its own mean,
    each resource spread around it): the fit's intervals cover the truth, and the served values order the kinds as
    the truth does."""
    rng = np.random.default_rng(7)
    n_students, n_answers = 1500, 40
    kind_mean = np.array([0.25, 0.05, 0.2, -0.05, 0.1])[catalog.resource_kind]
    truth = kind_mean + 0.08 * rng.standard_normal(catalog.n_resources)
    student = np.repeat(np.arange(n_students), n_answers)
    position = np.tile(np.arange(n_answers), n_students)
    resource = rng.integers(0, catalog.n_resources, student.size)
    skill = catalog.resource_skill[resource]
    uses = resource_uses(student, skill, position, resource, catalog.resource_skills)
    ability = 0.8 * rng.standard_normal(n_students)
    offset = rng.normal(-0.5, 0.5, catalog.n_skills)[skill]  # the law's part, held fixed
    correct = (rng.random(student.size) < expit(offset + ability[student] + uses @ truth)).astype(float)
    fitted = fit_resource_value(LAW, offset, student, correct, uses, catalog)
    inside = np.abs(fitted.delta - truth) <= 1.96 * fitted.se
    assert inside.mean() >= 0.9
    assert np.corrcoef(fitted.delta, truth)[0, 1] > 0.7  # the noise of ~300 answers per resource allows no more
    assert abs(float(np.mean(fitted.delta - truth))) < 2 * float(np.sqrt(np.mean(fitted.se**2) / truth.size))
    core = catalog.resource_level == 1
    by_kind = {k: fitted.value[core & (catalog.resource_kind == k)].mean() for k in np.unique(catalog.resource_kind[core])}
    true_kind = {k: truth[core & (catalog.resource_kind == k)].mean() for k in by_kind}
    assert sorted(by_kind, key=by_kind.get) == sorted(true_kind, key=true_kind.get)
    # relative to the level's average step, in units of the law's average step (module docstring)
    mean_core = np.average(fitted.shrunk[core], weights=fitted.answers[core])
    assert fitted.value[core] == pytest.approx((0.3 + fitted.shrunk[core] - mean_core) / 0.3)


def test_without_an_informative_law_every_resource_is_average(catalog) -> None:
    flat = LearningLaw((0.0, 0.5, 1.0), (0.0, 0.0), (0.01, 0.01), (10, 10))
    uses = resource_uses(np.zeros(3, dtype=int), catalog.resource_skill[[0, 1, 2]], np.arange(3), np.arange(3),
                         catalog.resource_skills)
    fitted = fit_resource_value(flat, np.zeros(3), np.zeros(3, dtype=int), np.array([1.0, 0.0, 1.0]), uses, catalog)
    assert np.array_equal(fitted.value, np.ones(catalog.n_resources))


@pytest.mark.slow  # 20-40 s: model build on a 1,000-student log
def test_a_suite_log_measures_the_resources_hidden_quality(catalog) -> None:
    """The curve world's resources teach in proportion to a hidden quality (lognormal around a mean per kind); built
    from a random-practice log of 1,000 students that records the resources, the served values rise with it within
    each level. Without the column there is nothing to measure."""
    setting = setting_by_name("curve")
    world = setting.world(catalog, 300, 1)
    log = random_practice_log(setting, catalog, 1000, 60, 10_001, content=world, resources=True)
    model_set, diagnostics = build_model_set(catalog, log, predictor="auto", seed=1)
    engine, recommender = build_policy(catalog, model_set.components)
    progress = recommender.progress
    # the curve world's resources teach every skill they cover, so a use teaches the unanswered ones too, and the
    # served engine takes the measured share (`MasteryEngine.learn_from_resources`)
    cover = progress.cover_learning
    assert cover["delta"] > 2 * cover["se"] and 0 < cover["share"] <= 1
    assert engine.config.resource_learning == cover["share"]
    assert any(note.startswith("a resource teaches the skills it covers that nobody answered then") for note in diagnostics.notes)
    assert any(note.startswith(f"resource values measured from the log's resource_id column: {catalog.n_resources} of")
               for note in diagnostics.notes)
    value = progress.resource_multipliers(catalog.resource_ids)
    for level in range(3):
        mine = catalog.resource_level == level
        assert np.corrcoef(value[mine], world.quality[mine])[0, 1] > 0.3
    _, without = built_policy(catalog, log.drop("resource_id"), 1)
    assert without.resource_value is None and without.resource_multipliers(catalog.resource_ids) is None


def test_the_value_multiplies_the_expected_gain(catalog) -> None:
    """A resource valued 0 has no expected gain; one valued 2 twice what it has without values."""
    from engine.mastery import MasteryEngine
    engine = MasteryEngine(catalog)
    batch = engine.new_batch(["a", "b"])
    config = RecommenderConfig()
    geometry = ResourceGeometry.of(catalog)
    plain = DifficultyProgress()
    valued = DifficultyProgress()
    r0, r1 = catalog.resource_ids[0], catalog.resource_ids[1]
    valued.resource_value = {r0: [0.0, 10, 0.1, 0.1, 0.1], r1: [2.0, 10, 0.1, 0.1, 0.1]}
    gains = [score_resources(engine, batch, 0.0, config, geometry, resolve(None, catalog), np.random.default_rng(0),
                             p).components["gain"] for p in (plain, valued)]
    assert gains[0][:, 0].min() > 0
    assert np.all(gains[1][:, 0] == 0)
    assert gains[1][:, 1] == pytest.approx(2 * gains[0][:, 1])
    assert np.array_equal(gains[1][:, 2:], gains[0][:, 2:])
    again = DifficultyProgress.from_dict(valued.to_dict())
    assert np.array_equal(again.resource_multipliers(catalog.resource_ids), valued.resource_multipliers(catalog.resource_ids))
    assert multipliers(None, catalog.resource_ids).tolist() == [1.0] * catalog.n_resources


def test_a_resource_the_catalog_lacks_is_an_error_naming_its_row_or_left_out_when_asked(catalog) -> None:
    item = catalog.item_ids[0]
    log = pl.DataFrame({"student_id": ["s1", "s1", "s2"], "item_id": [item] * 3, "correct": [1.0, 0.0, 1.0],
                        "seq": [0, 1, 0], "resource_id": [catalog.resource_ids[0], None, "no-such-video"]})
    with pytest.raises(DataValidationError) as caught:
        prepare_log(catalog, log)
    text = str(caught.value)
    assert "row 3" in text and "resource_id" in text and "no-such-video" in text
    kept = prepare_log(catalog, log.head(2)).responses
    assert kept["resource_id"].to_list() == [catalog.resource_ids[0], None]
    lenient = prepare_log(catalog, log, ignore_unknown_items=True)  # the answer is kept, without the resource it named
    assert lenient.responses.sort("student_id", "seq")["resource_id"].to_list() == [catalog.resource_ids[0], None, None]
    assert lenient.responses.height == 3
    assert (lenient.n_unknown_resource_rows, lenient.unknown_resources) == (1, ("no-such-video",))


@pytest.mark.parametrize("entry", [[], ["high"], [-0.5, 3], [float("nan")], "1.2", [True]])
def test_a_malformed_value_in_a_model_set_is_a_clear_error(entry) -> None:
    from engine.errors import ConfigError
    payload = {**DifficultyProgress().to_dict(), "resource_value": {"r1": entry}}
    with pytest.raises(ConfigError, match="resource_value 'r1': expected \\[value >= 0"):
        DifficultyProgress.from_dict(payload)


def test_the_remedial_contrast_by_hand() -> None:
    """Two remedial resources (deltas 0.5 and 0.3, reaching 100 and 300 answers) against one core (0.1): difference
    0.35 - 0.1; its variance from the covariance by hand; believed 1 - se^2 / d^2; ratio over the core step 0.4 + 0.1."""
    coef = np.array([0.5, 0.3, 0.1])
    cov = np.array([[0.01, 0.002, 0.0], [0.002, 0.004, 0.001], [0.0, 0.001, 0.003]])
    count = np.array([100.0, 300.0, 50.0])
    level = np.array([REMEDIAL, REMEDIAL, CORE])
    got = level_contrast(coef, cov, count, level, average=0.4)
    w = np.array([0.25, 0.75, -1.0])
    var = 0.25**2 * 0.01 + 0.75**2 * 0.004 + 0.003 + 2 * (0.25 * 0.75 * 0.002 - 0.75 * 0.001)
    assert got.difference == pytest.approx(0.25)
    assert got.se == pytest.approx(np.sqrt(var)) and var == pytest.approx(w @ cov @ w)
    believed = 1 - var / 0.25**2
    assert got.believed == pytest.approx(believed)
    assert got.ratio == pytest.approx((0.5 + believed * 0.25) / 0.5)
    # a contrast within its noise is not believed: the configured efficacy stands
    noisy = level_contrast(np.array([0.12, 0.1]), np.eye(2) * 0.01, np.array([10.0, 10.0]), np.array([REMEDIAL, CORE]), 0.4)
    assert (noisy.believed, noisy.ratio) == (0.0, 1.0)
    # a level without resources in the fit: no contrast
    assert level_contrast(coef[:2], cov[:2, :2], count[:2], level[:2], 0.4) == NO_CONTRAST


def test_a_known_remedial_contrast_is_recovered(catalog) -> None:
    """Answers drawn from the factor model where a remedial use teaches about 0.3 logits more than a core one (advanced
    as core; each resource 0.03 apart): the contrast is within three standard errors of the drawn truth's, it is believed, and the
    ratio is above 1.5; where the levels teach alike the ratio stays near 1."""
    rng = np.random.default_rng(11)
    n_students, n_answers = 750, 80
    truth = np.where(catalog.resource_level == REMEDIAL, 0.3, 0.0) + 0.03 * rng.standard_normal(catalog.n_resources)
    student = np.repeat(np.arange(n_students), n_answers)
    position = np.tile(np.arange(n_answers), n_students)
    resource = rng.integers(0, catalog.n_resources, student.size)
    uses = resource_uses(student, catalog.resource_skill[resource], position, resource, catalog.resource_skills)
    offset = rng.normal(-0.5, 0.5, catalog.n_skills)[catalog.resource_skill[resource]]
    ability = 0.8 * rng.standard_normal(n_students)[student]
    correct = (rng.random(student.size) < expit(offset + ability + uses @ truth)).astype(float)
    got = fit_resource_value(LAW, offset, student, correct, uses, catalog).remedial
    reached = np.asarray((uses > 0).sum(axis=0)).ravel()  # the contrast's weights: answers each resource reached
    level = catalog.resource_level
    true_difference = (np.average(truth[level == REMEDIAL], weights=reached[level == REMEDIAL])
                       - np.average(truth[level == CORE], weights=reached[level == CORE]))
    assert abs(got.difference - true_difference) <= 3 * got.se < 0.1  # within three standard errors
    assert got.believed > 0.9 and got.ratio > 1.5
    same = 0.03 * rng.standard_normal(catalog.n_resources)
    correct = (rng.random(student.size) < expit(offset + ability + uses @ same)).astype(float)
    flat = fit_resource_value(LAW, offset, student, correct, uses, catalog).remedial
    assert abs(flat.difference) <= 2.5 * flat.se and abs(flat.ratio - 1) < 0.1


def test_the_remedial_ratio_scales_the_remedial_gain_only(catalog) -> None:
    """A measured ratio of 2 doubles every remedial resource's expected gain and leaves the others; it survives the
    model set's JSON; a malformed one is a clear error."""
    from engine.errors import ConfigError
    from engine.mastery import MasteryEngine
    engine = MasteryEngine(catalog)
    batch = engine.new_batch(["a", "b"])
    plain, contrasted = DifficultyProgress(), DifficultyProgress()
    contrasted.remedial_contrast = {"ratio": 2.0, "difference": 0.4, "se": 0.05, "believed": 0.98}
    gains = [score_resources(engine, batch, 0.0, RecommenderConfig(), ResourceGeometry.of(catalog), resolve(None, catalog),
                             np.random.default_rng(0), p).components["gain"] for p in (plain, contrasted)]
    remedial = catalog.resource_level == REMEDIAL
    assert gains[0][:, remedial].max() > 0
    assert gains[1][:, remedial] == pytest.approx(2 * gains[0][:, remedial])
    assert np.array_equal(gains[1][:, ~remedial], gains[0][:, ~remedial])
    assert DifficultyProgress.from_dict(contrasted.to_dict()).remedial_ratio == 2.0
    assert plain.remedial_ratio == 1.0
    for bad in ({"ratio": -1.0}, {"ratio": True}, {"ratio": "2"}, {"ratio": 99.0}, [2.0]):
        with pytest.raises(ConfigError, match="remedial_contrast"):
            DifficultyProgress.from_dict({**plain.to_dict(), "remedial_contrast": bad})
