"""Unit tests of the pre-deployment audit's steps (engine/fairness/predeployment.py) on small hand-built inputs.

The whole `audit_model_set` runs simulations and model fits (tests/fairness/test_predeployment_evidence.py and the
CLI tests, too slow for a mutation run), so most mutants of this module had no fast test. Here each step is called
directly: the simulations, the DIF and model audits and the verdict assembly they delegate to are replaced by
recorders, and each test checks what the step passes on and what it makes of the answers, against the module's
docstrings (the steps 1-4, "a requested part that cannot run is INSUFFICIENT_EVIDENCE with the reason", the
status as the worst of the gated parts) and values worked out by hand. The served policy, the learned statistics,
the response log's preparation and the JSON clean-up are the real ones.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

import engine.fairness.item_audit as item_audit_mod
import engine.fairness.model_audit as model_audit_mod
import engine.fairness.predeployment as pre
import engine.fairness.results as results_mod
import engine.fairness.simulated as simulated_mod
import engine.modelbuild.predictor as predictor_mod
import engine.simulate as simulate_pkg
import engine.simulate.runner as runner_mod
import engine.simulate.suite as suite_mod
from engine.catalog import demo_catalog
from engine.errors import ConfigError, DataError
from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, load_policy
from engine.fairness.simulated import simulated_policy
from engine.mastery import MasteryEngine
from engine.modelbuild.data import prepare_log
from engine.modelbuild.predictor import HeldOut
from engine.recommend.learning import DifficultyProgress
from engine.registry.model_set import content_sha256
from engine.runtime.catalogs import catalog_to_dict


@pytest.fixture(scope="module")
def catalog() -> Any:
    return demo_catalog()


def _learned() -> dict[str, Any]:
    """A learned-statistics payload that differs from a fresh DifficultyProgress (one observed cell)."""
    progress = DifficultyProgress()
    progress.count[0, 1], progress.total[0, 1], progress.total_sq[0, 1] = 3.0, 1.5, 0.9
    return progress.to_dict()


# ------------------------------------------------------------------ served_policy, _progress
def test_served_policy_uses_the_demo_catalog_when_the_set_has_none_and_none_is_given(catalog: Any) -> None:
    served, engine, recommender = pre.served_policy(SimpleNamespace(components=None))
    assert (served.name, served.version, served.item_ids) == (catalog.name, catalog.version, catalog.item_ids)
    assert isinstance(engine, MasteryEngine) and engine.catalog is served
    assert recommender.engine is engine


def test_served_policy_uses_the_given_catalog_and_the_sets_recommender_config(catalog: Any) -> None:
    served, engine, recommender = pre.served_policy(SimpleNamespace(components={"recommender": {"randomesque": 3}}), catalog)
    assert served is catalog and engine.catalog is catalog
    assert recommender.config.randomesque == 3


def test_the_sets_own_catalog_wins_and_is_checked_against_its_models(catalog: Any) -> None:
    own = catalog_to_dict(catalog)
    own["name"] = "own-catalog"
    served, engine, _ = pre.served_policy(SimpleNamespace(components={"catalog": own}), catalog)
    assert served.name == "own-catalog" and served is not catalog and engine.catalog is served
    assert served.source == "model-set catalog"  # where the catalog came from, as its errors name it
    with pytest.raises(DataError, match=r"^model-set catalog: missing array\(s\) items"):
        pre.served_policy(SimpleNamespace(components={"catalog": {k: v for k, v in own.items() if k != "items"}}))
    # the set's own catalog is checked against its models (build_policy's own_catalog check)
    skill_model = {"ability_model": {}, "skill_model": {"kind": "models.bkt", "model": {"skills": ["no-such-skill"]}}}
    with pytest.raises(ConfigError, match="does not match its components"):
        pre.served_policy(SimpleNamespace(components={"catalog": own, "mastery": skill_model}), catalog)


def test_progress_is_a_fresh_copy_of_the_learned_statistics() -> None:
    learned = _learned()
    model_set = SimpleNamespace(components={"policy_learning": learned})
    first, second = pre._progress(model_set), pre._progress(model_set)
    assert isinstance(first, DifficultyProgress) and first is not second
    assert first.to_dict() == learned and second.to_dict() == learned
    first.count[0, 1] += 1  # updated online by one simulation: the next one starts again from the set's statistics
    assert pre._progress(model_set).to_dict() == learned
    for components in (None, {}, {"policy_learning": None}, {"policy_learning": {}}):
        assert pre._progress(SimpleNamespace(components=components)) is None


# ------------------------------------------------------------------ simulated_recommendations
class _Sim:
    """Recorders for make_world / run_policy / served_log / audit_served; `statuses` are the gate's answers in turn."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, statuses: list[str], data: dict[str, Any] | None = None) -> None:
        self.worlds: list[tuple[Any, int, int]] = []
        self.runs: list[tuple[Any, ...]] = []
        self.audits: list[tuple[Any, ...]] = []
        self.statuses, self.data = list(statuses), data
        monkeypatch.setattr(simulate_pkg, "make_world", self.make_world)
        monkeypatch.setattr(simulate_pkg, "run_policy", self.run_policy)
        monkeypatch.setattr(simulated_mod, "served_log", self.served_log)
        monkeypatch.setattr(simulated_mod, "audit_served", self.audit_served)

    def make_world(self, catalog: Any, n_students: int, seed: int) -> Any:
        self.worlds.append((catalog, n_students, seed))
        return ("world", n_students)

    def run_policy(self, world: Any, simulator: Any, policy: str, steps: int, **kwargs: Any) -> Any:
        self.runs.append((world, simulator, policy, steps, kwargs))
        return ("run", world)

    def served_log(self, world: Any, run: Any) -> tuple[Any, Any]:
        assert run == ("run", world)
        return ("served", world), ("roster", world)

    def audit_served(self, served: Any, roster: Any, policy: Any = None, model_version: Any = None) -> dict[str, Any]:
        self.audits.append((served, roster, policy, model_version))
        payload: dict[str, Any] = {"status": self.statuses.pop(0), "findings": ["f"]}
        if self.data is not None:
            payload["data"] = dict(self.data, students=served[1][1])
        return payload


def _engine_and_recommender() -> tuple[Any, Any]:
    engine = SimpleNamespace(catalog=SimpleNamespace(name="cat"))
    return engine, SimpleNamespace(config=SimpleNamespace(tag="recommender config"))


def test_the_simulation_serves_the_sets_engine_config_and_learned_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _Sim(monkeypatch, [PASS], data={"rows": 5})
    engine, recommender = _engine_and_recommender()
    rec_policy = replace(simulated_policy(), name="recommendation policy under test")
    opts = pre.AuditOptions(sim_students=30, sim_students_max=100, sim_steps=7, sim_seed=5, recommendations_policy=rec_policy)
    learned = _learned()
    payload = pre.simulated_recommendations(SimpleNamespace(components={"policy_learning": learned}), engine, recommender,
                                             opts, "set/4")
    assert sim.worlds == [(engine.catalog, 30, 5)]
    assert len(sim.runs) == 1
    world, simulator, policy, steps, kwargs = sim.runs[0]
    assert (world, simulator, policy, steps) == (("world", 30), "bkt", "equilearn", 7)
    assert set(kwargs) == {"engine", "config", "record_actions", "progress"}
    assert kwargs["engine"] is engine and kwargs["config"] is recommender.config and kwargs["record_actions"] is True
    assert isinstance(kwargs["progress"], DifficultyProgress) and kwargs["progress"].to_dict() == learned
    assert sim.audits == [(("served", ("world", 30)), ("roster", ("world", 30)), rec_policy, "set/4")]
    assert payload == {"status": PASS, "findings": ["f"],
                       "data": {"rows": 5, "students": 30, "simulator": "bkt", "steps": 7, "seed": 5, "students_tried": [30]}}


def test_without_learned_statistics_the_simulation_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _Sim(monkeypatch, [FAIL])
    engine, recommender = _engine_and_recommender()
    payload = pre.simulated_recommendations(SimpleNamespace(components={}), engine, recommender, pre.AuditOptions(), None)
    assert sim.runs[0][4]["progress"] is None
    assert sim.worlds == [(engine.catalog, 500, 11)] and sim.runs[0][3] == 80  # the documented defaults
    assert sim.audits[0][2:] == (None, None)
    # a payload without its own data gets the simulation's description only
    assert payload["data"] == {"simulator": "bkt", "steps": 80, "seed": 11, "students_tried": [500]}


def test_insufficient_evidence_doubles_the_learners_until_the_gate_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _Sim(monkeypatch, [INSUFFICIENT, INSUFFICIENT, FAIL, PASS], data={})
    engine, recommender = _engine_and_recommender()
    learned = _learned()
    opts = pre.AuditOptions(sim_students=10, sim_students_max=1000, sim_steps=3, sim_seed=2)
    payload = pre.simulated_recommendations(SimpleNamespace(components={"policy_learning": learned}), engine, recommender,
                                             opts, "v")
    assert [n for _, n, _ in sim.worlds] == [10, 20, 40]  # stops at the first decided verdict (FAIL), not only PASS
    assert all(seed == 2 for _, _, seed in sim.worlds)
    assert payload["status"] == FAIL and payload["data"]["students_tried"] == [10, 20, 40]
    assert payload["data"]["students"] == 40  # the verdict of the last, largest simulation
    progresses = [run[4]["progress"] for run in sim.runs]
    assert len({id(p) for p in progresses}) == 3 and all(p.to_dict() == learned for p in progresses)


def test_the_learners_are_capped_at_the_maximum_and_the_last_verdict_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _Sim(monkeypatch, [INSUFFICIENT] * 5, data={})
    engine, recommender = _engine_and_recommender()
    opts = pre.AuditOptions(sim_students=30, sim_students_max=100)
    payload = pre.simulated_recommendations(SimpleNamespace(components={}), engine, recommender, opts, "v")
    assert [n for _, n, _ in sim.worlds] == [30, 60, 100]  # 120 is capped at 100, and 100 is the last try
    assert payload["status"] == INSUFFICIENT and payload["data"]["students_tried"] == [30, 60, 100]
    # already at the maximum: one simulation
    sim2 = _Sim(monkeypatch, [INSUFFICIENT] * 2, data={})
    payload = pre.simulated_recommendations(SimpleNamespace(components={}), engine, recommender,
                                             pre.AuditOptions(sim_students=40, sim_students_max=40), "v")
    assert [n for _, n, _ in sim2.worlds] == [40] and payload["data"]["students_tried"] == [40]


# ------------------------------------------------------------------ learner_suite
class _Suite:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[tuple[Any, ...]] = []
        self.summaries: list[tuple[Any, ...]] = []
        self.worlds: list[tuple[Any, ...]] = []
        monkeypatch.setattr(suite_mod, "setting_by_name", self.setting_by_name)
        monkeypatch.setattr(suite_mod, "summarize_setting", self.summarize_setting)
        monkeypatch.setattr(runner_mod, "run_policy", self.run_policy)

    def setting_by_name(self, name: str) -> Any:
        suite = self

        class Setting:
            def world(self, catalog: Any, n_students: int, seed: int) -> Any:
                suite.worlds.append((name, catalog, n_students, seed))
                return SimpleNamespace(tag=(name, seed), highest_and_lowest=lambda: (f"high-{name}-{seed}", f"low-{name}-{seed}"))

        setting = Setting()
        setting.name = name  # type: ignore[attr-defined]
        return setting

    def run_policy(self, world: Any, setting: Any, policy: str, steps: int, **kwargs: Any) -> Any:
        self.runs.append((world.tag, setting.name, policy, steps, kwargs))
        return ("run", world.tag, policy)

    def summarize_setting(self, setting: Any, runs: dict[str, list[Any]], highest: str, lowest: str) -> dict[str, Any]:
        self.summaries.append((setting.name, runs, highest, lowest))
        name = setting.name
        by_group = {p: {"F": {"mean": 0.1}, "M": {"mean": 0.2}} for p in ("equilearn", "random")}
        minus = {"all": {"mean": -0.1, "ci": [-0.2, 0.0]}, "group:F": {"mean": 0.05, "ci": [0.0, 0.1]},
                 "group:M": {"mean": -0.2, "ci": [-0.3, -0.1]}, "level:high": {"mean": 1.0, "ci": [0.5, 1.5]},
                 "groups": {"mean": 9.0, "ci": [9.0, 9.0]}}
        return {"family": f"family-{name}", "description": f"about {name}",
                "policies": {"equilearn": {"gain": 0.3, "gain_by_group": by_group["equilearn"], "final_gap": 0.01,
                                           "minus": {"random": minus}},
                             "random": {"gain": 0.2, "gain_by_group": by_group["random"], "final_gap": 0.02}}}


def test_learner_suite_runs_both_policies_on_every_setting_and_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _Suite(monkeypatch)
    engine, recommender = _engine_and_recommender()
    learned = _learned()
    opts = pre.AuditOptions(suite_students=9, suite_steps=4, suite_seeds=(3, 7), suite_settings=("bkt", "curve"))
    messages: list[str] = []
    out = pre.learner_suite(SimpleNamespace(components={"policy_learning": learned}), engine, recommender, opts,
                            progress=messages.append)
    assert suite.worlds == [(n, engine.catalog, 9, s) for n in ("bkt", "curve") for s in (3, 7)]
    assert [r[:4] for r in suite.runs] == [((n, s), n, p, 4) for n in ("bkt", "curve") for s in (3, 7)
                                           for p in ("equilearn", "random")]
    for tag, name, policy, steps, kwargs in suite.runs:
        assert set(kwargs) == {"config", "engine", "progress"} and kwargs["config"] is recommender.config
        if policy == "equilearn":  # the set's engine and a fresh copy of its learned statistics
            assert kwargs["engine"] is engine and kwargs["progress"].to_dict() == learned
        else:  # random practice: the simulator's defaults
            assert kwargs["engine"] is None and kwargs["progress"] is None
    ours = [r[4]["progress"] for r in suite.runs if r[2] == "equilearn"]
    assert len({id(p) for p in ours}) == 4
    assert messages == [f"suite {n} seed {s} {p}" for n in ("bkt", "curve") for s in (3, 7) for p in ("equilearn", "random")]
    # each setting is summarized from its runs per policy (seeds in order) and the last world's highest / lowest group
    assert [(n, h, lo) for n, _, h, lo in suite.summaries] == [("bkt", "high-bkt-7", "low-bkt-7"),
                                                               ("curve", "high-curve-7", "low-curve-7")]
    assert suite.summaries[0][1] == {p: [("run", ("bkt", 3), p), ("run", ("bkt", 7), p)] for p in ("equilearn", "random")}
    by_group = {p: {"F": {"mean": 0.1}, "M": {"mean": 0.2}} for p in ("equilearn", "random")}
    assert out == {
        "students": 9, "steps": 4, "seeds": [3, 7], "policies": ["equilearn", "random"],
        "settings": [{"setting": n, "family": f"family-{n}", "description": f"about {n}",
                      "gain": {"equilearn": 0.3, "random": 0.2}, "gain_by_group": by_group,
                      # "all" and the "group:" rows, without their prefix; other rows are left out
                      "equilearn_minus_random": {"all": {"mean": -0.1, "ci": [-0.2, 0.0]},
                                                 "F": {"mean": 0.05, "ci": [0.0, 0.1]},
                                                 "M": {"mean": -0.2, "ci": [-0.3, -0.1]}},
                      "final_gap": {"equilearn": 0.01, "random": 0.02}} for n in ("bkt", "curve")],
        "gain_definition": "Hake's g on means of true mastery (per student (final - initial) / (1 - mean initial)); "
                           "paired differences on the same students, 95% t-intervals",
        "gated": False,
    }


def test_learner_suite_without_a_progress_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _Suite(monkeypatch)
    engine, recommender = _engine_and_recommender()
    out = pre.learner_suite(SimpleNamespace(components=None), engine, recommender,
                            pre.AuditOptions(suite_settings=("bkt",)))
    assert [r[3] for r in suite.runs] == [40, 40] and suite.worlds == [("bkt", engine.catalog, 200, 1)]
    assert all(r[4]["progress"] is None for r in suite.runs)
    assert (out["students"], out["steps"], out["seeds"]) == (200, 40, [1])


# ------------------------------------------------------------------ _dif
class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []


def _dif_inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    # students 1-9 (ids as text in the log, as integers in the roster); s1 answered i1 twice: the first attempt
    # (seq 0, wrong) counts, not the later one (seq 3, right) that comes first in the frame
    rows = [("1", "i1", 1.0, 3), ("1", "i1", 0.0, 0), ("1", "i2", 1.0, 1)]
    rows += [(str(s), "i1", float(s % 2), 0) for s in range(2, 10)]
    rows += [(str(s), "i2", float(s % 3 == 0), 1) for s in range(2, 10)]
    rows += [("2", "extra", 1.0, 2)]  # answered, but not an item of the catalog
    prepared = pl.DataFrame(rows, schema=["student_id", "item_id", "correct", "seq"], orient="row")
    roster = pl.DataFrame({"student_id": list(range(1, 11)),
                           # F 3, M 2, N 1, null 3 among the log's students (student 10 never answered)
                           "gender": ["F", "F", "F", "M", "M", "N", None, None, None, "M"],
                           "ses": ["hi"] * 10, "region": ["a", "b"] * 5})
    return prepared, roster


def test_dif_tests_each_group_column_against_its_largest_group(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared, roster = _dif_inputs()
    audits, assembled = _Recorder(), _Recorder()

    def audit_items(table: pl.DataFrame, column: str, focal: Any, **kwargs: Any) -> Any:
        audits.calls.append(((table, column, focal), kwargs))
        if column == "region":
            raise DataError("region: the items could not be tested")
        return SimpleNamespace(n_students=8, shown_focal=list(focal))  # the audit's shown groups: all of them here

    def assemble(audit: Any, policy: Any, **kwargs: Any) -> dict[str, Any]:
        assembled.calls.append(((audit, policy), kwargs))
        return {"status": PASS, "n": audit.n_students}

    monkeypatch.setattr(item_audit_mod, "audit_items", audit_items)
    monkeypatch.setattr(results_mod, "assemble", assemble)
    policy = replace(load_policy(), min_group_size=4)
    parts = pre._Parts()
    catalog = SimpleNamespace(item_ids=("i2", "i9", "i1"))  # i9 has no answer in the log
    pre._dif(prepared, roster, ["gender", "gender*ses", "ses", "region"], catalog, policy, "logistic", "bh", "set/2", parts)

    assert list(parts.gated) == ["dif:gender", "dif:ses", "dif:region"]  # an intersection is not a DIF group
    assert parts.gated["dif:gender"] == {"status": PASS, "n": 8}
    assert parts.gated["dif:ses"] == pre._insufficient(
        "dif", policy, "group column 'ses' has fewer than two groups among the log's students", "set/2")
    assert parts.gated["dif:region"] == pre._insufficient("dif", policy, "region: the items could not be tested", "set/2")

    (table, column, focal), kwargs = audits.calls[0]
    assert (column, focal) == ("gender", ["M", "N"])  # by size, largest first; the null group is not a group
    assert kwargs == {"reference": "F", "items": ["i2", "i1"], "method": "logistic", "adjust": "bh", "min_group_size": 4}
    # first attempts of the log's students with a roster row, one row per student, no student id
    expected = {(0.0, 1.0, "F")} | {(float(s % 2), float(s % 3 == 0), g) for s, g in
                                    zip(range(2, 10), ["F", "F", "M", "M", "N", None, None, None])}
    assert sorted(table.columns) == ["extra", "gender", "i1", "i2"]
    got = {(r["i1"], r["i2"], r["gender"]) for r in table.iter_rows(named=True)}
    assert table.height == 9 and got == expected
    assert [c[0][1] for c in audits.calls] == ["gender", "region"]  # ses stops before the item audit
    ((audit, used_policy), akw), = assembled.calls
    assert used_policy is policy
    assert akw == {"model_version": "set/2", "data": {"group": "gender", "reference": "F", "focal": ["M", "N"],
                                                     "n_students": 8, "n_items": 2, "method": "logistic", "adjust": "bh"}}


# ------------------------------------------------------------------ _model_audit
def test_model_audit_predicts_every_response_with_the_sets_blend(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = pl.DataFrame({"student_id": ["b", "a", "b", "a", "c"], "item_id": ["i1"] * 5,
                             "correct": [1.0, 0.0, 0.0, 1.0, 1.0], "seq": [1, 0, 0, 1, 0],
                             "skill_ids": [["s1"], ["s1", "s2"], ["s2"], ["s1"], ["s1"]]})
    roster = pl.DataFrame({"student_id": ["a", "b", "c"], "gender": ["F", "M", "F"]})
    seen, audits, assembled = [], [], []
    held = HeldOut(y=np.array([0.0, 1.0, 0.0, 1.0, 1.0]), p_irt=np.full(5, 0.5), p_skill=np.full(5, 0.8), n_students=3)

    def sequential_predictions(engine: Any, responses: pl.DataFrame) -> HeldOut:
        seen.append((engine, responses))
        return held

    def audit_model(predictions: pl.DataFrame, groups: list[str], **kwargs: Any) -> Any:
        audits.append((predictions, groups, kwargs))
        return SimpleNamespace(identity=SimpleNamespace(n_students=3, n_rows=5))

    def assemble(audit: Any, policy: Any, **kwargs: Any) -> dict[str, Any]:
        assembled.append((audit, policy, kwargs))
        return {"status": FAIL}

    monkeypatch.setattr(predictor_mod, "sequential_predictions", sequential_predictions)
    monkeypatch.setattr(model_audit_mod, "audit_model", audit_model)
    monkeypatch.setattr(results_mod, "assemble", assemble)
    engine = SimpleNamespace(config=SimpleNamespace(irt_weight=0.25))
    policy = replace(load_policy(), min_group_size=7, n_bootstrap=33, n_permutations=44, confidence=0.9, random_state=5)
    parts = pre._Parts()
    pre._model_audit(prepared, roster, ("gender",), engine, policy, "set/9", {"source": "log.csv"}, parts)

    assert parts.gated == {"model": {"status": FAIL}}
    assert seen[0][0] is engine and seen[0][1].equals(prepared)
    predictions, groups, kwargs = audits[0]
    assert groups == ["gender"]
    assert kwargs.keys() == {"roster", "min_group_size", "n_boot", "n_permutations", "confidence", "random_state",
                             "split_col"}
    assert kwargs["split_col"] == pre.ANSWER
    assert kwargs["roster"] is roster
    assert (kwargs["min_group_size"], kwargs["n_boot"], kwargs["n_permutations"], kwargs["confidence"],
            kwargs["random_state"]) == (7, 33, 44, 0.9, 5)
    # rows in the order the predictions were made (by student, then seq); p = the engine's blend at irt_weight 0.25:
    # logit p = 0.25 logit 0.5 + 0.75 logit 0.8 = 0.75 ln 4
    assert predictions.columns == ["student_id", "correct", "p", pre.ANSWER]
    # by student and seq: a on s1 (its first skill), a on s1 again, b on s2, b on s1, c on s1
    assert predictions[pre.ANSWER].to_list() == [pre.FIRST, pre.LATER, pre.FIRST, pre.FIRST, pre.FIRST]
    assert predictions["student_id"].to_list() == ["a", "a", "b", "b", "c"]
    assert predictions["correct"].to_list() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert np.allclose(predictions["p"].to_numpy(), 1.0 / (1.0 + 4.0 ** -0.75))
    audit, used_policy, akw = assembled[0]
    assert used_policy is policy and audit.identity.n_rows == 5
    assert akw == {"model_version": "set/9", "data": {"source": "log.csv", "groups": ["gender"], "n_students": 3, "n_rows": 5,
                                                     "predictor": "the set's engine, irt_weight 0.25"}}


def test_model_audit_keeps_predictions_inside_zero_and_one(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = pl.DataFrame({"student_id": ["a", "b"], "item_id": ["i1", "i1"], "correct": [1.0, 0.0], "seq": [0, 0],
                             "skill_ids": [["s1"], ["s1"]]})
    held = HeldOut(y=np.array([1.0, 0.0]), p_irt=np.array([0.3, 0.9]), p_skill=np.array([0.6, 0.2]), n_students=2)
    got = []
    monkeypatch.setattr(predictor_mod, "sequential_predictions", lambda engine, responses: held)
    monkeypatch.setattr(model_audit_mod, "audit_model", lambda predictions, groups, **kw: got.append(predictions)
                        or SimpleNamespace(identity=SimpleNamespace(n_students=2, n_rows=2)))
    monkeypatch.setattr(results_mod, "assemble", lambda audit, policy, **kw: {"status": PASS})
    for weight, expected in ((1.0, [0.3, 0.9]), (0.0, [0.6, 0.2])):  # the ends of the blend: one model alone
        pre._model_audit(prepared, prepared.select("student_id"), ["g"], SimpleNamespace(config=SimpleNamespace(irt_weight=weight)),
                         load_policy(), None, {}, pre._Parts())
        assert np.allclose(got[-1]["p"].to_numpy(), expected, atol=1e-6)


def test_a_model_audit_that_cannot_run_is_insufficient_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def sequential_predictions(engine: Any, responses: pl.DataFrame) -> HeldOut:
        raise DataError("no responses to replay")

    monkeypatch.setattr(predictor_mod, "sequential_predictions", sequential_predictions)
    policy = load_policy()
    parts = pre._Parts()
    pre._model_audit(pl.DataFrame({"student_id": ["a"], "seq": [0]}), pl.DataFrame({"student_id": ["a"]}), ["g"],
                     SimpleNamespace(config=SimpleNamespace(irt_weight=0.5)), policy, "v/1", {}, parts)
    assert parts.gated == {"model": pre._insufficient("model", policy, "no responses to replay", "v/1")}


# ------------------------------------------------------------------ audit_model_set
class _Audit:
    """`audit_model_set` with its steps replaced by recorders (each step is tested above) and a scripted clock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, catalog: Any, *, recommendations: dict[str, Any] | None = None,
                 suite: dict[str, Any] | None = None, dif: dict[str, dict[str, Any]] | None = None,
                 model: dict[str, Any] | None = None, clock: list[float] | None = None) -> None:
        self.catalog = catalog
        self.engine = SimpleNamespace(name="engine")
        self.recommender = SimpleNamespace(name="recommender")
        self.calls: dict[str, list[Any]] = {"served": [], "recommendations": [], "suite": [], "dif": [], "model": []}
        self.recommendations = recommendations or {"status": PASS, "findings": []}
        self.suite, self.dif, self.model = suite, dif or {}, model or {"status": PASS, "findings": []}
        monkeypatch.setattr(pre, "served_policy", self.served_policy)
        monkeypatch.setattr(pre, "simulated_recommendations", self.simulated_recommendations)
        monkeypatch.setattr(pre, "learner_suite", self.learner_suite)
        monkeypatch.setattr(pre, "_dif", self.run_dif)
        monkeypatch.setattr(pre, "_model_audit", self.run_model)
        if clock is not None:
            ticks = iter(clock)
            monkeypatch.setattr(pre, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))

    def served_policy(self, model_set: Any, catalog: Any = None) -> tuple[Any, Any, Any]:
        self.calls["served"].append((model_set, catalog))
        return self.catalog, self.engine, self.recommender

    def simulated_recommendations(self, model_set: Any, engine: Any, recommender: Any, opts: Any, version: Any) -> Any:
        self.calls["recommendations"].append((model_set, engine, recommender, opts, version))
        return dict(self.recommendations)

    def learner_suite(self, model_set: Any, engine: Any, recommender: Any, opts: Any, progress: Any = None) -> Any:
        self.calls["suite"].append((model_set, engine, recommender, opts, progress))
        if progress is not None:
            progress("suite step")
        return self.suite

    def run_dif(self, prepared: Any, roster: Any, groups: Any, catalog: Any, policy: Any, method: Any, adjust: Any,
                version: Any, parts: Any) -> None:
        self.calls["dif"].append((prepared, roster, groups, catalog, policy, method, adjust, version))
        parts.gated.update(self.dif)

    def run_model(self, prepared: Any, roster: Any, groups: Any, engine: Any, policy: Any, version: Any, data: Any,
                  parts: Any) -> None:
        self.calls["model"].append((prepared, roster, groups, engine, policy, version, dict(data)))
        parts.gated["model"] = self.model


def _model_set(components: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(name="maths", version=3, components=components)


def test_without_a_log_only_the_simulated_parts_run_and_both_skips_are_said(
        monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    run = _Audit(monkeypatch, catalog, recommendations={"status": INSUFFICIENT, "findings": ["too few", "x"],
                                                          "data": {"score": math.nan}})
    components = {"recommender": {"randomesque": 2}}
    messages: list[str] = []
    report = pre.audit_model_set(_model_set(components), catalog=catalog, options=pre.AuditOptions(suite_students=0),
                                 source="reg", progress=messages.append)
    (served_set, served_catalog), = run.calls["served"]
    assert served_set.components == components and served_catalog is catalog
    model_set, engine, recommender, opts, version = run.calls["recommendations"][0]
    assert engine is run.engine and recommender is run.recommender and version == "maths/3"
    assert model_set.components == components
    # no recommendations policy given: the packaged simulated-recommendations policy
    assert opts.recommendations_policy == simulated_policy() and opts.suite_students == 0
    assert run.calls["suite"] == [] and run.calls["dif"] == [] and run.calls["model"] == []
    assert report["status"] == INSUFFICIENT and report["part_status"] == {"recommendations": INSUFFICIENT}
    assert report["skipped"] == ["learner-model suite: --suite-students 0",
                                 "DIF and model audit: they need --data (a response log) and --roster (student_id + group "
                                 "columns)"]
    assert report["findings"] == [
        "Overall: INSUFFICIENT_EVIDENCE (the worst of recommendations INSUFFICIENT_EVIDENCE).",
        "Not run: learner-model suite: --suite-students 0; DIF and model audit: they need --data (a response log) and "
        "--roster (student_id + group columns).",
        "[recommendations] too few", "[recommendations] x"]
    assert report["parts"]["recommendations"]["data"] == {"score": None}  # strict JSON: NaN becomes null
    assert report["learner_suite"] is None and report["data"] == {} and report["data_sha256"] is None
    assert report["audit"] == "model_set" and report["model_version"] == "maths/3"
    assert report["model_set"] == {"name": "maths", "version": "3", "source": "reg"}
    assert report["content_sha256"] == content_sha256(components) and len(report["content_sha256"]) == 64
    assert report["catalog"] == f"{catalog.name}/v{catalog.version}"
    assert report["policies"] == {"recommendations": simulated_policy().name, "dif_and_model": load_policy().name}
    assert set(report["seconds"]) == {"recommendations_simulated", "total"}
    assert [m.split(":")[0] for m in messages] == ["recommendations_simulated"]
    assert report["rule"] == ("status = the worst of the gated parts (FAIL > INSUFFICIENT_EVIDENCE > PASS); the learner suite "
                              "is evidence only")
    stamp = datetime.fromisoformat(report["generated_at"])
    assert stamp.utcoffset().total_seconds() == 0 and stamp.microsecond == 0
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60


def test_with_a_log_and_a_roster_every_part_runs_on_the_prepared_log(monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    items = list(catalog.item_ids[:3])
    responses = pl.DataFrame({"student_id": [1, 1, 2, 2, 3], "item_id": [items[0], items[1], items[0], "not-an-item", items[2]],
                              "correct": [1, 0, 1, 1, 0], "seq": [0, 1, 0, 1, 0]})
    roster = pl.DataFrame({"student_id": [1, 2, 3], "gender": ["F", "M", "F"], "ses": ["lo", "hi", "hi"]})
    expected_log = prepare_log(catalog, responses, ignore_unknown_items=True)
    fingerprint = expected_log.fingerprint()
    suite = {"students": 5, "steps": 2, "settings": [
        {"setting": "bkt", "equilearn_minus_random": {
            "all": {"mean": -0.05, "ci": [-0.08, -0.02]},  # whole interval below 0: said
            "F": {"mean": -0.1, "ci": [-0.25, 0.0]},  # reaches 0: not said
            "M": {"mean": -0.031, "ci": [-0.0625, -0.0004]},
            "X": {"mean": None, "ci": [None, None]}}},  # no interval: not said
        {"setting": "curve", "equilearn_minus_random": {"all": {"mean": 0.2, "ci": [0.1, 0.3]}}}]}
    dif_findings = [f"d{i}" for i in range(8)]
    run = _Audit(monkeypatch, catalog, suite=suite, dif={"dif:gender": {"status": PASS, "findings": dif_findings},
                                                          "dif:ses": {"status": INSUFFICIENT, "findings": []}},
                 model={"status": FAIL, "findings": ["m1"], "value": math.inf},
                 clock=[100.0, 100.5, 103.456, 110.0, 110.3, 112.0, 115.456])
    built = {"build": {"data": {"fingerprint": "sha256:other"}}}
    policy = replace(load_policy(), name="my policy")
    rec_policy = replace(simulated_policy(), name="my recommendations policy")
    opts = pre.AuditOptions(suite_students=5, policy=policy, recommendations_policy=rec_policy, dif_method="logistic",
                            dif_adjust="none")
    messages: list[str] = []
    model_set = _model_set(built)
    report = pre.audit_model_set(model_set, responses=responses, roster=roster, options=opts, source="log.csv",
                                 progress=messages.append)

    assert run.calls["served"] == [(model_set, None)]
    assert run.calls["recommendations"][0][0] is model_set
    assert run.calls["recommendations"][0][3] is opts  # a given recommendations policy is kept as it is
    assert run.calls["suite"] == [(model_set, run.engine, run.recommender, opts, None)]
    data = {"source": "log.csv", "n_rows": 5, "n_responses": 4, "rows_left_out_unknown_items": 1, "data_sha256": fingerprint,
            "same_as_build_log": False}
    (prepared, d_roster, groups, d_catalog, d_policy, method, adjust, version), = run.calls["dif"]
    assert prepared.equals(expected_log.responses) and groups == ["gender", "ses"] and d_catalog is catalog
    assert d_roster["student_id"].dtype == pl.Utf8 and d_roster["student_id"].to_list() == ["1", "2", "3"]
    assert (d_policy, method, adjust, version) == (policy, "logistic", "none", "maths/3")
    (m_prepared, m_roster, m_groups, m_engine, m_policy, m_version, m_data), = run.calls["model"]
    assert m_prepared.equals(expected_log.responses) and m_roster.equals(d_roster) and m_groups == ["gender", "ses"]
    assert (m_engine, m_policy, m_version, m_data) == (run.engine, policy, "maths/3", data)

    assert report["status"] == FAIL
    assert report["part_status"] == {"recommendations": PASS, "dif:gender": PASS, "dif:ses": INSUFFICIENT, "model": FAIL}
    assert report["data"] == data and report["data_sha256"] == fingerprint and report["skipped"] == []
    assert report["learner_suite"] == suite
    assert report["policies"] == {"recommendations": "my recommendations policy", "dif_and_model": "my policy"}
    assert report["parts"]["model"]["value"] is None
    assert report["findings"] == [
        "Overall: FAIL (the worst of recommendations PASS, dif:gender PASS, dif:ses INSUFFICIENT_EVIDENCE, model FAIL).",
        *[f"[dif:gender] d{i}" for i in range(6)],  # at most six findings of a part
        "[model] m1",
        "[learner suite, evidence] bkt: all students gained less under this set's policy than under random practice "
        "(-0.050, 95% CI -0.080 to -0.020).",
        "[learner suite, evidence] bkt: M gained less under this set's policy than under random practice "
        "(-0.031, 95% CI -0.062 to -0.000).",
    ]
    # each part's time, rounded to 0.01 s, from the scripted clock; the progress callback gets the same laps only
    assert report["seconds"] == {"recommendations_simulated": 2.96, "learner_suite": 6.54, "dif": 0.3, "model": 1.7,
                                 "total": 15.46}
    assert messages == ["recommendations_simulated: 3.0 s", "learner_suite: 6.5 s", "dif: 0.3 s", "model: 1.7 s"]


def test_the_log_the_set_was_built_from_is_said_to_give_optimistic_figures(
        monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    item = catalog.item_ids[0]
    responses = pl.DataFrame({"student_id": ["a", "b"], "item_id": [item, item], "correct": [1, 0]})
    roster = pl.DataFrame({"student_id": ["a", "b"], "gender": ["F", "M"]})
    fingerprint = prepare_log(catalog, responses, ignore_unknown_items=True).fingerprint()
    run = _Audit(monkeypatch, catalog)
    built = {"build": {"data": {"fingerprint": fingerprint}}}
    report = pre.audit_model_set(_model_set(built), responses=responses, roster=roster, catalog=catalog,
                                 options=pre.AuditOptions(suite_settings=()))
    assert report["data"]["same_as_build_log"] is True and report["data"]["source"] is None
    assert run.calls["suite"] == []  # no suite settings: the suite is left out
    assert report["skipped"] == ["learner-model suite: --suite-students 0"]
    assert report["findings"][2] == ("The model audit used the log the set was built from: its students were in the training "
                                     "data, so its figures are optimistic; audit a newer log for held-out figures.")
    assert report["status"] == PASS
    # default policy for DIF and the model audit: engine/fairness/policies/default.toml
    assert run.calls["dif"][0][4] == load_policy() and run.calls["model"][0][4] == load_policy()
    assert run.calls["dif"][0][5:7] == ("mh", "holm")


def test_a_part_without_findings_adds_none(monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    _Audit(monkeypatch, catalog, recommendations={"status": PASS})
    report = pre.audit_model_set(_model_set(), options=pre.AuditOptions(suite_students=0))
    assert report["findings"][0] == "Overall: PASS (the worst of recommendations PASS)."
    assert not any(f.startswith("[recommendations]") for f in report["findings"]) and len(report["findings"]) == 2


def test_one_suite_student_is_enough_to_run_the_suite(monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    run = _Audit(monkeypatch, catalog, suite={"students": 1, "steps": 40, "settings": []})
    report = pre.audit_model_set(_model_set(), options=pre.AuditOptions(suite_students=1))
    assert len(run.calls["suite"]) == 1 and report["learner_suite"] == {"students": 1, "steps": 40, "settings": []}
    assert report["skipped"] == ["DIF and model audit: they need --data (a response log) and --roster (student_id + group "
                                 "columns)"]


def test_only_a_log_or_only_a_roster_runs_neither_dif_nor_the_model_audit(
        monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    responses = pl.DataFrame({"student_id": ["a"], "item_id": [catalog.item_ids[0]], "correct": [1]})
    roster = pl.DataFrame({"student_id": ["a"], "gender": ["F"]})
    for kwargs in ({"responses": responses}, {"roster": roster}):
        run = _Audit(monkeypatch, catalog)
        report = pre.audit_model_set(_model_set(), options=pre.AuditOptions(suite_students=0), **kwargs)
        assert run.calls["dif"] == [] and run.calls["model"] == [] and report["data"] == {}
        assert report["skipped"][-1].startswith("DIF and model audit: they need --data")
        assert report["content_sha256"] == content_sha256({})


def test_group_columns_must_be_roster_columns(monkeypatch: pytest.MonkeyPatch, catalog: Any) -> None:
    responses = pl.DataFrame({"student_id": ["a"], "item_id": [catalog.item_ids[0]], "correct": [1]})
    roster = pl.DataFrame({"student_id": ["a"], "gender": ["F"]})
    run = _Audit(monkeypatch, catalog)
    with pytest.raises(ConfigError) as info:
        pre.audit_model_set(_model_set(), responses=responses, roster=roster, groups=["gender*ses", "zone", "ses"],
                            options=pre.AuditOptions(suite_students=0))
    assert str(info.value) == "unknown group column(s) ses, zone; roster columns are: student_id, gender"
    assert run.calls["dif"] == []
    # an intersection of roster columns is accepted and passed on as it is
    run = _Audit(monkeypatch, catalog)
    roster = roster.with_columns(pl.lit("x").alias("ses"))
    pre.audit_model_set(_model_set(), responses=responses, roster=roster, groups=["gender*ses"],
                        options=pre.AuditOptions(suite_students=0))
    assert run.calls["dif"][0][2] == ["gender*ses"] and run.calls["model"][0][2] == ["gender*ses"]


# ------------------------------------------------------------------ summary_lines (edges)
def test_summary_of_an_undecided_check_without_notes_and_a_report_without_skips() -> None:
    report = {"model_version": "m/1", "content_sha256": "0123456789abcdef", "status": INSUFFICIENT,
              "part_status": {"dif:gender": INSUFFICIENT}, "parts": {"dif:gender": {"check_status": {"dif_c": INSUFFICIENT}}},
              "seconds": {"total": 1.25}}
    assert pre.summary_lines(report) == ["model set m/1 (content sha256:0123456789ab): INSUFFICIENT_EVIDENCE",
                                         f"  {'dif:gender':<24} INSUFFICIENT_EVIDENCE",
                                         "    dif_c: insufficient_evidence",
                                         "  1.2 s"]
