"""Service settings from `EQUILEARN_*` environment variables (on top of `engine.config.Settings`).

- `EQUILEARN_MODEL_SET` (default `equilearn`): registered model-set name; `EQUILEARN_MODEL_ALIAS`
  (default `champion`) the alias served.
- `EQUILEARN_MODEL_SET_FILE`: a local model-set JSON file to serve instead of the registry (development,
  tests, and the fallback while no registry is reachable); default `$EQUILEARN_HOME/model_set.json` if present.
- `EQUILEARN_REQUIRE_PASSING_AUDIT` (default `true`): refuse a model set whose latest fairness audit FAILED.
- `EQUILEARN_MAX_BODY_BYTES` (default 4 MiB) and `EQUILEARN_MAX_BATCH` (default 1000 events) bound requests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings, load_settings
from engine.errors import ConfigError


def _flag(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _positive_int(value: str, name: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}") from None
    if n <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return n


@dataclass(frozen=True)
class ServiceSettings:
    base: Settings
    model_set: str = "equilearn"
    model_alias: str = "champion"
    model_set_file: Path | None = None
    require_passing_audit: bool = True
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1000

    @property
    def home(self) -> Path:
        return self.base.home

    @property
    def database_url(self) -> str:
        return self.base.database_url

    @property
    def catalog_file(self) -> Path:
        """Where an uploaded catalog bundle (PUT /v1/catalog) is kept, so a restart serves it again."""
        return self.base.home / "catalog" / "current.json"


def load_service_settings(environ: dict[str, str] | None = None) -> ServiceSettings:
    env = os.environ if environ is None else environ
    base = load_settings(env)
    file = env.get("EQUILEARN_MODEL_SET_FILE")
    default_file = base.home / "model_set.json"
    return ServiceSettings(
        base=base,
        model_set=env.get("EQUILEARN_MODEL_SET", "equilearn"),
        model_alias=env.get("EQUILEARN_MODEL_ALIAS", "champion"),
        model_set_file=Path(file).resolve() if file else (default_file if default_file.is_file() else None),
        require_passing_audit=_flag(env.get("EQUILEARN_REQUIRE_PASSING_AUDIT", "true"), "EQUILEARN_REQUIRE_PASSING_AUDIT"),
        max_body_bytes=_positive_int(env.get("EQUILEARN_MAX_BODY_BYTES", str(4 * 1024 * 1024)), "EQUILEARN_MAX_BODY_BYTES"),
        max_batch=_positive_int(env.get("EQUILEARN_MAX_BATCH", "1000"), "EQUILEARN_MAX_BATCH"),
    )
