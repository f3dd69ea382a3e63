"""Register, alias, audit, promote and load model sets in the MLflow model registry.

Audit rules (the fairness gate decides, the registry enforces):
- `record_audit` stores an audit result (the JSON of `equilearn audit ...`, which carries `status`
  PASS / FAIL / INSUFFICIENT_EVIDENCE and `audit`, its kind) on a model version. A version may get audits
  of several kinds (model, recommendations, ...); its audit status is the worst of the *latest* audit of
  each kind (FAIL > INSUFFICIENT_EVIDENCE > PASS), so a later PASS of one kind cannot hide a FAIL of another.
- `promote` gives a version an alias only when its audit status is PASS. A version with no audit is
  refused too (decision: a model that was never audited has not shown it is fair enough to serve; the
  burden of proof is on the model, as in the gate's default policy), and so is INSUFFICIENT_EVIDENCE.
- `load_model_set(alias)` serves the aliased version unless its audit status is FAIL (e.g. re-audited
  after promotion); then it falls back to the version that held the alias before (most recent first),
  else the newest lower version, whose audit PASSED, and returns a warning. No such version: AuditGateError.
  A missing or insufficient audit on the aliased version (possible only through `set_alias`, which does
  not check) is served with a warning.

The service does not trust MLflow's tags (anyone with the MLflow UI can edit them, or move an alias): it
passes `verdict`, its own audit table keyed by the sha256 of a set's content (`ModelSet.content_sha256`).
With a verdict, `load_model_set` serves the aliased version only when the newest audit of its content is a
PASS; otherwise (an alias set in the UI on an unaudited version, a content re-audited to FAIL) it serves
the version promoted before it whose content passed (`alias_set_at.<alias>` tags, newest first; then lower
versions), with a warning saying why, and raises `AuditGateError` when there is none. Tags can at most
choose among versions whose content the service itself approved. `promote(..., verdict=...)` checks the
same table, so the CLI refuses what the service would refuse.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from engine.config import Settings
from engine.errors import AuditGateError, ConfigError, NotFoundError
from engine.registry.model_set import ModelSet, check_components
from engine.registry.store import AUDITS_EXPERIMENT, MODEL_SETS_EXPERIMENT, code_version, connect, experiment_id

log = logging.getLogger(__name__)

PASS, FAIL, INSUFFICIENT = "PASS", "FAIL", "INSUFFICIENT_EVIDENCE"
SEVERITY = {PASS: 0, INSUFFICIENT: 1, FAIL: 2}
TAG_STATUS = "audit_status"
TAG_KIND_PREFIX = "audit_status."
TAG_ALIAS_PREFIX = "alias_set_at."
MAX_PARAM_CHARS = 6000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as MLflow params: dotted keys, JSON text values cut to MLflow's length limit."""
    out: dict[str, str] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_params(value, full + "."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[full] = text[:MAX_PARAM_CHARS]
    return out


def _not_found(exc: Exception) -> bool:
    return "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or "not found" in str(exc).lower()


def _version(client: Any, name: str, version: str | int) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            raise NotFoundError(f"model set {name!r} has no version {version} (see `equilearn model list`)") from None
        raise


def _load(client: Any, mv: Any) -> ModelSet:
    import mlflow

    payload = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/model_set.json")
    return ModelSet.from_dict({**payload, "name": mv.name, "version": str(mv.version), "audit_status": mv.tags.get(TAG_STATUS)})


def get_model_set(name: str, version: str | int, settings: Settings | None = None) -> ModelSet:
    """Version `version` of model set `name` (its components, as registered)."""
    client, _ = connect(settings)
    return _load(client, _version(client, name, version))


def alias_version(name: str, alias: str, settings: Settings | None = None) -> str | None:
    """The version `name@alias` points at now, or None (no such model set or alias). Cheap: one lookup, for the
    service's periodic policy check."""
    from mlflow.exceptions import MlflowException

    client, _ = connect(settings)
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise


def register_model_set(name: str, components: dict[str, dict[str, Any]], data_fingerprint: str,
                       settings: Settings | None = None, params: dict[str, Any] | None = None) -> ModelSet:
    """Log a model set (JSON components) as a new version of registered model `name`; returns it with its version."""
    import mlflow

    from engine.registry.pyfunc import log_pyfunc

    if not name or not name.strip():
        raise ConfigError("model set name is empty")
    components = check_components(components)
    client, settings = connect(settings)
    code = code_version()
    payload = ModelSet(name, "", components, data_fingerprint, code).to_dict()
    del payload["version"], payload["audit_status"]
    with mlflow.start_run(experiment_id=experiment_id(MODEL_SETS_EXPERIMENT, settings), run_name=f"register-{name}") as run:
        mlflow.set_tags({"model_set": name, "data_fingerprint": data_fingerprint, "code_version": code,
                         "components": ",".join(sorted(components))})
        if params:
            mlflow.log_params(_flat_params(params))
        mlflow.log_dict(payload, "model_set.json")
        info = log_pyfunc("model_set", "model_set.py", "model_set", payload, registered_model_name=name)
        version = str(info.registered_model_version)
    for key, value in (("data_fingerprint", data_fingerprint), ("code_version", code), ("run_id", run.info.run_id)):
        client.set_model_version_tag(name, version, key, value)
    log.info("registered model set %s version %s (run %s)", name, version, run.info.run_id)
    return ModelSet(name, version, components, data_fingerprint, code, None)


def set_alias(name: str, version: str | int, alias: str, settings: Settings | None = None) -> None:
    """Point `alias` at `version` without any audit check (use `promote` for serving aliases)."""
    client, _ = connect(settings)
    _version(client, name, version)
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), TAG_ALIAS_PREFIX + alias, _now())


def record_audit(name: str, version: str | int, audit: dict[str, Any], settings: Settings | None = None) -> str:
    """Store an audit result on a model version and log it to MLflow; returns the audit run id.

    `audit["status"]` must be PASS, FAIL or INSUFFICIENT_EVIDENCE; `audit["audit"]` names its kind
    (default "audit"). The JSON is logged as `audit.json` of a run in experiment `equilearn-audits`
    tagged with the model version, and as `audits/<kind>-<time>.json` of the version's own run.
    """
    import mlflow

    from engine.fairness.tracking import json_safe

    status = audit.get("status")
    if status not in SEVERITY:
        raise ConfigError(f"audit key 'status' must be one of {', '.join(SEVERITY)}, got {status!r}")
    kind = str(audit.get("audit") or "audit")
    client, settings = connect(settings)
    mv = _version(client, name, version)
    audit = json_safe(audit)
    stamp = _now()
    with mlflow.start_run(experiment_id=experiment_id(AUDITS_EXPERIMENT, settings), run_name=f"audit-{kind}-{name}-v{mv.version}") as run:
        mlflow.set_tags({"audit": kind, "status": status, "registered_model": name, "model_version": str(mv.version),
                         "model_set_run_id": mv.run_id})
        mlflow.log_metric("status_code", SEVERITY[status])
        mlflow.log_dict(audit, "audit.json")
    client.log_dict(mv.run_id, audit, f"audits/{kind}-{stamp.replace(':', '')}.json")
    tags = {**dict(mv.tags), TAG_KIND_PREFIX + kind: status}
    overall = max((v for k, v in tags.items() if k.startswith(TAG_KIND_PREFIX)), key=SEVERITY.__getitem__)
    tags_now = [(TAG_KIND_PREFIX + kind, status), (TAG_STATUS, overall), ("audit_run_id", run.info.run_id), ("audit_at", stamp)]
    if isinstance(audit.get("content_sha256"), str):  # for reading in the UI; the service's own table is the evidence
        tags_now.append(("audit_content_sha256", audit["content_sha256"]))
    for key, value in tags_now:
        client.set_model_version_tag(name, str(mv.version), key, value)
    return run.info.run_id


def promote(name: str, version: str | int, alias: str = "champion", settings: Settings | None = None,
            verdict: Callable[[str], Any] | None = None) -> ModelSet:
    """Give `version` the alias only if its audit status is PASS (see module docstring); else AuditGateError.
    With `verdict` (the service's audit table by content hash) that table decides, not the MLflow tags."""
    client, settings = connect(settings)
    mv = _version(client, name, version)
    if verdict is not None:
        ms = _load(client, mv)
        record = verdict(ms.content_sha256)
        if record is None or record.status != PASS:
            what = "no audit" if record is None else f"audit #{record.id}: {record.status}"
            raise AuditGateError(
                f"refusing to promote model set {name!r} version {mv.version} to {alias!r}: its content "
                f"(sha256:{ms.content_sha256[:12]}) has no PASS in the service's audit table ({what}). Run "
                f"`equilearn model audit {name} {mv.version}` (it records the verdict, bound to the content); only a "
                "PASS can be promoted")
        set_alias(name, mv.version, alias, settings)
        return _load(client, client.get_model_version(name, str(mv.version)))
    status = mv.tags.get(TAG_STATUS)
    if status != PASS:
        reason = "has no recorded fairness audit" if status is None else f"has audit status {status}"
        raise AuditGateError(
            f"refusing to promote model set {name!r} version {mv.version} to {alias!r}: it {reason}. "
            f"Run the audit and record it (`equilearn model promote {name} {mv.version} --audit AUDIT.json`); "
            "only a PASS can be promoted")
    set_alias(name, mv.version, alias, settings)
    return _load(client, client.get_model_version(name, str(mv.version)))


def load_model_set(name: str, alias: str = "champion", settings: Settings | None = None,
                   require_passing_audit: bool = True, verdict: Callable[[str], Any] | None = None,
                   allow_unaudited: bool = False) -> tuple[ModelSet, str | None]:
    """The model set `name@alias` and a warning (None when all is well); see the module docstring.
    `verdict(content_sha256)`: the service's own audit table (newest audit of that content, or None), which
    then decides instead of the tags; `allow_unaudited` (development) serves a version without a PASS (but
    not one whose content FAILED) with a warning instead of falling back."""
    from mlflow.exceptions import MlflowException

    client, _ = connect(settings)
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _not_found(exc):
            raise NotFoundError(f"no model set {name!r} with alias {alias!r} in the registry "
                                f"(register one, then `equilearn model promote {name} VERSION --alias {alias}`)") from None
        raise
    if verdict is not None:
        return _load_gated(client, mv, alias, verdict, require_passing_audit, allow_unaudited)
    status = mv.tags.get(TAG_STATUS)
    if status == PASS:
        return _load(client, mv), None
    if status != FAIL or not require_passing_audit:
        what = "no recorded fairness audit" if status is None else f"audit status {status}"
        return _load(client, mv), f"model set {name!r} version {mv.version} ({alias}) has {what}"
    fallback = _fallback(client, name, alias, int(mv.version))
    if fallback is None:
        raise AuditGateError(f"model set {name!r} version {mv.version} ({alias}) FAILED its fairness audit and no "
                             "earlier version passed one; nothing can be served (promote a version whose audit passed)")
    warning = (f"model set {name!r} version {mv.version} ({alias}) FAILED its latest fairness audit; "
               f"serving version {fallback.version}, the last version whose audit passed")
    log.warning(warning)
    return _load(client, fallback), warning


MAX_FALLBACK_CANDIDATES = 20  # versions whose content is loaded and checked before giving up


def _load_gated(client: Any, mv: Any, alias: str, verdict: Callable[[str], Any], require_passing_audit: bool,
                allow_unaudited: bool) -> tuple[ModelSet, str | None]:
    """`load_model_set` with the service's audit table as the judge (module docstring)."""
    name = mv.name
    ms = _load(client, mv)
    record = verdict(ms.content_sha256)
    status = None if record is None else record.status
    if status == PASS:
        return ms, None
    what = "no audit" if record is None else f"audit #{record.id}: {status}"
    if not require_passing_audit or (allow_unaudited and status != FAIL):
        why = "EQUILEARN_REQUIRE_PASSING_AUDIT=false" if not require_passing_audit else "EQUILEARN_ALLOW_UNAUDITED=true"
        return ms, (f"unaudited model set, development only: model set {name!r} version {mv.version} ({alias}, content "
                    f"sha256:{ms.content_sha256[:12]}) has no PASS in this service's audit table ({what}); served only "
                    f"because {why}")
    unaudited = "; an alias set in MLflow is not an approval" if record is None else ""
    refused = (f"model set {name!r} version {mv.version} ({alias}) is not served: its content "
               f"(sha256:{ms.content_sha256[:12]}) has no PASS in this service's audit table ({what}){unaudited}. "
               f"Audit it: `equilearn model audit {name} {mv.version}`")
    fallback = _gated_fallback(client, name, alias, int(mv.version), verdict)
    if fallback is None:
        raise AuditGateError(refused + "; and no version promoted before it passed, so nothing can be served")
    warning = f"{refused}. Serving version {fallback.version}, the last version promoted to {alias!r} whose content passed"
    log.warning(warning)
    return fallback, warning


def _gated_fallback(client: Any, name: str, alias: str, refused: int, verdict: Callable[[str], Any]) -> ModelSet | None:
    """The newest version that held `alias` before (then the newest lower version) whose content has a PASS."""
    versions = [v for v in client.search_model_versions(f"name = '{name}'") if int(v.version) != refused]
    held = sorted((v for v in versions if TAG_ALIAS_PREFIX + alias in v.tags),
                  key=lambda v: v.tags[TAG_ALIAS_PREFIX + alias], reverse=True)
    seen = {int(v.version) for v in held}
    lower = sorted((v for v in versions if int(v.version) < refused and int(v.version) not in seen), key=lambda v: -int(v.version))
    for mv in (held + lower)[:MAX_FALLBACK_CANDIDATES]:
        try:
            ms = _load(client, mv)
        except Exception as exc:  # noqa: BLE001 - an unreadable old version is skipped, not fatal
            log.warning("skipping model set %s version %s as a fallback: %s", name, mv.version, exc)
            continue
        record = verdict(ms.content_sha256)
        if record is not None and record.status == PASS:
            return ms
    return None


def _fallback(client: Any, name: str, alias: str, failed: int) -> Any | None:
    """The version that last held `alias` before and passed its audit; else the newest lower passing version."""
    passing = [v for v in client.search_model_versions(f"name = '{name}'") if v.tags.get(TAG_STATUS) == PASS
               and int(v.version) != failed]
    held = sorted((v for v in passing if TAG_ALIAS_PREFIX + alias in v.tags), key=lambda v: v.tags[TAG_ALIAS_PREFIX + alias])
    if held:
        return held[-1]
    lower = sorted((v for v in passing if int(v.version) < failed), key=lambda v: int(v.version))
    return lower[-1] if lower else None


def list_model_sets(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every registered model version: name, version, aliases, audit status, data fingerprint, code version."""
    client, _ = connect(settings)
    rows = []
    for rm in client.search_registered_models():
        aliases: dict[str, list[str]] = {}
        for alias, ver in (rm.aliases or {}).items():
            aliases.setdefault(str(ver), []).append(alias)
        for mv in client.search_model_versions(f"name = '{rm.name}'"):
            rows.append({"name": rm.name, "version": str(mv.version), "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                         "audit_status": mv.tags.get(TAG_STATUS), "data_fingerprint": mv.tags.get("data_fingerprint"),
                         "code_version": mv.tags.get("code_version")})
    return sorted(rows, key=lambda r: (r["name"], int(r["version"])))
