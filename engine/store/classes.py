"""Classes and enrolments (OneRoster's model: a class has an id and a title; an enrolment puts a student in a
class), and the classes a `teach` key is bound to.

No demographic attribute lives here: a teacher's pages read these tables, never the roster's.

Upload semantics (`upsert`): every class listed is created or retitled, and its enrolments are replaced by
the ones listed for it in the same upload (a class listed without enrolments is emptied); classes not listed
keep theirs. An enrolment must name a class of the same upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from engine.errors import DataValidationError, Problem
from engine.store.database import insert_or_update
from engine.store.ids import path_id_problem
from engine.store.schema import ID_LENGTH, classes as C, enrolments as E, key_classes as K
from engine.store.states import chunks
from engine.store.types import nul_free, utc_now

MAX_CLASSES_PER_KEY = 200


def check_class_ids(class_ids: Iterable[Any], source: str = "classes") -> list[str]:
    """The ids, deduplicated in order; `DataValidationError` naming every bad one (by position)."""
    ids = list(class_ids)
    problems = [Problem(i, "class_id", None, f"a class id {hint}")
                for i, hint in enumerate(map(path_id_problem, ids), start=1) if hint is not None]
    if len(ids) > MAX_CLASSES_PER_KEY:
        problems.append(Problem(None, "class_id", None, f"at most {MAX_CLASSES_PER_KEY} classes per key"))
    if problems:
        raise DataValidationError(problems, source=source)
    return list(dict.fromkeys(ids))


def upsert(conn: sa.Connection, classes: Sequence[Mapping[str, Any]], enrolments: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Create or retitle `classes` ({class_id, title}) and replace their enrolments by `enrolments`
    ({class_id, student_id}); all or nothing, every problem listed. Returns the counts written."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, c in enumerate(classes, start=1):
        cid, title = c.get("class_id"), c.get("title", c.get("class_id"))
        if (hint := path_id_problem(cid)) is not None:
            problems.append(Problem(i, "class_id", None, f"class_id {hint}"))
        elif cid in seen:
            problems.append(Problem(i, "class_id", cid, f"the same class as row {seen[cid]}: list each class once"))
        else:
            seen[cid] = i
        if not isinstance(title, str) or not title.strip() or len(title) > ID_LENGTH or not nul_free(title):
            problems.append(Problem(i, "title", None, f"title must be a non-empty text of at most {ID_LENGTH} characters"))
    pairs: set[tuple[str, str]] = set()
    for i, e in enumerate(enrolments, start=1):
        cid, sid = e.get("class_id"), e.get("student_id")
        if cid not in seen:
            problems.append(Problem(i, "class_id", cid if isinstance(cid, str) and nul_free(cid) else None,
                                    "an enrolment must name a class listed in the same upload (under classes)"))
        if (hint := path_id_problem(sid)) is not None:
            problems.append(Problem(i, "student_id", None, f"student_id {hint}"))
        elif cid in seen:
            pairs.add((cid, sid))
    if problems:
        raise DataValidationError(problems, source="classes upload")
    now = utc_now()
    if classes:
        ins = insert_or_update(conn, C)
        conn.execute(ins.on_conflict_do_update(index_elements=[C.c.class_id],
                                               set_={"title": ins.excluded.title, "updated_at": ins.excluded.updated_at}),
                     [{"class_id": c["class_id"], "title": c.get("title", c["class_id"]).strip(), "updated_at": now}
                      for c in classes])
        for part in chunks(sorted(seen)):
            conn.execute(sa.delete(E).where(E.c.class_id.in_(part)))
    if pairs:
        conn.execute(sa.insert(E), [{"class_id": c, "student_id": s, "updated_at": now} for c, s in sorted(pairs)])
    return {"classes": len(classes), "enrolments": len(pairs)}


def list_classes(conn: sa.Connection, class_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Classes (all, or those of `class_ids` that exist) with their enrolment counts, sorted by id."""
    counts = sa.select(E.c.class_id, sa.func.count().label("n")).group_by(E.c.class_id).subquery()
    query = (sa.select(C.c.class_id, C.c.title, sa.func.coalesce(counts.c.n, 0).label("n"))
             .select_from(C.outerjoin(counts, counts.c.class_id == C.c.class_id)).order_by(C.c.class_id))
    if class_ids is not None:
        ids = sorted(set(class_ids))
        if not ids:
            return []
        query = query.where(C.c.class_id.in_(ids))
    return [{"class_id": r.class_id, "title": r.title, "students": int(r.n)} for r in conn.execute(query)]


def students_of(conn: sa.Connection, class_ids: Iterable[str]) -> dict[str, list[str]]:
    """{class_id: sorted student ids} for the given classes (a class without enrolments maps to [])."""
    ids = sorted(set(class_ids))
    out: dict[str, list[str]] = {c: [] for c in ids}
    for part in chunks(ids):
        for r in conn.execute(sa.select(E.c.class_id, E.c.student_id).where(E.c.class_id.in_(part))
                              .order_by(E.c.class_id, E.c.student_id)):
            out[r.class_id].append(r.student_id)
    return out


def classes_of_student(conn: sa.Connection, student_id: str) -> list[str]:
    return [r.class_id for r in conn.execute(sa.select(E.c.class_id).where(E.c.student_id == student_id)
                                             .order_by(E.c.class_id))]


def bind_key(conn: sa.Connection, key_id: str, class_ids: Sequence[str]) -> None:
    """Bind a key to classes (added to any it has)."""
    ins = insert_or_update(conn, K)
    if class_ids:
        conn.execute(ins.on_conflict_do_nothing(index_elements=[K.c.key_id, K.c.class_id]),
                     [{"key_id": key_id, "class_id": c} for c in class_ids])


def key_classes(conn: sa.Connection, key_ids: Iterable[str]) -> dict[str, list[str]]:
    """{key_id: sorted class ids} of the given keys (keys without classes are absent)."""
    out: dict[str, list[str]] = {}
    for part in chunks(sorted(set(key_ids))):
        for r in conn.execute(sa.select(K.c.key_id, K.c.class_id).where(K.c.key_id.in_(part)).order_by(K.c.class_id)):
            out.setdefault(r.key_id, []).append(r.class_id)
    return out
