"""`Runtime`: the service's operations over one database and one served policy (catalog + model set).

Thread-safe: the policy (catalog, mastery engine, recommender, model-set info) is an immutable snapshot
swapped whole on reload or catalog upload, so a request sees one consistent policy from start to end.
Writes go through the store's transactions; every ingest is one transaction (all or nothing).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from engine.catalog import Catalog
from engine.errors import ConfigError, DataError, DataValidationError, NotFoundError, Problem, UnavailableError
from engine.mastery import MasteryBatch, MasteryEngine, MasteryState
from engine.mastery.engine import SECONDS_PER_DAY
from engine.recommend import Recommender
from engine.recommend.constraints import TeacherConstraints
from engine.recommend.outcomes import measure_effectiveness
from engine.recommend.placement import needs_placement
from engine.runtime import catalogs
from engine.runtime.followups import FollowUps
from engine.runtime.modelset import (FAIL, INSUFFICIENT, LoadedModelSet, alias_target, build_policy, load_served_model_set,
                                     set_label)
from engine.runtime.states import batch_from_dicts, batch_to_dicts
from engine.runtime.settings import ServiceSettings, load_service_settings
from engine.runtime.xapi import statements_to_events
from engine.store import Event, IngestResult, Store
from engine.store import served as served_log
from engine.store.database import run_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """What is served right now; replaced as a whole, never mutated, except that its recommender's resource statistics
    learn from the answers that follow served lists (`follow_ups`, `Runtime.catch_up`)."""

    catalog: Catalog
    engine: MasteryEngine
    recommender: Recommender
    model: LoadedModelSet
    audit_status: str
    audit_id: int | None
    blocked: str | None  # why recommendations are refused (a FAILED audit with the gate on), or None
    follow_ups: FollowUps  # pairs the served lists since the set's build with the answers that follow them

    @property
    def prior(self) -> np.ndarray:
        return self.engine.skill_model.initial(1)[0]

    def model_set_info(self) -> dict[str, Any]:
        """Names the set (and the kind of its source), never a path: /readyz shows it without a key."""
        return {"name": self.model.name, "version": self.model.version, "source": self.model.source,
                "content": f"sha256:{self.model.content_sha256[:12]}",
                "audit_status": self.audit_status, "audit_id": self.audit_id, "warning": self.model.warning,
                "catalog": f"{self.catalog.name}/v{self.catalog.version}"}


@dataclass(frozen=True)
class MasteryTable:
    """Several students' mastery as arrays (rows: `student_ids`, columns: the catalog's skills): P(learned) now
    (after forgetting, as of each student's latest response), its SD, the mastered flag and the evidence count,
    the ability with its SD, and the batch itself (for the recommender and MTSS)."""

    student_ids: list[str]
    missing: list[str]  # asked for, but no events yet
    skill_ids: tuple[str, ...]
    p: np.ndarray
    sd: np.ndarray
    mastered: np.ndarray
    evidence: np.ndarray
    theta: np.ndarray
    theta_sd: np.ndarray
    now: np.ndarray  # (N,) days of each student's latest response (NaN: none timed)
    batch: MasteryBatch


def _days(ts: Any) -> float:
    return math.nan if ts is None else ts.timestamp() / SECONDS_PER_DAY


def _audit_dict(a: Any) -> dict[str, Any]:
    return {"id": a.id, "model_set_version": a.model_set_version, "status": a.status, "report": a.report,
            "created_at": a.created_at.isoformat(), "content_sha256": a.content_sha256, "data_sha256": a.data_sha256}


def _check_student_id(student_id: Any) -> None:
    if not isinstance(student_id, str) or not student_id or len(student_id) > 255 or "\x00" in student_id:
        raise DataError("student_id must be a non-empty string of at most 255 characters without NUL characters")


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


RECOUNT_LISTS = 50_000  # at most this many of the newest served lists are recounted at a load (`_follow_served_lists`)


class Runtime:
    """The application: open it once per process (`Runtime.open()`), share it between requests."""

    def __init__(self, settings: ServiceSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        # SQLite has one writer: queue this process's writers on a lock (immediate hand-off) rather than in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms and makes latency tails long.
        self._write_lock: Any = threading.Lock() if store.backend == "sqlite" else nullcontext()
        self._lock = threading.Lock()
        self._policy: Policy | None = None
        self._load_error: str | None = None
        self._seen: tuple[int, int, str | None] | None = None  # (generation, newest audit, registry alias target) at the load
        self._refused: str | None = None  # why the last reload failed while the previous policy stays served
        self._learn_lock = threading.Lock()  # one batch of outcomes at a time; held while the follower counts it too

    @classmethod
    def open(cls, settings: ServiceSettings | None = None) -> Runtime:
        """Connect, migrate the schema and load the served policy (a load failure is reported by /readyz)."""
        settings = settings or load_service_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        store = Store.open(settings.database_url, pool_size=8, max_overflow=24, key_cache_s=settings.key_cache_seconds)
        runtime = cls(settings, store)
        try:
            runtime._load()
        except Exception as exc:  # noqa: BLE001 - kept for /readyz; the process stays up to report it
            runtime._load_error = f"{exc.__class__.__name__}: {exc}"
            log.error("no policy loaded: %s", runtime._load_error)
        return runtime

    def close(self) -> None:
        self.store.close()

    # ---- policy -------------------------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        policy = self._policy
        if policy is None:
            raise UnavailableError(f"no model set is loaded ({self._load_error or 'not loaded yet'}); see /readyz")
        return policy

    def _build(self, catalog: Catalog | None = None) -> Policy:
        s = self.settings
        model = load_served_model_set(s.model_set, s.model_alias, s.model_set_file, s.require_passing_audit, s.base,
                                      verdict=self.store.content_verdict, allow_unaudited=s.allow_unaudited)
        components = dict(model.model_set.components or {})
        if catalog is not None:  # an upload: refused while the served set carries its own catalog
            catalogs.refuse_upload_over_set_catalog(components, set_label(model.name, model.version))
            own = False
        else:
            chosen = catalogs.choose_catalog(s.catalog_file, components)
            catalog, own = chosen.catalog, chosen.source == catalogs.MODEL_SET
        engine, recommender = build_policy(catalog, components, own_catalog=own)
        follow_ups = self._follow_served_lists(recommender, components)
        status, audit_id = model.audit_status, model.audit_id  # the newest audit of the set's content (the gate)
        blocked = None
        if status == FAIL and s.require_passing_audit:
            blocked = (f"model set {set_label(model.name, model.version)} failed its latest fairness audit (#{audit_id}); "
                       "recommendations are refused until an approved model set is loaded (POST /v1/models/reload)")
        elif status == INSUFFICIENT and s.require_passing_audit and not s.allow_unaudited:
            blocked = (f"model set {set_label(model.name, model.version)} (content sha256:{model.content_sha256[:12]}) has no PASS: its "
                       f"newest audit (#{audit_id}) is INSUFFICIENT_EVIDENCE; recommendations are refused until a PASS is "
                       "recorded for its content (`equilearn model audit` with more evidence, or an admin's override: "
                       "POST /v1/audits with status PASS and a reason)")
        return Policy(catalog, engine, recommender, model, status, audit_id, blocked, follow_ups)

    def _follow_served_lists(self, recommender: Recommender, components: Mapping[str, Any]) -> FollowUps:
        """Add to the recommender's resource statistics the outcomes of the lists served after the newest one its set
        counted (every list when it counted none; at most the newest RECOUNT_LISTS), recounted from the durable logs
        (`engine.runtime.followups`): what the service learned since the build survives a restart, and every process
        agrees at each load. The cap bounds a load's time (experiments/results/recount.md); a build counts every list.
        Returns the follower that goes on counting from there (`catch_up`)."""
        counted = (components.get("build") or {}).get("resource_effectiveness") or {}
        follow_ups, outcomes = FollowUps.start(self.store, int(counted.get("served_through_id") or 0), RECOUNT_LISTS)
        with self._learn_lock:
            self._observe(recommender, outcomes)
        return follow_ups

    @staticmethod
    def _observe(recommender: Recommender, outcomes: pl.DataFrame) -> None:
        """Add `outcomes` to the recommender's resource statistics; the caller holds `_learn_lock`."""
        if outcomes.height:
            measured = measure_effectiveness(recommender.catalog.resource_ids, outcomes).effectiveness
            recommender.effectiveness.count += measured.count
            recommender.effectiveness.total += measured.total

    def catch_up(self, now: datetime | None = None) -> int:
        """The served policy's resource statistics learn the outcomes of the lists and answers every process on this
        database appended since the last call, up to `SETTLE_SECONDS` before `now` (`engine.runtime.followups`), as the
        policy does in process; the service calls it after every policy check. Returns how many outcomes it counted."""
        policy = self._policy
        if policy is None:
            return 0
        with self._learn_lock:  # the follower's count and the statistics move together (`models` reads both under it)
            outcomes = policy.follow_ups.step(now)
            self._observe(policy.recommender, outcomes)
        return outcomes.height

    def _load(self, catalog: Catalog | None = None, keep: Callable[[], None] | None = None) -> Policy:
        """Build the policy and swap it in (after `keep()`, which persists what it was built from). The
        database's policy signature is read first, so a change another process makes meanwhile is seen
        as new at the next `refresh`."""
        with self._lock:
            seen = self._signature()
            policy = self._build(catalog)
            if keep is not None:
                keep()
            self._policy, self._load_error, self._seen, self._refused = policy, None, seen, None
        log.info("serving %s", policy.model_set_info())
        return policy

    def _signature(self) -> tuple[int, int, str | None]:
        """What a change of the served policy changes: (policy generation, newest audit id) in the database and the
        registry version the served alias points at (an alias moved in MLflow, by `model promote` or its UI)."""
        s, previous = self.settings, self._seen
        target = alias_target(s.model_set, s.model_alias, s.model_set_file, s.base, previous[2] if previous else None)
        return (*self.store.policy_signature(), target)

    def _announce(self) -> None:
        """Bump the policy generation so every other service process on this database loads it again."""
        generation = self.store.bump_policy_generation()
        with self._lock:
            if self._seen is not None and generation == self._seen[0] + 1:  # only our own bump since the load
                self._seen = (generation, *self._seen[1:])

    def reload(self) -> Policy:
        """Load the model set again (e.g. after the registry's alias moved) and serve it; every other
        service process on the same database does the same at its next `refresh`."""
        policy = self._load()
        self._announce()
        return policy

    def refresh(self) -> bool:
        """Load the policy again if another process changed it since this one loaded it: a reload, a
        catalog upload, or a new audit (which may block the model set). True if it loaded. The service
        calls it every EQUILEARN_POLICY_CHECK_SECONDS; a failed load leaves the current policy in place
        and is tried again at the next call."""
        if self._seen is not None and self._signature() == self._seen:
            return False
        try:
            self._load()
        except Exception as exc:  # the previous policy stays served; /readyz says why the new one was refused
            if self._policy is not None:
                self._refused = f"{exc.__class__.__name__}: {exc}"
            else:
                self._load_error = f"{exc.__class__.__name__}: {exc}"
            raise
        return True

    def put_catalog(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a catalog bundle, keep it under EQUILEARN_HOME and serve it (every process on this
        database at its next `refresh`); nothing changes if invalid."""
        catalog = catalogs.catalog_from_dict(dict(payload))
        self._load(catalog, keep=lambda: catalogs.save_uploaded(self.settings.catalog_file, dict(payload)))
        self._announce()
        return catalog.summary()

    # ---- events -------------------------------------------------------------------------------------
    def events_from_json(self, rows: Sequence[Mapping[str, Any]]) -> list[Event]:
        return [Event(r["event_id"], r["student_id"], r["item_id"], r["correct"], r.get("timestamp"), "json", None,
                      r.get("resource_id")) for r in rows]

    def events_from_xapi(self, statements: Sequence[Any]) -> list[Event]:
        catalog = self.policy.catalog
        known = set(catalog.item_ids)
        return statements_to_events(statements, known.__contains__, catalog._resource_index.__contains__)  # noqa: SLF001

    def ingest(self, batch: Sequence[Event]) -> IngestResult:
        """Validate, then store and fold the batch in one transaction (all or nothing)."""
        if not batch:
            raise DataValidationError([Problem(None, "events", None, "the batch is empty; send at least one event")],
                                      source="event batch")
        if len(batch) > self.settings.max_batch:
            raise DataValidationError([Problem(None, "events", len(batch), f"at most {self.settings.max_batch} events per batch; split it")],
                                      source="event batch")
        policy = self.policy
        known = policy.catalog._item_index  # noqa: SLF001 - dict lookup on the hot path
        unknown = [Problem(i, "item_id", e.item_id, f"unknown item {e.item_id!r}: not in catalog {policy.catalog.name!r}")
                   for i, e in enumerate(batch, start=1) if not isinstance(e.item_id, str) or e.item_id not in known]
        resources = policy.catalog._resource_index  # noqa: SLF001
        unknown += [Problem(i, "resource_id", e.resource_id,
                            f"unknown resource {e.resource_id!r}: not in catalog {policy.catalog.name!r}; name one of its "
                            "resources (GET /v1/catalog/resources) or leave resource_id out where the student used none")
                    for i, e in enumerate(batch, start=1)
                    if e.resource_id is not None and (not isinstance(e.resource_id, str) or e.resource_id not in resources)]
        if unknown:
            raise DataValidationError(unknown, source="event batch")
        apply = self._apply_fn(policy)
        with self._write_lock:
            return self.store.ingest(batch, apply)  # validates every field, then one transaction

    def _apply_fn(self, policy: Policy):  # noqa: ANN202
        engine, skill_ids = policy.engine, policy.catalog.skill_ids
        item_index = policy.catalog._item_index  # noqa: SLF001
        resource_index = policy.catalog._resource_index  # noqa: SLF001

        def apply(current: dict[str, dict | None], new: dict[str, list[Event]]) -> dict[str, dict]:
            students = list(new)
            batch = batch_from_dicts(students, [current.get(s) for s in students], skill_ids, engine.new_batch(students))
            sizes = np.array([len(new[s]) for s in students])
            flat = [e for s in students for e in new[s]]
            rows = np.repeat(np.arange(len(students)), sizes)
            pos = np.concatenate([np.arange(n) for n in sizes])
            items = np.array([item_index[e.item_id] for e in flat], dtype=np.int64)
            y = np.array([e.correct for e in flat], dtype=float)
            t = np.array([_days(e.timestamp) for e in flat], dtype=float)
            used = np.array([-1 if e.resource_id is None else resource_index[e.resource_id] for e in flat], dtype=np.int64)
            for k in range(int(sizes.max())):  # the k-th new event of every student at once, in batch order
                sel = pos == k
                engine.update_batch(batch, rows[sel], items[sel], y[sel], t[sel], used[sel])
            return dict(zip(students, batch_to_dicts(batch, skill_ids), strict=True))

        return apply

    # ---- students -----------------------------------------------------------------------------------
    def _state(self, student_id: str, policy: Policy) -> MasteryState:
        _check_student_id(student_id)
        stored = self.store.get_state(student_id)
        if stored is None:
            raise NotFoundError(f"unknown student {student_id!r}: no events were received for this student")
        return MasteryState.from_dict(stored.state, policy.catalog.skill_ids, policy.prior)

    def mastery(self, student_id: str) -> dict[str, Any]:
        """Per-skill P(learned) now (after forgetting, as of the student's latest response), its SD, mastered
        flag and evidence count, and the per-skill ability the flag also needs (its mean and SD, the predicted
        success on the skill's typical item, and P(that success >= the mastery level)); the IRT ability with its
        posterior SD."""
        policy = self.policy
        state = self._state(student_id, policy)
        batch = MasteryBatch.stack([state])
        now = state.last_time if math.isfinite(state.last_time) else None
        p = policy.engine.p_now(batch, now)[0]
        engine = policy.engine
        mastered = engine.claimed(batch, now)[0]  # answers only, the claim's forgetting (MasteryConfig.claim_stability_days)
        claim = engine.p_claim(batch, now)[0]
        theta, var = (x[0] for x in engine.skill_ability(batch))
        success, confirms = engine.skill_success(batch)[0], engine.ability_mastery(batch)[0]
        cat = policy.catalog
        skills = [{"skill_id": s, "name": cat.skill_names[i], "p_learned": float(p[i]),
                   "sd": float(math.sqrt(max(p[i] * (1 - p[i]), 0.0))), "mastered": bool(mastered[i]),
                   "evidence": int(state.evidence[i]), "last_practice_days": _clean(float(state.last_practice[i])),
                   "ability": {"theta": float(theta[i]), "sd": float(math.sqrt(var[i]))},
                   "typical_success": float(success[i]), "p_ability_mastered": float(confirms[i]),
                   "p_answered": float(claim[i]), "taught": bool(state.taught[i])}
                  for i, s in enumerate(cat.skill_ids)]
        return {"student_id": student_id, "n_responses": state.n_responses,
                "ability": {"theta": state.theta, "sd": state.theta_sd},
                "as_of_days": now, "mastery_threshold": policy.engine.config.mastery_threshold,
                "skills": skills, "model_set": policy.model_set_info(), "model_versions": policy.recommender.versions()}

    def compute_recommendations(self, student_id: str, k: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(response without `served_id`, served-log row): top-k explained recommendations; placement questions
        for a student with no events yet (no state is stored by this) or whose ability is still uncertain. The
        caller logs the row (`write_served`, through a group committer) before returning them; the two are
        separate so the computation never waits on a commit."""
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise ConfigError(f"k must be a whole number from 1 to 50, got {k!r}")
        policy = self.policy
        if policy.blocked:
            raise UnavailableError(policy.blocked)
        _check_student_id(student_id)
        stored, stored_constraints = self.store.get_state_and_constraints(student_id)
        # a student without events gets placement questions from a fresh state; nothing is stored for them here
        state = policy.engine.new_state(student_id) if stored is None else \
            MasteryState.from_dict(stored.state, policy.catalog.skill_ids, policy.prior)
        now = state.last_time if math.isfinite(state.last_time) else None
        one = MasteryBatch.stack([state])
        placement = bool(needs_placement(one)[0])
        constraints = self._teacher_constraints(policy, stored_constraints)
        recs = [r.to_dict() for r in policy.recommender.recommend(state, k, now=now, constraints=constraints)]
        info = policy.model_set_info()
        versions = {**policy.recommender.versions(), "model_set": f"{info['name']}/{info['version']}"}
        # the log keeps each item without the weights and versions every item repeats: once per row instead; with
        # the estimated mastery of its skill when served (exposure audits compare offers within mastery bands)
        p_skill = policy.engine.p_now(one, now)[0]
        skill_index = policy.catalog._skill_index  # noqa: SLF001 - dict lookup on the hot path
        logged = [{**{name: value for name, value in r.items() if name not in ("weights", "model_versions")},
                   "skill_mastery": float(p_skill[skill_index[r["skill_ids"][0]]]) if r["skill_ids"] else None}
                  for r in recs]
        weights = dict(recs[0]["weights"]) if recs else dict(policy.recommender.config.weights)  # placement: its own
        served = served_log.served_row(student_id, logged, model_set_version=versions["model_set"], model_versions=versions,
                                       audit_status=info["audit_status"], audit_id=policy.audit_id,
                                       context={"k": k, "now_days": now, "weights": weights, "placement": placement,
                                                "n_responses": state.n_responses,
                                                **({"constraints": constraints.to_dict()} if constraints else {})})
        return {"student_id": student_id, "recommendations": recs, "model_set": info, "model_versions": versions}, served

    def write_served(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """Append `compute_recommendations` log rows in one transaction; their records (ids), in order."""
        with self._write_lock:
            return run_write(self.store.engine, lambda conn: served_log.record_many(conn, rows))

    # ---- catalog, roster, audits, models --------------------------------------------------------------
    def catalog_table(self, name: str) -> list[dict[str, Any]]:
        """A table of the catalog as served: items carry the parameters the engine uses (a `models.irt` bank
        recalibrates them), not those of the bundle."""
        cat = self.policy.engine.catalog
        frame = {"skills": cat.skills, "items": cat.items, "resources": cat.resources}[name]
        return _clean(frame.to_dicts())

    def roster_upsert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return self.store.audit_scope_upsert_roster(rows)

    def roster_read(self) -> list[dict[str, Any]]:
        """Every student's attributes, each value with the JSON type it was sent with (not a table's common type)."""
        return self.store.audit_scope_roster_records()

    def create_audit(self, model_set_version: str | None, status: str, report: dict[str, Any], *,
                     reason: str | None = None, may_lift: bool = False, by: str | None = None,
                     content_sha256: str | None = None, data_sha256: str | None = None) -> dict[str, Any]:
        """Record an audit result (evidence for the deployment gate); this process's policy picks it up at
        once, other processes on the database at their next `refresh` (the newest audit id changed).

        A result equal to the version's newest audit (status and report) is a retry: nothing is recorded and
        that audit comes back with `duplicate` True. A PASS or INSUFFICIENT_EVIDENCE over a newest FAIL lifts
        the FAIL: only with `may_lift` (the service grants it to keys with the admin scope;
        `PermissionDeniedError` otherwise) and a `reason`, recorded with the audit (`Store.record_audit`).

        The audit is bound to `content_sha256`; for the served version it defaults to the served set's content
        hash (the gate serves content whose newest audit is a PASS)."""
        policy = self._policy
        served = None if policy is None else f"{policy.model.name}/{policy.model.version}"
        version = model_set_version or f"{self.policy.model.name}/{self.policy.model.version}"
        if content_sha256 is None and policy is not None and version == served:
            content_sha256 = policy.model.content_sha256
        audit, created = self.store.record_audit(version, status, report, may_lift=may_lift, reason=reason, by=by,
                                                 content_sha256=content_sha256, data_sha256=data_sha256)
        if created and (policy is None or version == served or content_sha256 == policy.model.content_sha256):
            try:  # the audit is recorded either way; a policy it makes unservable is reported by /readyz
                self._load()
            except Exception as exc:  # noqa: BLE001
                self._refused = f"{exc.__class__.__name__}: {exc}"
                if self._policy is None:
                    self._load_error = self._refused
                log.error("after audit #%s the model set could not be loaded again: %s", audit.id, exc)
        return {**_audit_dict(audit), "duplicate": not created}

    def get_audit(self, audit_id: int) -> dict[str, Any]:
        return _audit_dict(self.store.get_audit(audit_id))

    def models(self) -> dict[str, Any]:
        policy = self.policy
        with self._learn_lock:  # not between a catch-up's count and its statistics
            learning = {"outcomes": int(policy.recommender.effectiveness.count.sum()), **policy.follow_ups.summary()}
        return {"model_set": policy.model_set_info(), "model_versions": policy.recommender.versions(),
                "blocked": policy.blocked, "catalog": policy.catalog.summary(),
                "data_fingerprint": getattr(policy.model.model_set, "data_fingerprint", None),
                "code_version": getattr(policy.model.model_set, "code_version", None),
                "learning": learning}

    # ---- health -------------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): the database answers and a model set is loaded (and not blocked)."""
        details: dict[str, Any] = {}
        health = self.store.health()
        details["database"] = "ok" if health.ok else health.detail  # no backend name: /readyz needs no key
        policy = self._policy
        if policy is None:
            details["model_set"] = None
            details["error"] = self._without_paths(self._load_error or "not loaded")
        else:
            details["model_set"] = policy.model_set_info()
            details["blocked"] = policy.blocked
            if self._refused:  # a newer policy was refused; this one is still served
                details["refused"] = self._without_paths(self._refused)
        ready = details["database"] == "ok" and policy is not None and policy.blocked is None
        return ready, details

    def _without_paths(self, text: str) -> str:
        """/readyz needs no key: name the settings, never this machine's paths."""
        s = self.settings
        if s.model_set_file is not None:
            text = text.replace(str(s.model_set_file), "$EQUILEARN_MODEL_SET_FILE")
        return text.replace(str(s.home), "$EQUILEARN_HOME")

    # ---- for tests and tools --------------------------------------------------------------------------
    def replay_states(self) -> dict[str, dict[str, Any]]:
        """Every student's state recomputed from the stored log (the reference the online states must equal)."""
        policy = self.policy
        log_frame = self.store.events_frame()
        if log_frame.height == 0:
            return {}
        batch = policy.engine.replay(log_frame)
        return {s: batch.state(i).to_dict(policy.catalog.skill_ids) for i, s in enumerate(batch.student_ids)}

    def stored_states(self) -> dict[str, dict[str, Any]]:
        return {s: r.state for s, r in self.store.get_states(self.store.student_ids()).items()}

    # ---- classes, teacher constraints, many students at once (the pages) ------------------------------
    def mastery_many(self, student_ids: Sequence[str]) -> MasteryTable:
        """`mastery` for many students in one read and one vectorized computation; students without events
        are listed in `missing`."""
        policy = self.policy
        stored = self.store.get_states(student_ids)
        found = [s for s in student_ids if s in stored]
        cat = policy.catalog
        batch = batch_from_dicts(found, [stored[s].state for s in found], cat.skill_ids, policy.engine.new_batch(found))
        now = batch.last_time.copy()
        at = np.where(np.isfinite(now), now, np.nan)
        p = policy.engine.p_now(batch, at) if found else np.zeros((0, cat.n_skills))
        mastered = policy.engine.claimed(batch, at) if found else np.zeros((0, cat.n_skills), dtype=bool)
        return MasteryTable(found, [s for s in student_ids if s not in stored], cat.skill_ids, p, np.sqrt(np.clip(p * (1 - p), 0, None)),
                            mastered, batch.evidence.copy(), batch.theta.copy(), batch.theta_sd.copy(), now, batch)

    @staticmethod
    def _teacher_constraints(policy: Policy, stored: Mapping[str, Any] | None) -> TeacherConstraints | None:
        """The stored constraints as the recommender takes them; ids the served catalog no longer has are left out
        (a catalog may change after a teacher pinned something), so they never turn a request into an error."""
        if not stored:
            return None
        cat = policy.catalog
        kept = {"assigned_skills": [s for s in stored.get("assigned_skills", []) if s in cat._skill_index],  # noqa: SLF001
                "pinned_resources": [r for r in stored.get("pinned_resources", []) if r in cat._resource_index],  # noqa: SLF001
                "blocked_resources": [r for r in stored.get("blocked_resources", []) if r in cat._resource_index]}  # noqa: SLF001
        blocked = set(policy.recommender.config.blocked_resources)
        kept["pinned_resources"] = [r for r in kept["pinned_resources"] if r not in blocked]
        return TeacherConstraints.from_dict(kept) if any(kept.values()) else None

    def teacher_constraints(self, student_id: str) -> dict[str, list[str]]:
        """A student's stored teacher constraints (every field, empty when none)."""
        _check_student_id(student_id)
        stored = self.store.get_teacher_constraints(student_id) or {}
        return {name: list(stored.get(name, [])) for name in ("assigned_skills", "pinned_resources", "blocked_resources")}

    def update_teacher_constraints(self, student_id: str, change: Callable[[dict[str, list[str]]], Mapping[str, Any]],
                                   by: str | None = None) -> dict[str, list[str]]:
        """Change a student's teacher constraints (read-modify-write in one transaction); ids are checked against
        the served catalog (`NotFoundError` naming an unknown one, `ConfigError` for a pin the recommender's
        settings block). The recommendations API applies them from the next request on."""
        _check_student_id(student_id)
        policy = self.policy
        cat = policy.catalog

        def checked(current: dict[str, list[str]]) -> Mapping[str, Any]:
            new = dict(change(current))
            cat.skill_indices(list(new.get("assigned_skills", [])))
            cat.resource_indices(list(new.get("pinned_resources", [])))
            cat.resource_indices(list(new.get("blocked_resources", [])))
            refused = sorted(set(new.get("pinned_resources", [])) & set(policy.recommender.config.blocked_resources))
            if refused:
                raise ConfigError(f"resource(s) {', '.join(refused)} are blocked for everyone by the served model set; they cannot be pinned")
            return new

        with self._write_lock:
            return self.store.update_teacher_constraints(student_id, checked, by)

    def upsert_classes(self, classes: Sequence[Mapping[str, Any]], enrolments: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Create or retitle classes and replace their enrolments (OneRoster's model; `engine.store.classes`)."""
        with self._write_lock:
            return self.store.upsert_classes(classes, enrolments)

    def list_classes(self) -> list[dict[str, Any]]:
        classes = self.store.list_classes()
        members = self.store.class_students([c["class_id"] for c in classes])
        return [{**c, "student_ids": members.get(c["class_id"], [])} for c in classes]
