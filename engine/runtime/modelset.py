"""The served model set: where it comes from, whether its audit lets it be served, and how its components
become a mastery engine + recommender.

Sources, in order:
1. a local model-set JSON file (`EQUILEARN_MODEL_SET_FILE`, or `$EQUILEARN_HOME/model_set.json`), with the
   fields of `engine.registry.ModelSet` (name, version, components, data_fingerprint, code_version); an
   `audit_status` field in the file is ignored: for development, tests and `make run`;
2. the MLflow registry (`engine.registry.load_model_set(name, alias, verdict=...)`), which serves the aliased
   version only if its content passed, else the last version promoted before it whose content passed,
   returning a warning we pass on;
3. nothing registered: the built-in defaults (catalog priors, N(0,1) ability), served with audit status
   `NOT_AUDITED` and a warning, so a fresh install answers at once and says so.

The gate (`verdict`): a set is served only when the newest audit of its content hash in the service's own
audit table (`engine.registry.model_set.content_sha256`) is a PASS, whatever MLflow's tags say. A set whose
newest verdict is FAIL or INSUFFICIENT_EVIDENCE is loaded but blocked by the runtime (recommendations
refused, not ready) until a PASS is recorded for it (an admin may override); a set never audited is not served
at all, unless the development flag
`EQUILEARN_ALLOW_UNAUDITED` (or `EQUILEARN_REQUIRE_PASSING_AUDIT=false`) is set, and then it is flagged with
`UNAUDITED_WARNING` in /readyz and every mastery and recommendation response.

`LoadedModelSet.source` is the kind of source only (`file`, `registry`, `builtin`): it is shown in /readyz,
which needs no key, so it never holds a path; errors about the file name the setting, not the path.

Components used (all optional; others, e.g. evaluation models, are ignored here): `mastery`
(`MasteryEngine.to_components()`: skill model, ability model, settings), `recommender`
(`RecommenderConfig.to_dict()`), `policy_learning` (what the recommender learned from outcomes,
`engine.recommend.learning`), `resource_effectiveness` (each resource's value measured from what followed it
in the service's logs, `engine.recommend.outcomes`; the recommender's online statistics start from it) and
`catalog` (a one-document catalog bundle, see `catalogs.py`). A set
that carries its catalog is served on it (before any uploaded catalog) and must be consistent with it:
`check_set_catalog` refuses a set whose item bank or skill model names items or skills its catalog lacks.
`equilearn model build` (`engine.modelbuild`) writes such sets; its other components (`build`,
`policy_learning`) are described in docs/service.md.
"""

from __future__ import annotations

import dataclasses

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.catalog import Catalog
from engine.errors import ConfigError, DataError, EquilearnError, NotFoundError
from engine.jsonfile import read_json
from engine.mastery import MasteryEngine
from engine.recommend import Recommender, RecommenderConfig
from engine.recommend.effectiveness import ResourceEffectiveness
from engine.recommend.learning import DifficultyProgress
from engine.recommend.scoring import ready_learn_rates
from engine.registry.model_set import content_sha256

log = logging.getLogger(__name__)

PASS, FAIL, INSUFFICIENT = "PASS", "FAIL", "INSUFFICIENT_EVIDENCE"
NOT_AUDITED = "NOT_AUDITED"
FILE, REGISTRY, BUILTIN = "file", "registry", "builtin"
UNAUDITED_WARNING = "unaudited model set, development only"
FILE_SETTING = "the model-set file (EQUILEARN_MODEL_SET_FILE)"

Verdict = Callable[[str], Any]  # content hash -> the store's newest audit of that content (AuditRecord) or None


@dataclass(frozen=True)
class LocalModelSet:
    """The fields of `engine.registry.ModelSet`, read from a JSON file or built in."""

    name: str
    version: str
    components: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None
    code_version: str | None = None
    audit_status: str | None = NOT_AUDITED

    @property
    def content_sha256(self) -> str:
        return content_sha256(self.components)


@dataclass(frozen=True)
class LoadedModelSet:
    """A model set, the kind of source it came from, any warning to show in /readyz and every response, and
    the service's own newest audit of its content (None: never audited here)."""

    model_set: Any
    source: str  # FILE, REGISTRY or BUILTIN: never a path (shown without a key)
    warning: str | None
    verdict: Any = None  # engine.store.AuditRecord | None

    @property
    def name(self) -> str:
        return str(self.model_set.name)

    @property
    def version(self) -> str:
        return str(self.model_set.version)

    @cached_property
    def content_sha256(self) -> str:  # computed once: every response names it
        return content_sha256(dict(self.model_set.components or {}))

    @property
    def audit_status(self) -> str:
        return str(self.verdict.status) if self.verdict is not None else NOT_AUDITED

    @property
    def audit_id(self) -> int | None:
        return None if self.verdict is None else int(self.verdict.id)


def read_model_set_file(path: Path) -> LocalModelSet:
    """The set in `path`; its `audit_status` field is kept for information only (the gate reads the store)."""
    try:
        payload = read_json(path, "model-set file (EQUILEARN_MODEL_SET_FILE)")
    except EquilearnError as exc:  # the message would name the path, and /readyz shows it without a key
        raise type(exc)(str(exc).replace(str(path), FILE_SETTING)) from None
    if not isinstance(payload, dict) or "name" not in payload or "version" not in payload:
        raise DataError(f"{FILE_SETTING}: a model-set file is an object with at least name, version and components")
    components = payload.get("components") or {}
    if not isinstance(components, dict):
        raise DataError(f"{FILE_SETTING}: 'components' must be an object of name -> JSON object")
    return LocalModelSet(str(payload["name"]), str(payload["version"]), dict(components),
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


def describe_verdict(record: Any) -> str:
    """'no audit', 'audit #7: INSUFFICIENT_EVIDENCE', ... for messages."""
    return "no audit" if record is None else f"audit #{record.id}: {record.status}"


def set_label(name: str, version: str) -> str:
    """'demo v3' for a registry version, 'demo build-20261202-...' for a file set's own version label."""
    version = str(version)
    return f"{name} v{version}" if version.isdigit() else f"{name} {version}"


def unaudited_warning(name: str, version: str, digest: str, record: Any, why: str) -> str:
    return (f"{UNAUDITED_WARNING}: model set {set_label(name, version)} (content sha256:{digest[:12]}) has no PASS in this "
            f"service's audit table ({describe_verdict(record)}); served only because {why}")


def _file_set(file: Path, require_passing_audit: bool, verdict: Verdict | None, allow_unaudited: bool) -> LoadedModelSet:
    ms = read_model_set_file(file)
    if verdict is None:  # no store to ask (library use): the file's own claim, as before the gate
        return LoadedModelSet(ms, FILE, None, None)
    digest = ms.content_sha256
    record = verdict(digest)
    status = None if record is None else record.status
    if status in (PASS, FAIL):  # a FAIL is loaded and blocked by the runtime (the gate's 503), not hidden
        return LoadedModelSet(ms, FILE, None, record)
    if not require_passing_audit:
        return LoadedModelSet(ms, FILE, unaudited_warning(ms.name, ms.version, digest, record,
                                                          "EQUILEARN_REQUIRE_PASSING_AUDIT=false"), record)
    if allow_unaudited:
        return LoadedModelSet(ms, FILE, unaudited_warning(ms.name, ms.version, digest, record,
                                                          "EQUILEARN_ALLOW_UNAUDITED=true"), record)
    if status == INSUFFICIENT:  # audited without enough evidence: loaded and blocked (an admin may override it)
        return LoadedModelSet(ms, FILE, None, record)
    raise ConfigError(
        f"model set {set_label(ms.name, ms.version)} from {FILE_SETTING} (content sha256:{digest}) has no PASS in this "
        f"service's audit table ({describe_verdict(record)}), so it is not served. Audit it and record the verdict: "
        "`equilearn model audit --file SET.json` (with the service's EQUILEARN_DATABASE_URL); or, for development "
        "only, serve it flagged as unaudited: EQUILEARN_ALLOW_UNAUDITED=true (`equilearn serve --allow-unaudited`)")


def load_served_model_set(name: str, alias: str, file: Path | None, require_passing_audit: bool,
                          settings: Any = None, *, verdict: Verdict | None = None,
                          allow_unaudited: bool = False) -> LoadedModelSet:
    """The model set to serve (module docstring). `verdict(content_sha256)` is the service's audit table;
    a set that may not be served raises `ConfigError` / `AuditGateError` (the runtime reports it in /readyz)."""
    if file is not None:
        return _file_set(file, require_passing_audit, verdict, allow_unaudited)
    registry = _registry()
    if registry is not None:
        try:
            if verdict is None:
                ms, warning = registry.load_model_set(name, alias=alias, settings=settings,
                                                      require_passing_audit=require_passing_audit)
            else:
                ms, warning = registry.load_model_set(name, alias=alias, settings=settings,
                                                      require_passing_audit=require_passing_audit, verdict=verdict,
                                                      allow_unaudited=allow_unaudited)
            record = None if verdict is None else verdict(content_sha256(dict(ms.components or {})))
            return LoadedModelSet(ms, REGISTRY, warning, record)
        except NotFoundError as exc:
            log.warning("no registered model set to serve (%s); using the built-in defaults", exc)
            reason = str(exc)
    else:
        reason = "engine.registry is not installed"
    builtin = LocalModelSet("builtin-defaults", "0", {}, None, None, NOT_AUDITED)
    record = None if verdict is None else verdict(builtin.content_sha256)  # a FAIL recorded for them blocks them too
    return LoadedModelSet(builtin, BUILTIN, f"serving built-in default parameters, not a trained model set ({reason})",
                          record)


def alias_target(name: str, alias: str, file: Path | None, settings: Any, previous: str | None) -> str | None:
    """The registry version `name@alias` points at now (None when none, or when a file is served): part of the
    signature a server process polls, so an alias moved in MLflow (by `model promote`, or in its UI) is seen
    within EQUILEARN_POLICY_CHECK_SECONDS. An unreachable registry keeps `previous` (no change seen)."""
    if file is not None:
        return None
    registry = _registry()
    if registry is None or not hasattr(registry, "alias_version"):
        return None
    try:
        return registry.alias_version(name, alias, settings)
    except Exception as exc:  # noqa: BLE001 - a registry outage must not unload what is served
        log.debug("cannot read %s@%s from the registry (%s)", name, alias, exc)
        return previous


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
    if progress is not None and progress.law is not None:
        engine.law = progress.law  # the tracked abilities follow the learning the log showed
    if progress is not None and progress.skill_readiness is not None:  # a step teaches as far as its prerequisites are in place
        engine.ready_learn = ready_learn_rates(engine.skill_model.learn_rates(), progress)
    if progress is not None and progress.cover_learning is not None:  # what a resource teaches the skills nobody answered
        engine.config = dataclasses.replace(engine.config, resource_learning=float(progress.cover_learning["share"]))
    measured = components.get("resource_effectiveness")  # what followed each resource the service served
    effectiveness = ResourceEffectiveness.from_dict(measured, catalog.resource_ids) if measured else None
    return engine, Recommender(engine, rconfig, effectiveness, progress=progress)
