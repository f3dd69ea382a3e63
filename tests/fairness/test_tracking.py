"""Audit results are kept: a JSON file under EQUILEARN_HOME and an MLflow run tagged with the model version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.fairness.gate import load_policy
from engine.fairness.outcome_audit import audit_outcomes
from engine.fairness.results import assemble
from engine.fairness.tracking import log_audit_mlflow, store_audit
from tests.fairness import simulate as sim


def _payload() -> dict:
    rng = np.random.default_rng(0)
    roster = sim.roster(100, rng)
    return assemble(audit_outcomes(sim.outcomes(roster, rng), roster, "gender", n_boot=30), load_policy(),
                    model_version="models@7")


def test_store_writes_the_result_under_equilearn_home(isolated_home: Path) -> None:
    payload = _payload()
    path = store_audit(payload)
    assert path.is_relative_to(isolated_home / "reports" / "audits") and path.name.startswith("outcomes-models_7-")
    assert json.loads(path.read_text())["status"] == payload["status"]
    assert store_audit(payload) != path  # a second result in the same second does not overwrite the first


def test_mlflow_run_records_status_and_model_version(isolated_home: Path) -> None:
    import mlflow

    payload = _payload()
    run_id = log_audit_mlflow(payload)
    run = mlflow.get_run(run_id)
    assert run.data.tags["model_version"] == "models@7" and run.data.tags["status"] == payload["status"]
    assert run.data.metrics["status_code"] == {"PASS": 0, "FAIL": 1, "INSUFFICIENT_EVIDENCE": 2}[payload["status"]]
    stored = mlflow.artifacts.load_dict(f"runs:/{run_id}/audit.json")
    assert stored["audit"] == "outcomes" and stored["model_version"] == "models@7"


def test_result_is_strict_json_with_the_model_version() -> None:
    """The registry logs the result as it is: no NaN/inf after json_safe, and the audited version named."""
    from engine.fairness.tracking import json_safe

    payload = _payload()
    text = json.dumps(json_safe(payload), allow_nan=False)
    back = json.loads(text)
    assert back["model_version"] == "models@7" and back["audit"] == "outcomes"
    assert {"status", "policy", "generated_at", "checks", "check_status", "suppressed_groups", "evidence"} <= set(back)
