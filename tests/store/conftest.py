"""Store test fixtures: every test runs on SQLite and, when EQUILEARN_TEST_POSTGRES_URL is set, on PostgreSQL.

Each PostgreSQL test gets its own freshly created schema (put first on the connection's search_path),
dropped afterwards, so parallel runs and other tests never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from engine.store import Event, Store
from engine.store.database import normalize_url

PG_URL = os.environ.get("EQUILEARN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the parametrized backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    schema = f"eqtest_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(normalize_url(PG_URL), poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield normalize_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def count_apply(current: dict[str, Any], new: dict[str, list[Event]]) -> dict[str, dict[str, Any]]:
    """A transparent fold for tests: the ids folded so far, in order, and the sum of scores."""
    out = {}
    for sid, events in new.items():
        state = current[sid] or {"ids": [], "total": 0.0}
        out[sid] = {"ids": state["ids"] + [e.event_id for e in events],
                    "total": state["total"] + sum(e.correct for e in events)}
    return out


@pytest.fixture
def fold() -> Any:
    return count_apply
