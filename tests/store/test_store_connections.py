"""Pooled PostgreSQL connections: one the server dropped while it sat idle is replaced before use, so the
next request succeeds instead of failing with 503."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.store import Event, Store
from engine.store import database
from tests.store.conftest import PG_URL


@pytest.mark.skipif(not PG_URL, reason="server-side connection loss is a PostgreSQL matter (set EQUILEARN_TEST_POSTGRES_URL)")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_connection_dropped_while_idle_is_replaced(db_url: str, fold, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "IDLE_PING_S", 0.0)  # ping on every checkout
    with Store.open(db_url, pool_size=1, max_overflow=0) as store:
        store.ingest([Event("e1", "s1", "item", 1.0)], fold)
        with store.engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        admin = sa.create_engine(database.normalize_url(db_url), poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        admin.dispose()
        assert store.get_state("s1").state == {"ids": ["e1"], "total": 1.0}
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
