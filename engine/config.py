"""Settings from `EQUILEARN_*` environment variables, with defaults that work out of the box.

All local state (SQLite file, MLflow store and artifacts, reports) lives under `EQUILEARN_HOME`
(default `.equilearn/` in the working directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def disable_telemetry() -> None:
    """Turn off MLflow's (and friends') usage telemetry for this process; called by our entry points."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    mlflow_uri: str

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings now (not at import) so tests can point `EQUILEARN_HOME` elsewhere."""
    env = os.environ if environ is None else environ
    home = Path(env.get("EQUILEARN_HOME", ".equilearn")).resolve()
    database_url = env.get("EQUILEARN_DATABASE_URL", f"sqlite:///{home / 'equilearn.db'}")
    mlflow_uri = env.get("EQUILEARN_MLFLOW_URI", f"sqlite:///{home / 'mlflow.db'}")
    return Settings(home=home, database_url=database_url, mlflow_uri=mlflow_uri)
