"""Where MLflow keeps runs and registered models: the local store under EQUILEARN_HOME by default.

Default: SQLite tracking + registry at `$EQUILEARN_HOME/mlflow.db`, artifacts in
`$EQUILEARN_HOME/mlartifacts` (never the working directory's `mlruns/`); any tracking URI via
`EQUILEARN_MLFLOW_URI`. Telemetry is off. MLflow is imported only here and only when needed (it is slow).
"""

from __future__ import annotations

import logging
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.config import Settings, disable_telemetry, load_settings

log = logging.getLogger(__name__)

MODEL_SETS_EXPERIMENT = "equilearn-model-sets"
AUDITS_EXPERIMENT = "equilearn-audits"  # the same experiment engine.fairness.tracking logs audits to


def connect(settings: Settings | None = None) -> tuple[Any, Settings]:
    """Point MLflow at the configured store and return (MlflowClient, settings)."""
    disable_telemetry()
    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri), settings


def experiment_id(name: str, settings: Settings) -> str:
    """The id of experiment `name`, created with its artifacts under EQUILEARN_HOME/mlartifacts if new."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if _is_local(settings.mlflow_uri):  # a remote server chooses its own artifact store
        settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
        location = settings.artifacts_dir.as_uri()
    try:
        return str(mlflow.create_experiment(name, artifact_location=location))
    except Exception:  # created concurrently by another process
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/")) or "://" not in uri


def code_version() -> str:
    """The package version plus the git commit when run from a checkout, e.g. `0.1.0+g6ce0733`."""
    try:
        version = metadata.version("equilearn")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        try:
            out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout.strip():
                version += f"+g{out.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    return version
