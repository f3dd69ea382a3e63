"""A demo school for `make run`: two classes of simulated students with roster groups, a few weeks of
answers and served recommendation lists, and the audits of the served model set, so that every page has
content at first start.

The learners are `engine.simulate`'s BKT learners: their subgroups differ only in starting opportunity
(`engine.simulate.world`), which the roster turns into plausible attributes (free/reduced-price lunch and
English learners are more frequent in the lower-opportunity group; gender is drawn independently). No
policy sees a group. Each school day every student opens the platform once: the service's recommendations
are computed and logged as served at that time, the student works on the first one, then practises
`steps_per_day - 1` more steps chosen by the recommender; the answers are sampled by the simulator and sent
through `Runtime.ingest` (so stored states equal a replay of the log).

`dif_field_test` simulates a field test of some items in which a few items are harder for English learners
at equal ability (planted differential item functioning), and audits it (Mantel-Haenszel): the demo model set
withholds the class-C items it finds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl

from engine.catalog import Catalog
from engine.mastery.engine import SECONDS_PER_DAY
from engine.runtime.runtime import Runtime

CLASSES = (("7A", "Maths 7A"), ("7B", "Maths 7B"))
DIF_FOCAL = "yes"
DIF_GROUP = "english_learner"


def roster_for(labels: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """Attributes per simulated student from the world's opportunity group (never shown to a policy)."""
    rng = np.random.default_rng([seed, 7])
    lower = labels == "lower_opportunity"
    frl = rng.random(labels.size) < np.where(lower, 0.75, 0.2)
    ell = rng.random(labels.size) < np.where(lower, 0.3, 0.08)
    gender = rng.choice(np.array(["female", "male"]), size=labels.size)
    return [{"gender": str(g), "free_lunch": "yes" if f else "no", DIF_GROUP: "yes" if e else "no"}
            for g, f, e in zip(gender, frl, ell, strict=True)]


def _school_days(weeks: int, today: datetime) -> list[datetime]:
    monday = (today - timedelta(days=today.weekday() + 7 * weeks)).replace(hour=9, minute=0, second=0, microsecond=0)
    days = [monday + timedelta(days=d) for d in range(7 * weeks + 7) if (monday + timedelta(days=d)).weekday() < 5]
    return [d for d in days if d.date() < today.date()][-5 * weeks:]


def fill_demo_school(runtime: Runtime, students: int = 60, weeks: int = 4, steps_per_day: int = 8, seed: int = 3,
                     today: datetime | None = None, classes: tuple[tuple[str, str], ...] = CLASSES) -> dict[str, Any]:
    """Fill the store (classes, enrolments, roster, events, served lists); nothing if the classes exist. Students
    are spread over `classes` at random, in equal parts."""
    from engine.simulate import make_world  # noqa: PLC0415 - only the demo needs the simulator
    from engine.simulate.learners import BKTLearners  # noqa: PLC0415

    existing = runtime.store.list_classes([c for c, _ in classes])
    if existing and any(c["students"] for c in existing):
        return {"filled": False, "classes": existing}
    policy = runtime.policy
    cat: Catalog = policy.catalog
    world = make_world(cat, students, seed=seed)
    learners = BKTLearners(world)
    rng = np.random.default_rng([seed, 11])
    ids = [f"stu-{i + 1:0{max(3, len(str(students)))}d}" for i in range(students)]
    order = rng.permutation(students)
    parts = np.array_split(order, len(classes))
    enrol = {c: [ids[i] for i in sorted(part.tolist())] for (c, _), part in zip(classes, parts, strict=True)}
    runtime.upsert_classes([{"class_id": c, "title": t} for c, t in classes],
                           [{"class_id": c, "student_id": s} for c, members in enrol.items() for s in members])
    runtime.roster_upsert([{"student_id": sid, **attrs} for sid, attrs in zip(ids, roster_for(world.group_labels(), seed), strict=True)])

    engine = policy.engine
    batch = engine.new_batch(ids)
    rows = np.arange(students)
    item_ids, resource_index = cat.item_ids, cat._resource_index  # noqa: SLF001
    n_events = n_lists = 0
    for day_number, day in enumerate(_school_days(weeks, today or datetime.now(timezone.utc))):
        served_rows = []
        first_r = np.empty(students, dtype=np.int64)
        first_i = np.empty(students, dtype=np.int64)
        for s, sid in enumerate(ids):  # the list each student saw on opening the platform, logged as served then
            response, row = runtime.compute_recommendations(sid, 3)
            row["served_at"] = day + timedelta(minutes=int(rng.integers(0, 50)))
            served_rows.append(row)
            top = response["recommendations"][0]
            first_r[s] = resource_index[top["resource_id"]]
            first_i[s] = cat.item_index(top["item_id"])
        runtime.write_served(served_rows)
        n_lists += len(served_rows)
        events = []
        for step in range(steps_per_day):
            t = day + timedelta(minutes=50 + 4 * step)
            if step == 0:
                resources, items = first_r, first_i
            else:
                choice = policy.recommender.choose_batch(batch, 1, now=np.full(students, t.timestamp() / SECONDS_PER_DAY), rng=rng)
                resources, items = choice.resources[:, 0], choice.items[:, 0]
                items = np.where(items >= 0, items, first_i)
                resources = np.where(resources >= 0, resources, first_r)
            correct = learners.step(resources, items, rng)
            engine.update_batch(batch, rows, items, correct, np.full(students, t.timestamp() / SECONDS_PER_DAY), resources)
            events += [{"event_id": f"demo-school-{day_number:02d}-{step}-{sid}", "student_id": sid,
                        "item_id": item_ids[items[s]], "correct": float(correct[s]), "timestamp": t,
                        "resource_id": cat.resource_ids[resources[s]]}
                       for s, sid in enumerate(ids)]
        for start in range(0, len(events), 1000):
            runtime.ingest(runtime.events_from_json(events[start:start + 1000]))
        n_events += len(events)
    return {"filled": True, "students": students, "classes": {c: len(m) for c, m in enrol.items()}, "events": n_events,
            "served_lists": n_lists}


def dif_field_test(catalog: Catalog, n_students: int = 1200, skills: int = 6, seed: int = 5,
                   planted: int = 2, shift: float = 1.2) -> tuple[pl.DataFrame, list[str]]:
    """(wide table of 0/1 answers + the `english_learner` column, the items planted with DIF): the items of the
    first `skills` skills, answered by every student from the 3PL with the catalog's parameters; for English
    learners the first `planted` items are `shift` logits harder at equal ability."""
    rng = np.random.default_rng(seed)
    take = np.flatnonzero(np.isin(catalog.item_skill, np.arange(skills)))
    ell = rng.random(n_students) < 0.3
    theta = rng.normal(size=n_students)
    a, b, c = catalog.item_a[take], catalog.item_b[take].copy(), catalog.item_c[take]
    planted_items = take[[len(take) // 3, 2 * len(take) // 3][:planted]]
    bb = np.broadcast_to(b, (n_students, take.size)).copy()
    for j in range(take.size):
        if take[j] in planted_items:
            bb[ell, j] += shift
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - bb)))
    y = (rng.random(p.shape) < p).astype(np.int64)
    table = pl.DataFrame({catalog.item_ids[i]: y[:, j] for j, i in enumerate(take.tolist())})
    table = table.with_columns(pl.Series(DIF_GROUP, np.where(ell, DIF_FOCAL, "no")))
    return table, [catalog.item_ids[i] for i in planted_items.tolist()]


def dif_audit(catalog: Catalog, model_version: str | None = None, n_students: int = 1200, skills: int = 6) -> dict[str, Any]:
    """The DIF audit of the demo field test under the default policy (assembled result)."""
    from engine.fairness import audit_items, load_policy  # noqa: PLC0415
    from engine.fairness.results import assemble  # noqa: PLC0415

    table, planted = dif_field_test(catalog, n_students=n_students, skills=skills)
    policy = load_policy()
    audit = audit_items(table, DIF_GROUP, DIF_FOCAL, method="mh", purify=True, adjust="bh",
                        min_group_size=policy.min_group_size)
    return assemble(audit, policy, model_version=model_version,
                    data={"source": "simulated field test of the demo catalog", "students": table.height,
                          "items": table.width - 1, "group": DIF_GROUP, "planted_dif": planted})


def prepare_demo_school(runtime: Runtime) -> dict[str, Any]:
    """The demo school for `make run`: filled once (later runs keep it), a fresh teacher key (class 7A) and a
    fresh equity-lead key (audit) each run, and the DIF field-test audit kept as `equilearn audit dif --store`
    keeps its results (under $EQUILEARN_HOME/reports/audits/) unless one is there already."""
    from engine.fairness.tracking import store_audit  # noqa: PLC0415

    filled = fill_demo_school(runtime)
    teacher = runtime.store.create_api_key("teach", name="Teacher of 7A (demo)", classes=[CLASSES[0][0]])[0]
    lead = runtime.store.create_api_key("audit", name="Equity lead (demo)")[0]
    folder = runtime.settings.home / "reports" / "audits"
    dif_path = None
    if not (folder.is_dir() and any(folder.glob("dif-*.json"))):
        dif_path = store_audit(dif_audit(runtime.policy.catalog))
    return {"filled": filled, "teacher_key": teacher, "equity_key": lead, "dif_audit": dif_path}
