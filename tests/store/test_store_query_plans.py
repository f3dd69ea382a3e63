"""Query plans of the ingest path's id lookups: never a scan comparing each row with every id.

A batch's event ids and student ids are looked up with `database.in_values`. The form `column = ANY($1)`
got a sequential scan with the array as a per-row filter while the table had no statistics yet (a fresh
or fast-growing log): every row compared with all 100 ids, 20 to 40 ms per batch against 10,000 events.
The lookup must probe an index or a hash of the ids instead, in custom and in generic (prepared) plans.
On SQLite the same lookups must search the index, not scan the table.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store import Event, Store
from engine.store.database import in_values
from engine.store.schema import events, mastery_states

def _plan(conn: sa.Connection, query: sa.Select, mode: str) -> str:
    compiled = query.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = {mode}")
    rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
    return "\n".join(rows)


def test_id_lookups_never_compare_every_row_with_every_id(store: Store, fold) -> None:
    for start in range(0, 3000, 500):
        store.ingest([Event(f"e{i}", f"s{i % 400}", "item", 1.0) for i in range(start, start + 500)], fold)
    event_ids = [f"e{i}" for i in range(1000, 1100)]
    student_ids = [f"s{i}" for i in range(100)]
    with store.engine.begin() as conn:
        by_event = sa.select(events.c.seq).where(in_values(conn, events.c.event_id, event_ids))
        by_student = (sa.select(mastery_states.c.version)
                      .where(in_values(conn, mastery_states.c.student_id, student_ids)).with_for_update())
        assert len(conn.execute(by_event).all()) == 100 and len(conn.execute(by_student).all()) == 100
        if conn.dialect.name == "sqlite":
            for query in (by_event, by_student):
                sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "SEARCH" in plan and "SCAN" not in plan, plan
            return
        for mode in ("force_custom_plan", "force_generic_plan"):
            for plan in (_plan(conn, by_event, mode), _plan(conn, by_student, mode)):
                assert "= ANY (" not in plan, plan  # the ids are probed (index or hash), not compared row by row
