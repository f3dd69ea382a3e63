"""What the teacher pages show, behind their walls.

A teacher signs in with a `teach` key bound to classes. Every function here takes the signed-in `Viewer`
and refuses (`PermissionDeniedError`) a class the key is not bound to, or a student enrolled in none of its
classes; the answer is the same whether the student exists or not. Nothing here reads the roster: a teacher
never sees a demographic attribute.

- `class_view`: the students x skills heatmap of mastery (P(learned) now, with how much evidence stands
  behind it), who is stalled and needs tier 2/3 support (`engine.recommend.interventions`: the MTSS flags and
  an allocation over the whole school within each intervention's weekly capacity), and who is ready for
  advanced work (the recommender's own readiness) but was not offered any in the served log's last weeks.
- `student_view`: mastery over time (the student's event log replayed through the served mastery engine),
  the next recommendations with their reasons (a preview: nothing is logged as served), and the teacher
  constraints in force.
- `change_constraints`: the teacher actions (assign skills, pin or block resources), stored per student and
  applied by the recommendations API from its next request on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from engine.catalog.schema import ADVANCED
from engine.errors import ConfigError, DataError, PermissionDeniedError, UnavailableError
from engine.mastery.engine import SECONDS_PER_DAY
from engine.recommend.interventions import MTSSConfig, allocate, flag_students
from engine.runtime import pagecache
from engine.runtime.runtime import Runtime

OFFER_WINDOW_DAYS = 28  # "not offered advanced work" looks this far back in the served log
FEW_ANSWERS = 3
MTSS_STALE_S = 600.0  # the school-wide allocation may be this old while a new one is computed in the background  # fewer answers on a skill than this: the estimate leans on the prior and related skills


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: the key's id and name, its scopes and (teach keys) its classes."""

    key_id: str
    name: str
    scopes: frozenset[str]
    classes: tuple[str, ...] = ()
    expires_at: datetime | None = field(default=None, compare=False)

    @property
    def teaches(self) -> bool:
        return "teach" in self.scopes

    @property
    def audits(self) -> bool:
        return "audit" in self.scopes

    @property
    def label(self) -> str:
        return self.name or f"key {self.key_id}"


NOT_YOURS = "you can open only the classes your key is bound to, and only their students"


def require_teacher(viewer: Viewer) -> None:
    if not viewer.teaches:
        raise PermissionDeniedError("the class pages are for teachers: sign in with a key holding the teach scope")


def require_class(viewer: Viewer, class_id: str) -> None:
    require_teacher(viewer)
    if class_id not in viewer.classes:
        raise PermissionDeniedError(NOT_YOURS)


def require_student(runtime: Runtime, viewer: Viewer, student_id: str) -> list[str]:
    """The viewer's classes the student is enrolled in (non-empty), else `PermissionDeniedError`."""
    require_teacher(viewer)
    if not isinstance(student_id, str) or not student_id or len(student_id) > 255 or "\x00" in student_id:
        raise PermissionDeniedError(NOT_YOURS)
    shared = [c for c in runtime.store.student_classes(student_id) if c in viewer.classes]
    if not shared:
        raise PermissionDeniedError(NOT_YOURS)
    return shared


def to_datetime(days: float | None) -> datetime | None:
    if days is None or not math.isfinite(days):
        return None
    return datetime.fromtimestamp(days * SECONDS_PER_DAY, tz=timezone.utc)


def my_classes(runtime: Runtime, viewer: Viewer) -> list[dict[str, Any]]:
    """The viewer's classes with their titles and sizes; a bound class not uploaded yet is listed as such."""
    require_teacher(viewer)
    found = {c["class_id"]: c for c in runtime.store.list_classes(viewer.classes)}
    return [found.get(c, {"class_id": c, "title": c, "students": 0, "not_uploaded": True}) for c in viewer.classes]


def _skill_columns(runtime: Runtime) -> list[dict[str, Any]]:
    cat = runtime.policy.catalog
    return [{"skill_id": s, "name": cat.skill_names[i], "short": _short(cat.skill_names[i])} for i, s in enumerate(cat.skill_ids)]


def _short(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    if len(words) == 1:
        return words[0][:4]
    return "".join(w[0].upper() for w in words[:4])


def _cell(p: float, sd: float, evidence: int, mastered: bool) -> dict[str, Any]:
    band = 5 if mastered else min(4, int(p * 5))
    return {"p": p, "pct": int(round(100 * p)), "sd": sd, "evidence": evidence, "mastered": mastered, "band": band,
            "estimated": evidence == 0, "uncertain": 0 < evidence < FEW_ANSWERS}


# ---- the whole school's MTSS (capacity is the school's, so allocation looks at every student) ----------
def _school_mtss(runtime: Runtime) -> dict[str, Any]:
    policy = runtime.policy
    students = runtime.store.student_ids()
    table = runtime.mastery_many(students)
    flags = flag_students(policy.engine, table.batch, table.now, MTSSConfig()) if students else []
    interventions = policy.catalog.interventions
    result = allocate(flags, interventions)
    capacity = {r["intervention_id"]: r for r in interventions.iter_rows(named=True)}
    return {"flags": {f.student_id: f for f in flags},
            "assigned": {a.student_id: a for a in result.assignments},
            "waitlist": {f.student_id for f in result.waitlist},
            "interventions": [{"intervention_id": iid, "title": row.get("title") or iid, "kind": row["kind"],
                               "tier": int(row["tier"]), "capacity": int(row["capacity_per_week"]),
                               "remaining": int(result.remaining_capacity.get(iid, 0))} for iid, row in capacity.items()],
            "n_students": len(students), "n_flagged": len(flags)}


def school_mtss(runtime: Runtime) -> dict[str, Any]:
    """MTSS flags of every student with a state and the allocation of the catalog's interventions under their
    weekly capacity (most severe first). Recomputed when the school's data or the served policy changed: in the
    background while pages keep showing the last allocation, for up to ten minutes (`engine.runtime.pagecache`)."""
    return pagecache.cached(runtime, "school_mtss", lambda: _school_mtss(runtime), max_stale_s=MTSS_STALE_S)


def warm(runtime: Runtime) -> None:
    """Start the school-wide MTSS allocation in the background (at a teacher's sign-in)."""
    pagecache.warm(runtime, "school_mtss", lambda: _school_mtss(runtime))


def class_view(runtime: Runtime, viewer: Viewer, class_id: str) -> dict[str, Any]:
    """Everything the class page shows (see the module docstring)."""
    require_class(viewer, class_id)
    policy = runtime.policy
    cat = policy.catalog
    found = runtime.store.list_classes([class_id])
    title = found[0]["title"] if found else class_id
    student_ids = runtime.store.class_students([class_id]).get(class_id, [])
    table = runtime.mastery_many(student_ids)
    rows = []
    for i, sid in enumerate(table.student_ids):
        cells = [_cell(float(table.p[i, j]), float(table.sd[i, j]), int(table.evidence[i, j]), bool(table.mastered[i, j]))
                 for j in range(cat.n_skills)]
        rows.append({"student_id": sid, "cells": cells, "mastered": int(table.mastered[i].sum()),
                     "n_responses": int(table.batch.n_responses[i]), "theta": float(table.theta[i]),
                     "theta_sd": float(table.theta_sd[i]), "last_active": to_datetime(float(table.now[i]))})
    # MTSS: this class's part of the school-wide flags and allocation
    mtss = school_mtss(runtime)
    members = set(table.student_ids)
    support = []
    for sid in sorted(members & set(mtss["flags"]), key=lambda s: (-mtss["flags"][s].severity, s)):
        flag = mtss["flags"][sid]
        given = mtss["assigned"].get(sid)
        support.append({"student_id": sid, "tier": flag.recommended_tier, "reason": flag.reason, "stalled": flag.stalled,
                        "responses_since_progress": flag.responses_since_progress,
                        "missing": [cat.skill_names[cat.skill_index(s)] for s in flag.missing_prerequisites],
                        "intervention": None if given is None else _intervention_title(cat, given.intervention_id),
                        "waitlisted": sid in mtss["waitlist"]})
    advanced = ready_not_offered(runtime, table)
    return {"class_id": class_id, "title": title, "skills": _skill_columns(runtime), "rows": rows,
            "missing": table.missing, "support": support, "interventions": mtss["interventions"],
            "school_students": mtss["n_students"], "school_flagged": mtss["n_flagged"], "advanced": advanced,
            "offer_window_days": OFFER_WINDOW_DAYS, "mastery_threshold": policy.engine.config.mastery_threshold,
            "few_answers": FEW_ANSWERS}


def _intervention_title(cat: Any, intervention_id: str) -> str:
    rows = cat.interventions.filter(cat.interventions["intervention_id"] == intervention_id)
    return (rows["title"][0] if rows.height and "title" in rows.columns and rows["title"][0] else intervention_id)


def ready_not_offered(runtime: Runtime, table: Any) -> list[dict[str, Any]]:
    """Students ready for advanced work now (the recommender's own readiness: the resource's skill at its
    advanced threshold, what the project builds on in place) who were offered no advanced resource in the
    served log of the last OFFER_WINDOW_DAYS days (placement questions aside)."""
    if not table.student_ids:
        return []
    policy = runtime.policy
    cat = policy.catalog
    choice = policy.recommender.choose_batch(table.batch, 1, now=table.now, rng=np.random.default_rng(0))
    ready = choice.advanced_ready & (cat.resource_level == ADVANCED)[None, :]
    start = datetime.now(timezone.utc) - timedelta(days=OFFER_WINDOW_DAYS)
    offered: dict[str, datetime] = {}
    ready_ids = [sid for i, sid in enumerate(table.student_ids) if ready[i].any()]
    for o in runtime.store.served_offers(ready_ids, start) if ready_ids else []:  # only the ready students' lists
        if o["level"] == "advanced" and not o["placement"]:
            offered[o["student_id"]] = o["served_at"]
    titles = cat.resources["title"].to_list() if "title" in cat.resources.columns else list(cat.resource_ids)
    out = []
    for i, sid in enumerate(table.student_ids):
        which = np.flatnonzero(ready[i])
        if which.size and sid not in offered:
            out.append({"student_id": sid, "ready_for": [{"resource_id": cat.resource_ids[r], "title": titles[r] or cat.resource_ids[r]}
                                                        for r in which[:4].tolist()],
                        "more": max(0, int(which.size) - 4)})
    return out


# ---- one student ----------------------------------------------------------------------------------------
def mastery_history(runtime: Runtime, student_id: str) -> dict[str, Any]:
    """The student's event log replayed through the served mastery engine: P(learned) of every skill after
    each day with responses (as of that day's last response, after forgetting), the days, and how many skills
    were flagged mastered then."""
    policy = runtime.policy
    engine, cat = policy.engine, policy.catalog
    log = runtime.store.student_log(student_id)
    batch = engine.new_batch([student_id])
    days: list[float] = []
    snapshots: list[np.ndarray] = []
    mastered_counts: list[int] = []
    answers = np.zeros(cat.n_skills, dtype=np.int64)
    item_index, resource_index = cat._item_index, cat._resource_index  # noqa: SLF001
    for k, entry in enumerate(log):
        e = entry.event
        t = e.timestamp.timestamp() / SECONDS_PER_DAY if e.timestamp is not None else math.nan
        if e.item_id not in item_index:
            continue  # an item the served catalog no longer has: the stored state skipped it too
        item = item_index[e.item_id]
        used = resource_index.get(e.resource_id, -1) if e.resource_id is not None else -1  # as the service folded it
        engine.update_batch(batch, np.array([0]), np.array([item]), np.array([e.correct]), np.array([t]), np.array([used]))
        answers += cat.item_skills[item].astype(np.int64)
        nxt = log[k + 1].event if k + 1 < len(log) else None
        same_day = (nxt is not None and nxt.timestamp is not None and e.timestamp is not None
                    and nxt.timestamp.date() == e.timestamp.date())
        if same_day:
            continue
        now = batch.last_time.copy()
        p = engine.p_now(batch, now)
        days.append(float(now[0]) if math.isfinite(now[0]) else float(len(days)))
        snapshots.append(p[0].copy())
        mastered_counts.append(int(engine.claimed(batch, now)[0].sum()))
    series = np.array(snapshots) if snapshots else np.zeros((0, cat.n_skills))
    return {"days": days, "dates": [to_datetime(d) for d in days], "p": series, "mastered": mastered_counts,
            "answers": answers, "timed": bool(log) and all(entry.event.timestamp is not None for entry in log)}


def _resource_options(runtime: Runtime) -> list[dict[str, Any]]:
    cat = runtime.policy.catalog
    res = cat.resources
    titles = res["title"].to_list() if "title" in res.columns else [None] * res.height
    groups: dict[str, list[dict[str, Any]]] = {}
    for rid, title, skills, level in zip(cat.resource_ids, titles, res["skill_ids"].to_list(), res["level"].to_list(), strict=True):
        groups.setdefault(skills[0], []).append({"resource_id": rid, "title": title or rid, "level": level})
    return [{"skill_id": s, "name": cat.skill_names[cat.skill_index(s)], "resources": groups.get(s, [])} for s in cat.skill_ids]


def student_view(runtime: Runtime, viewer: Viewer, student_id: str, k: int = 5) -> dict[str, Any]:
    """Everything the student page shows (see the module docstring)."""
    classes = require_student(runtime, viewer, student_id)
    policy = runtime.policy
    cat = policy.catalog
    table = runtime.mastery_many([student_id])
    history = mastery_history(runtime, student_id)
    skills_now = []
    if table.student_ids:
        for j, s in enumerate(cat.skill_ids):
            skills_now.append({"skill_id": s, "name": cat.skill_names[j],
                               **_cell(float(table.p[0, j]), float(table.sd[0, j]), int(table.evidence[0, j]),
                                       bool(table.mastered[0, j]))})
    recs, blocked = [], None
    try:
        response, _ = runtime.compute_recommendations(student_id, k)  # a preview: not written to the served log
        recs = response["recommendations"]
    except UnavailableError as exc:
        blocked = str(exc)
    constraints = runtime.teacher_constraints(student_id)
    titles = dict(zip(cat.resource_ids, cat.resources["title"].to_list() if "title" in cat.resources.columns else cat.resource_ids))
    named = {"assigned_skills": [{"id": s, "name": cat.skill_names[cat.skill_index(s)] if s in cat._skill_index else s}  # noqa: SLF001
                                 for s in constraints["assigned_skills"]],
             "pinned_resources": [{"id": r, "name": titles.get(r) or r} for r in constraints["pinned_resources"]],
             "blocked_resources": [{"id": r, "name": titles.get(r) or r} for r in constraints["blocked_resources"]]}
    skill_names = dict(zip(cat.skill_ids, cat.skill_names))
    for r in recs:
        r["skill_names"] = [skill_names.get(s, s) for s in r.get("skill_ids", [])]
    placement = any(r.get("placement") for r in recs)  # a placement list (its last place may go to a ready skill)
    return {"student_id": student_id, "classes": classes, "known": bool(table.student_ids),
            "n_responses": int(table.batch.n_responses[0]) if table.student_ids else 0,
            "theta": float(table.theta[0]) if table.student_ids else None,
            "theta_sd": float(table.theta_sd[0]) if table.student_ids else None,
            "last_active": to_datetime(float(table.now[0])) if table.student_ids else None,
            "skills_now": skills_now, "history": history, "skill_ids": cat.skill_ids, "skill_names": cat.skill_names,
            "recommendations": recs, "blocked": blocked, "placement": placement, "constraints": named,
            "skill_options": [{"skill_id": s, "name": skill_names[s]} for s in cat.skill_ids],
            "resource_options": _resource_options(runtime), "mastery_threshold": policy.engine.config.mastery_threshold,
            "few_answers": FEW_ANSWERS}


ACTIONS = ("assign", "unassign", "pin", "unpin", "block", "unblock", "clear")


def change_constraints(runtime: Runtime, viewer: Viewer, student_id: str, action: str, ids: list[str]) -> str | None:
    """Apply one teacher action and store it; returns a sentence saying what changed."""
    require_student(runtime, viewer, student_id)
    if action not in ACTIONS:
        raise ConfigError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}")
    ids = [i for i in dict.fromkeys(ids) if i]
    if action != "clear" and not ids:
        raise DataError("choose at least one skill or resource first")

    def change(doc: dict[str, list[str]]) -> dict[str, list[str]]:
        new = {k: list(v) for k, v in doc.items()}
        if action == "assign":
            new["assigned_skills"] = list(dict.fromkeys(new["assigned_skills"] + ids))
        elif action == "unassign":
            new["assigned_skills"] = [s for s in new["assigned_skills"] if s not in ids]
        elif action == "pin":
            new["pinned_resources"] = list(dict.fromkeys(new["pinned_resources"] + ids))
            new["blocked_resources"] = [r for r in new["blocked_resources"] if r not in ids]
        elif action == "unpin":
            new["pinned_resources"] = [r for r in new["pinned_resources"] if r not in ids]
        elif action == "block":
            new["blocked_resources"] = list(dict.fromkeys(new["blocked_resources"] + ids))
            new["pinned_resources"] = [r for r in new["pinned_resources"] if r not in ids]
        elif action == "unblock":
            new["blocked_resources"] = [r for r in new["blocked_resources"] if r not in ids]
        else:
            new = {k: [] for k in new}
        return new

    runtime.update_teacher_constraints(student_id, change, by=f"key {viewer.key_id}")
    return describe_action(runtime, action, ids)


def describe_action(runtime: Runtime, action: str, ids: list[str]) -> str | None:
    """The confirmation sentence of a teacher action, naming skills and resources by their catalog names (ids the
    catalog does not know are left out, so a crafted link cannot put arbitrary text on the page)."""
    if action not in ACTIONS:
        return None
    if action == "clear":
        return "Cleared every assignment, pin and block for this student."
    cat = runtime.policy.catalog
    titles = dict(zip(cat.resource_ids, cat.resources["title"].to_list() if "title" in cat.resources.columns else cat.resource_ids))
    names = [cat.skill_names[cat.skill_index(i)] if i in cat._skill_index else titles.get(i) for i in ids]  # noqa: SLF001
    names = [n for n in names if n]
    if not names:
        return None
    words = {"assign": "Assigned", "unassign": "Removed the assignment of", "pin": "Pinned", "unpin": "Unpinned",
             "block": "Blocked", "unblock": "Unblocked"}
    return f"{words[action]}: {'; '.join(names)}. The recommendations API applies this from its next request."
