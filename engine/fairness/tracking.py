"""Keep audit results: a JSON file under EQUILEARN_HOME and an MLflow run tagged with the audited model version.

The service (service issue) reads the latest stored result for a model version and refuses to serve a
model set whose audit failed; MLflow keeps the history next to the model runs.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from engine.config import Settings, disable_telemetry, load_settings

log = logging.getLogger(__name__)
EXPERIMENT = "equilearn-audits"
STATUS_CODE = {"PASS": 0, "FAIL": 1, "INSUFFICIENT_EVIDENCE": 2}


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: replace them with null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def store_audit(payload: dict[str, Any], settings: Settings | None = None) -> Path:
    """Write the result as JSON to <EQUILEARN_HOME>/reports/audits/<audit>-<model version>-<UTC time>.json."""
    settings = settings or load_settings()
    stamp = re.sub(r"[^0-9T]", "", payload["generated_at"][:19])
    version = re.sub(r"[^0-9A-Za-z._-]", "_", str(payload.get("model_version") or "unversioned"))
    folder = settings.reports_dir / "audits"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{payload['audit']}-{version}-{stamp}.json"
    copy = 1
    while path.exists():  # two audits in the same second keep both results
        copy += 1
        path = folder / f"{payload['audit']}-{version}-{stamp}-{copy}.json"
    path.write_text(json.dumps(json_safe(payload), indent=2) + "\n")
    return path


def log_audit_mlflow(payload: dict[str, Any], settings: Settings | None = None) -> str:
    """Log the result to MLflow (experiment `equilearn-audits`); returns the run id."""
    disable_telemetry()
    import mlflow  # heavy import, only when logging

    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifacts_dir.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"audit-{payload['audit']}") as run:
        mlflow.set_tags({"audit": payload["audit"], "status": payload["status"],
                         "model_version": str(payload.get("model_version") or ""),
                         "policy": f"{payload['policy']['name']}@{payload['policy']['version']}"})
        mlflow.log_metric("status_code", STATUS_CODE[payload["status"]])
        mlflow.log_metric("failed_checks", sum(1 for s in payload["check_status"].values() if s == "FAIL"))
        ident = payload.get("identity_predictiveness")
        if ident:
            for key in ("delta_auc", "lr_stat", "p_value"):
                if ident[key] is not None and math.isfinite(ident[key]):
                    mlflow.log_metric(f"identity_{key}", ident[key])
        mlflow.log_dict(json_safe(payload), "audit.json")
        log.info("audit logged to MLflow run %s", run.info.run_id)
        return run.info.run_id
