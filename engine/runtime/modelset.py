"""The served model set: where it comes from, and how its components become a mastery engine + recommender.

Sources, in order:
1. a local model-set JSON file (`EQUILEARN_MODEL_SET_FILE`, or `$EQUILEARN_HOME/model_set.json`), with the
   fields of `engine.registry.ModelSet` (name, version, components, data_fingerprint, code_version,
   audit_status): for development, tests and `make run`;
2. the MLflow registry (`engine.registry.load_model_set(name, alias)`), which refuses a set whose latest
   fairness audit FAILED and falls back to the last approved version, returning a warning we pass on;
3. nothing registered: the built-in defaults (catalog priors, N(0,1) ability), served with audit status
   `NOT_AUDITED` and a warning, so a fresh install answers at once and says so.

Components used (all optional; others, e.g. evaluation models, are ignored here): `mastery`
(`MasteryEngine.to_components()`: skill model, ability model, settings), `recommender`
(`RecommenderConfig.to_dict()`), `policy_learning` (what the recommender learned from outcomes,
`engine.recommend.learning`) and `catalog` (a one-document catalog bundle, see `catalogs.py`). A set
that carries its catalog is served on it (before any uploaded catalog) and must be consistent with it:
`check_set_catalog` refuses a set whose item bank or skill model names items or skills its catalog lacks.
`equilearn model build` (`engine.modelbuild`) writes such sets; its other components (`build`,
`policy_learning`) are described in docs/service.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.catalog import Catalog
from engine.errors import ConfigError, DataError, NotFoundError
from engine.jsonfile import read_json
from engine.mastery import MasteryEngine
from engine.recommend import Recommender, RecommenderConfig
from engine.recommend.learning import DifficultyProgress

log = logging.getLogger(__name__)

FAIL = "FAIL"
NOT_AUDITED = "NOT_AUDITED"


@dataclass(frozen=True)
class LocalModelSet:
    """The fields of `engine.registry.ModelSet`, read from a JSON file or built in."""

    name: str
    version: str
    components: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None
    code_version: str | None = None
    audit_status: str | None = NOT_AUDITED


@dataclass(frozen=True)
class LoadedModelSet:
    """A model set and where it came from, plus any warning to show in /readyz and every response."""

    model_set: Any
    source: str  # "file:<path>", "registry:<name>@<alias>", "builtin"
    warning: str | None

    @property
    def name(self) -> str:
        return str(self.model_set.name)

    @property
    def version(self) -> str:
        return str(self.model_set.version)

    @property
    def audit_status(self) -> str:
        status = getattr(self.model_set, "audit_status", None)
        return str(status) if status else NOT_AUDITED


def read_model_set_file(path: Path) -> LocalModelSet:
    payload = read_json(path, "model-set file (EQUILEARN_MODEL_SET_FILE)")
    if not isinstance(payload, dict) or "name" not in payload or "version" not in payload:
        raise DataError(f"{path}: a model-set file is an object with at least name, version and components")
    return LocalModelSet(str(payload["name"]), str(payload["version"]), dict(payload.get("components") or {}),
                         payload.get("data_fingerprint"), payload.get("code_version"),
                         payload.get("audit_status") or NOT_AUDITED)


def write_model_set_file(path: Path, model_set: LocalModelSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(model_set.__dict__, indent=1) + "\n")
    tmp.replace(path)


def _registry():  # noqa: ANN202 - the module, when the registry helper's package exists
    try:
        import engine.registry as registry  # noqa: PLC0415 - optional, MLflow is slow to import
    except ImportError:
        return None
    return registry if hasattr(registry, "load_model_set") else None


def load_served_model_set(name: str, alias: str, file: Path | None, require_passing_audit: bool,
                          settings: Any = None) -> LoadedModelSet:
    """The model set to serve (module docstring); a FAILED set without approved fallback is a `ConfigError`."""
    if file is not None:
        ms = read_model_set_file(file)
        if require_passing_audit and ms.audit_status == FAIL:
            raise ConfigError(f"model set {ms.name} v{ms.version} ({file}) failed its fairness audit and no approved "
                              "version can be loaded from a file; serve another one or set EQUILEARN_REQUIRE_PASSING_AUDIT=false")
        return LoadedModelSet(ms, f"file:{file}", None)
    registry = _registry()
    if registry is not None:
        try:
            ms, warning = registry.load_model_set(name, alias=alias, settings=settings,
                                                  require_passing_audit=require_passing_audit)
            return LoadedModelSet(ms, f"registry:{name}@{alias}", warning)
        except NotFoundError as exc:
            log.warning("no registered model set to serve (%s); using the built-in defaults", exc)
            reason = str(exc)
    else:
        reason = "engine.registry is not installed"
    builtin = LocalModelSet("builtin-defaults", "0", {}, None, None, NOT_AUDITED)
    return LoadedModelSet(builtin, "builtin", f"serving built-in default parameters, not a trained model set ({reason})")


def _listed(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def check_set_catalog(catalog: Catalog, components: dict[str, Any]) -> None:
    """A set's own catalog must hold every item of its `models.irt` bank and every skill of its `models.bkt`
    skill model; otherwise the set was assembled from parts fitted to different catalogs (`ConfigError`)."""
    mastery = components.get("mastery") or {}
    ability, skill = mastery.get("ability_model") or {}, mastery.get("skill_model") or {}
    problems = []
    if ability.get("kind") == "models.irt":
        records = ((ability.get("model") or {}).get("calibration") or {}).get("items") or []
        bank = [str(r.get("item_id")) for r in records if isinstance(r, dict)]
        missing = sorted(set(bank) - set(catalog.item_ids))
        if missing:
            problems.append(f"its item bank holds {len(missing)} item(s) the catalog lacks ({_listed(missing)})")
    if skill.get("kind") == "models.bkt":
        skills = [str(x) for x in (skill.get("model") or {}).get("skills") or []]
        missing = sorted(set(skills) - set(catalog.skill_ids))
        if missing:
            problems.append(f"its skill model has {len(missing)} skill(s) the catalog lacks ({_listed(missing)})")
    if problems:
        raise ConfigError(f"the model set's catalog {catalog.name!r} does not match its components: {'; '.join(problems)}. "
                          "Build the set from one catalog and log (`equilearn model build --catalog C --data LOG`)")


def build_policy(catalog: Catalog, components: dict[str, Any], own_catalog: bool = False) -> tuple[MasteryEngine, Recommender]:
    """A mastery engine and recommender for `catalog` from model-set components (module docstring);
    `own_catalog`: `catalog` is the set's own component, checked against the models first."""
    if own_catalog:
        check_set_catalog(catalog, components)
    mastery = components.get("mastery")
    engine = MasteryEngine.from_components(catalog, mastery) if mastery else MasteryEngine(catalog)
    rconfig = RecommenderConfig.from_dict(components["recommender"]) if components.get("recommender") else None
    learned = components.get("policy_learning")
    progress = DifficultyProgress.from_dict(learned) if learned else None
    return engine, Recommender(engine, rconfig, progress=progress)
