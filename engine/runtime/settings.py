"""Service settings from `EQUILEARN_*` environment variables (on top of `engine.config.Settings`).

- `EQUILEARN_MODEL_SET` (default `equilearn`): registered model-set name; `EQUILEARN_MODEL_ALIAS`
  (default `champion`) the alias served.
- `EQUILEARN_MODEL_SET_FILE`: a local model-set JSON file to serve instead of the registry (development,
  tests, and the fallback while no registry is reachable); default `$EQUILEARN_HOME/model_set.json` if present.
- `EQUILEARN_REQUIRE_PASSING_AUDIT` (default `true`): the audit gate: serve a model set only when the service's
  audit table holds a PASS for its content (a FAIL blocks it); `false` turns the gate off (development: every
  response then carries the warning).
- `EQUILEARN_ALLOW_UNAUDITED` (default `false`; `equilearn serve --allow-unaudited`): development only: serve a
  model set that has no PASS for its content (but not one that FAILED), with the warning "unaudited model set,
  development only" in /readyz and every mastery and recommendation response.
- `EQUILEARN_MAX_BODY_BYTES` (default 4 MiB) and `EQUILEARN_MAX_BATCH` (default and most 1000 events) bound requests.
- `EQUILEARN_COMPUTE_THREADS` (default 0): 0 computes mastery and recommendations on the event loop (a
  thread hand-off cost more than the computation it overlapped, see docs/service.md); N > 0 uses at most N
  worker threads at once per process.
- `EQUILEARN_KEY_CACHE_SECONDS` (default 5): how long a verified API key is trusted without reading the
  database again; a key revoked by another process stops working here within that time (0 = check every request).
- `EQUILEARN_POLICY_CHECK_SECONDS` (default 2): how often a server process checks whether another process on
  the same database reloaded the model set, uploaded a catalog or recorded an audit, and learns from the answers
  that followed the lists every process served (`Runtime.catch_up`; 0 = never: the statistics change only at a load).
- `EQUILEARN_CORS_ORIGINS` (default none): comma-separated origins (`https://app.example.org`) whose pages may
  call the API from a browser; preflight requests from any other origin are refused.
- `EQUILEARN_FAILED_KEYS_PER_MINUTE` (default 30, 0 = off): wrong API keys one client address may send (in a
  burst, then refilled at that rate) before its requests get 429 with `Retry-After`.
- `EQUILEARN_READ_TIMEOUT_SECONDS` (default 15): a connection must deliver a whole request (headers and body)
  within this time of its first byte (or of opening), else it is closed; `EQUILEARN_KEEP_ALIVE_SECONDS`
  (default 5) closes a connection idle between requests.
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


BATCH_LIMIT = 1000  # events per request: the API's cap (its OpenAPI schema states it); EQUILEARN_MAX_BATCH may lower it


def _positive_int(value: str, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    what = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
    if maximum is not None:
        what += f" up to {maximum}"
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {value!r}") from None
    if n < minimum or (maximum is not None and n > maximum):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    return n


def _seconds(value: str, name: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = -1.0
    if not 0 <= x < float("inf"):
        raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return x


def _positive_seconds(value: str, name: str) -> float:
    x = _seconds(value, name)
    if x <= 0:
        raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}")
    return x


def _origins(value: str) -> tuple[str, ...]:
    """`EQUILEARN_CORS_ORIGINS`: comma-separated `scheme://host[:port]` origins (no path, no wildcard)."""
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest or "*" in rest:
            raise ConfigError(f"EQUILEARN_CORS_ORIGINS: {origin!r} is not an origin; give scheme://host[:port], "
                              "e.g. https://app.example.org, comma-separated")
    return origins


@dataclass(frozen=True)
class ServiceSettings:
    base: Settings
    model_set: str = "equilearn"
    model_alias: str = "champion"
    model_set_file: Path | None = None
    require_passing_audit: bool = True
    allow_unaudited: bool = False  # development: serve a set without a PASS for its content, flagged in every response
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = BATCH_LIMIT
    key_cache_seconds: float = 5.0
    compute_threads: int = 0  # 0: on the event loop (see docs/service.md, Decisions)
    policy_check_seconds: float = 2.0  # how often a server process checks whether another one changed the policy
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (none by default)
    failed_keys_per_minute: int = 30  # per client address; 0 = no throttling
    read_timeout_seconds: float = 15.0  # a whole request must arrive within this (slow or half-open clients are closed)
    keep_alive_seconds: float = 5.0  # idle time between requests before a connection is closed

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
        allow_unaudited=_flag(env.get("EQUILEARN_ALLOW_UNAUDITED", "false"), "EQUILEARN_ALLOW_UNAUDITED"),
        max_body_bytes=_positive_int(env.get("EQUILEARN_MAX_BODY_BYTES", str(4 * 1024 * 1024)), "EQUILEARN_MAX_BODY_BYTES"),
        max_batch=_positive_int(env.get("EQUILEARN_MAX_BATCH", str(BATCH_LIMIT)), "EQUILEARN_MAX_BATCH", maximum=BATCH_LIMIT),
        compute_threads=_positive_int(env.get("EQUILEARN_COMPUTE_THREADS", "0"), "EQUILEARN_COMPUTE_THREADS", minimum=0),
        key_cache_seconds=_seconds(env.get("EQUILEARN_KEY_CACHE_SECONDS", "5"), "EQUILEARN_KEY_CACHE_SECONDS"),
        policy_check_seconds=_seconds(env.get("EQUILEARN_POLICY_CHECK_SECONDS", "2"), "EQUILEARN_POLICY_CHECK_SECONDS"),
        cors_origins=_origins(env.get("EQUILEARN_CORS_ORIGINS", "")),
        failed_keys_per_minute=_positive_int(env.get("EQUILEARN_FAILED_KEYS_PER_MINUTE", "30"),
                                             "EQUILEARN_FAILED_KEYS_PER_MINUTE", minimum=0),
        read_timeout_seconds=_positive_seconds(env.get("EQUILEARN_READ_TIMEOUT_SECONDS", "15"), "EQUILEARN_READ_TIMEOUT_SECONDS"),
        keep_alive_seconds=_positive_seconds(env.get("EQUILEARN_KEEP_ALIVE_SECONDS", "5"), "EQUILEARN_KEEP_ALIVE_SECONDS"),
    )
