"""Named generation counters (`generations` table): how service processes sharing a database learn that
something they all serve changed.

`bump` increments a counter in the caller's write transaction (an upsert: the first bump creates it at 1);
`policy_signature` is what a process compares with the value it saw when it last loaded its policy: the
`policy` counter and the newest audit id (a new audit can change whether a model set may be served).
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.database import insert_or_update
from engine.store.schema import audits, generations as T
from engine.store.types import utc_now

POLICY = "policy"


def bump(conn: sa.Connection, name: str) -> int:
    """Increment counter `name` and return its new value."""
    ins = insert_or_update(conn, T).values(name=name, generation=1, updated_at=utc_now())
    stmt = ins.on_conflict_do_update(index_elements=[T.c.name],
                                     set_={"generation": T.c.generation + 1, "updated_at": ins.excluded.updated_at})
    return int(conn.execute(stmt.returning(T.c.generation)).scalar_one())


def policy_signature(conn: sa.Connection) -> tuple[int, int]:
    """(`policy` counter, newest audit id), 0 for either when there is none yet."""
    counter = sa.select(T.c.generation).where(T.c.name == POLICY).scalar_subquery()
    newest_audit = sa.select(sa.func.max(audits.c.id)).scalar_subquery()
    row = conn.execute(sa.select(sa.func.coalesce(counter, 0), sa.func.coalesce(newest_audit, 0))).one()
    return int(row[0]), int(row[1])
