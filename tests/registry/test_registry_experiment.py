"""Experiment runs on the demo data against a real MLflow store: logged metrics, repeatability, CV, groups."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from engine.evaluation.protocol import protocol_split, sort_sequential
from engine.experiment import parse_config, run_experiment, summarize
from engine.experiment.data import load_dataset
from engine.registry.pyfunc import model_from_json

from .conftest import demo_roster

N_STUDENTS = 80


def _config(tmp_path: Path, seed: int = 0, **extra: object):
    roster = demo_roster(tmp_path / "roster.csv", N_STUDENTS)
    raw = {"experiment": {"name": "demo-small", "seed": seed},
           "data": {"format": "demo", "options": {"n_students": N_STUDENTS, "attempts": 12}, "roster": str(roster),
                    "groups": ["cohort"], "min_group_size": 5},
           "models": {"names": ["baseline-item", "baseline-mean"]}, "cv": {"folds": 3},
           "mlflow": {"log_models": False}}
    raw.update(extra)
    return parse_config(raw)


def _quality(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.startswith("time.")}


def test_registry_experiment_same_seed_same_metrics(mlflow_store, tmp_path) -> None:
    """Twice with the same seed: identical logged metrics, CV and per-group included (timings aside).

    Every zoo model is checked the same way on real data in test_registry_cli."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_store.mlflow_uri)
    first = run_experiment(_config(tmp_path), settings=mlflow_store)
    second = run_experiment(_config(tmp_path), settings=mlflow_store)
    assert first.run_id != second.run_id
    m1 = _quality(client.get_run(first.run_id).data.metrics)
    m2 = _quality(client.get_run(second.run_id).data.metrics)
    assert m1 == m2
    assert {"baseline-item.auc", "cv.baseline-item.auc.ci_low", "group.cohort.b.baseline-mean.rmse"} <= set(m1)


def test_registry_experiment_seed_changes_split(mlflow_store, tmp_path) -> None:
    a = run_experiment(_config(tmp_path, cv={"folds": 0}), settings=mlflow_store).metrics
    b = run_experiment(_config(tmp_path, seed=1, cv={"folds": 0}), settings=mlflow_store).metrics
    assert a["baseline-item"]["auc"] != b["baseline-item"]["auc"]  # a different seed tests other students


def test_registry_experiment_logged_values_match_independent_computation(mlflow_store, tmp_path) -> None:
    import mlflow

    config = _config(tmp_path, mlflow={"log_models": True})
    result = run_experiment(config, settings=mlflow_store)
    metrics = mlflow.MlflowClient(mlflow_store.mlflow_uri).get_run(result.run_id).data.metrics
    # reload the logged JSON model, predict the test split ourselves, score with sklearn
    split = protocol_split(load_dataset(config), config.test_fraction, config.seed)
    test = sort_sequential(split.test)
    # the global mean predicts the training students' success rate, computed here from the split itself
    train_rate = float(np.mean(split.train["correct"].to_numpy()))
    y_test = test["correct"].to_numpy()
    assert metrics["baseline-mean.rmse"] == pytest.approx(float(np.sqrt(np.mean((y_test - train_rate) ** 2))), rel=1e-9)
    payload = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/models/baseline-item.json")
    p = model_from_json(payload).predict_proba(test)
    y = test["correct"].to_numpy()
    assert metrics["baseline-item.auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["baseline-item.rmse"] == pytest.approx(float(np.sqrt(np.mean((y - p) ** 2))))
    # per-group metrics: the 'a' cohort (even student numbers) scored on its own rows
    even = np.array([int(s[1:]) % 2 == 0 for s in test["student_id"].to_list()])
    assert metrics["group.cohort.a.baseline-item.auc"] == pytest.approx(roc_auc_score(y[even], p[even]))
    # artifacts: plots and the table
    files = {f.path for f in mlflow.MlflowClient(mlflow_store.mlflow_uri).list_artifacts(result.run_id)}
    assert {"calibration.svg", "roc.svg", "curves.json", "results.md", "cv.json", "groups.json"} <= files
    svg = mlflow.artifacts.load_text(f"runs:/{result.run_id}/roc.svg")
    assert svg.startswith("<svg") and "baseline-item" in svg
    curves = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/curves.json")
    assert sum(curves["baseline-item"]["calibration_count"]) == test.height
    # the per-model pyfunc (JSON parameters) predicts what the reloaded model predicts
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model-baseline-item")
    np.testing.assert_allclose(pyfunc.predict(test.to_pandas()), p)


def test_registry_cv_interval_by_hand() -> None:
    s = summarize([1.0, 2.0, 3.0], confidence=0.95)
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd of 1,2,3 is 1
    assert s["mean"] == 2.0 and s["sd"] == pytest.approx(1.0)
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((2 - half, 2 + half))
    assert math.isnan(summarize([0.7])["ci_low"])


def test_registry_experiment_registers_best_model(mlflow_store, tmp_path) -> None:
    from engine.registry import load_model_set, record_audit, promote

    config = _config(tmp_path, register={"name": "demo-exp-set"}, cv={"folds": 0})
    result = run_experiment(config, settings=mlflow_store)
    assert result.registered is not None and result.registered["kt_model"] == "baseline-item"  # higher AUC than the mean
    version = result.registered["version"]
    record_audit("demo-exp-set", version, {"audit": "model", "status": "PASS"}, settings=mlflow_store)
    promote("demo-exp-set", version, settings=mlflow_store)
    served, warning = load_model_set("demo-exp-set", settings=mlflow_store)
    assert warning is None and served.components["kt"]["zoo_model"] == "baseline-item"
    assert json.dumps(served.components)  # plain JSON


def test_registry_experiment_register_says_when_it_is_research_only(mlflow_store, tmp_path) -> None:
    """Without register.catalog the registered set holds only the research `kt` component, and says so plainly."""
    config = _config(tmp_path, register={"name": "demo-research-set"}, cv={"folds": 0})
    result = run_experiment(config, settings=mlflow_store)
    assert result.registered["servable"] == "false"
    assert result.registered["message"].startswith("registered a research model only; the service serves model sets "
                                                   "built by `equilearn model build`")


def test_registry_experiment_register_with_a_catalog_registers_a_servable_set(mlflow_store, tmp_path) -> None:
    """With register.catalog the experiment registers what `model build` builds from its data (plus the chosen
    model as `kt`): a set the service can serve on its own catalog."""
    from engine.modelbuild import check_servable
    from engine.registry import get_model_set
    from tests.modelbuild.conftest import make_world

    world = make_world(tmp_path / "platform")
    config = parse_config({"experiment": {"name": "platform-exp", "seed": 0},
                           "data": {"root": str(tmp_path), "path": str(world.log), "format": "generic"},
                           "models": {"names": ["baseline-item", "baseline-mean"]}, "mlflow": {"log_models": False},
                           "register": {"name": "platform-exp-set", "catalog": str(world.catalog)}})
    result = run_experiment(config, settings=mlflow_store)
    reg = result.registered
    assert reg["servable"] == "true" and "registered a servable model set" in reg["message"]
    served = get_model_set("platform-exp-set", reg["version"], settings=mlflow_store)
    assert {"mastery", "recommender", "catalog", "build", "kt"} <= set(served.components)
    assert served.components["kt"]["zoo_model"] == reg["kt_model"] and served.content_sha256 == reg["content_sha256"]
    check_servable(served.components)  # loads exactly as the server builds it
