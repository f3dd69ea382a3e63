"""Register, alias, audit, promote and load model sets against a real local MLflow SQLite store."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.config import Settings, load_settings
from engine.data.demo import demo_dataset
from engine.errors import AuditGateError, ConfigError, NotFoundError
from engine.registry import ModelSet, load_model_set, promote, record_audit, register_model_set, set_alias
from models.baselines import SmoothedItemMean


@pytest.fixture(scope="module")
def fitted() -> tuple[SmoothedItemMean, object]:
    data = demo_dataset(n_students=40, attempts=10)
    return SmoothedItemMean().fit(data.train), data.train


def _components(model: SmoothedItemMean) -> dict:
    return {"kt": {"zoo_model": "baseline-item", "params": model.to_dict()}, "recommender": {"k": 3}}


def test_registry_default_store_is_under_home_not_cwd(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EQUILEARN_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("EQUILEARN_MLFLOW_URI", raising=False)
    settings = load_settings()
    assert settings.mlflow_uri == f"sqlite:///{tmp_path / 'state' / 'mlflow.db'}"
    assert settings.artifacts_dir == tmp_path / "state" / "mlartifacts"
    monkeypatch.setenv("EQUILEARN_MLFLOW_URI", "http://127.0.0.1:5000")
    assert load_settings().mlflow_uri == "http://127.0.0.1:5000"


def test_registry_model_set_dict_round_trip() -> None:
    ms = ModelSet("m", "3", {"kt": {"a": [1, 2]}}, "sha256:x", "0.1.0", "PASS")
    assert ModelSet.from_dict(ms.to_dict()) == ms
    with pytest.raises(ConfigError, match="component 'kt'"):
        ModelSet.from_dict({**ms.to_dict(), "components": {"kt": [1, 2]}})


def test_registry_register_alias_load_and_pyfunc(mlflow_store: Settings, fitted) -> None:
    import mlflow

    model, responses = fitted
    ms = register_model_set("set-basic", _components(model), "sha256:abc", settings=mlflow_store, params={"note": "x"})
    assert ms.version == "1" and ms.audit_status is None and ms.code_version
    set_alias("set-basic", ms.version, "challenger", settings=mlflow_store)
    loaded, warning = load_model_set("set-basic", alias="challenger", settings=mlflow_store)
    assert loaded.components == _components(model) and loaded.data_fingerprint == "sha256:abc"
    assert warning is not None and "no recorded fairness audit" in warning
    # the registered pyfunc (JSON parameters, models-from-code) predicts what the fitted model predicts
    pyfunc = mlflow.pyfunc.load_model("models:/set-basic@challenger")
    shuffled = responses.sample(fraction=1.0, shuffle=True, seed=1)
    expected = model.predict_proba(shuffled)  # item means do not depend on row order
    np.testing.assert_allclose(pyfunc.predict(shuffled.to_pandas()), expected)
    y = shuffled["correct"].to_numpy()
    assert roc_auc_score(y, pyfunc.predict(shuffled.to_pandas())) == pytest.approx(roc_auc_score(y, expected))


def test_registry_promotion_is_gated_by_audit(mlflow_store: Settings, fitted) -> None:
    model, _ = fitted
    name = "set-gated"
    v1 = register_model_set(name, _components(model), "sha256:1", settings=mlflow_store).version
    v2 = register_model_set(name, _components(model), "sha256:2", settings=mlflow_store).version
    with pytest.raises(AuditGateError, match="no recorded fairness audit"):
        promote(name, v1, settings=mlflow_store)
    record_audit(name, v1, {"audit": "model", "status": "PASS"}, settings=mlflow_store)
    assert promote(name, v1, settings=mlflow_store).audit_status == "PASS"
    assert load_model_set(name, settings=mlflow_store) [0].version == v1
    record_audit(name, v2, {"audit": "model", "status": "FAIL", "findings": ["gap"]}, settings=mlflow_store)
    with pytest.raises(AuditGateError, match="FAIL"):
        promote(name, v2, settings=mlflow_store)
    assert load_model_set(name, settings=mlflow_store)[0].version == v1  # champion unchanged
    with pytest.raises(ConfigError, match="'status'"):
        record_audit(name, v2, {"audit": "model", "status": "OK"}, settings=mlflow_store)
    with pytest.raises(NotFoundError, match="no version 99"):
        promote(name, 99, settings=mlflow_store)


def test_registry_failed_champion_falls_back_to_last_passing(mlflow_store: Settings, fitted) -> None:
    model, _ = fitted
    name = "set-fallback"
    v1 = register_model_set(name, _components(model), "sha256:1", settings=mlflow_store).version
    v2 = register_model_set(name, _components(model), "sha256:2", settings=mlflow_store).version
    for v in (v1, v2):
        record_audit(name, v, {"audit": "model", "status": "PASS"}, settings=mlflow_store)
        promote(name, v, settings=mlflow_store)
    # a later audit of another kind fails: the worst latest audit per kind decides
    record_audit(name, v2, {"audit": "recommendations", "status": "FAIL"}, settings=mlflow_store)
    record_audit(name, v2, {"audit": "model", "status": "PASS"}, settings=mlflow_store)
    served, warning = load_model_set(name, settings=mlflow_store)
    assert served.version == v1 and served.audit_status == "PASS"
    assert warning is not None and "FAILED" in warning and f"version {v1}" in warning
    failed, _ = load_model_set(name, settings=mlflow_store, require_passing_audit=False)
    assert failed.version == v2 and failed.audit_status == "FAIL"


def test_registry_failed_champion_without_fallback_raises(mlflow_store: Settings, fitted) -> None:
    model, _ = fitted
    name = "set-nofallback"
    v1 = register_model_set(name, _components(model), "sha256:1", settings=mlflow_store).version
    record_audit(name, v1, {"audit": "model", "status": "PASS"}, settings=mlflow_store)
    promote(name, v1, settings=mlflow_store)
    record_audit(name, v1, {"audit": "model", "status": "FAIL"}, settings=mlflow_store)
    with pytest.raises(AuditGateError, match="no earlier version passed"):
        load_model_set(name, settings=mlflow_store)
    with pytest.raises(NotFoundError, match="alias 'champion'"):
        load_model_set("set-never-registered", settings=mlflow_store)
