"""Schema migrations: idempotent, equal to the code's metadata, safe to race, transactional, refuse newer."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from engine.config import load_settings
from engine.errors import ConfigError
from engine.store import Event, Store, per_student
from engine.store import migrations
from engine.store.database import create_db_engine, write_tx
from engine.store.schema import metadata


def test_migrate_twice_applies_nothing_the_second_time(db_url: str) -> None:
    with Store.open(db_url, migrate=False) as store:
        assert store.schema_version() == 0 and not store.health().ok
        assert store.migrate() == [m.version for m in migrations.MIGRATIONS]
        assert store.migrate() == []
        assert store.schema_version() == migrations.LATEST_VERSION
        assert store.health().ok


def _shape(engine: sa.Engine) -> dict[str, object]:
    inspector = sa.inspect(engine)
    out = {}
    for table in sorted(set(inspector.get_table_names()) - {migrations.VERSION_TABLE}):
        out[table] = {
            "columns": {c["name"]: (c["nullable"], type(c["type"]).__name__) for c in inspector.get_columns(table)},
            "pk": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        }
    return out


def test_migrated_database_matches_the_code_metadata(db_url: str, tmp_path) -> None:
    """The migrations and engine.store.schema describe the same tables: a database migrated from empty and
    one built directly from `schema.metadata` (same backend) look the same to the inspector."""
    migrated = create_db_engine(db_url)
    migrations.upgrade(migrated)
    if migrated.dialect.name == "sqlite":
        reference_url, cleanup = f"sqlite:///{tmp_path / 'reference.db'}", None
    else:  # a second fresh schema on the same server
        schema = f"eqref_{uuid.uuid4().hex[:16]}"
        with migrated.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        reference_url = migrated.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        cleanup = f'DROP SCHEMA "{schema}" CASCADE'
    reference = create_db_engine(reference_url)
    try:
        metadata.create_all(reference)
        shape = _shape(migrated)
        assert set(shape) == set(metadata.tables)
        assert shape == _shape(reference)
    finally:
        reference.dispose()
        if cleanup:
            with migrated.begin() as conn:
                conn.exec_driver_sql(cleanup)
        migrated.dispose()


def test_concurrent_migrators_apply_each_step_once(db_url: str) -> None:
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            engine = create_db_engine(db_url)
            applied.append(migrations.upgrade(engine))
            engine.dispose()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=target) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(v for step in applied for v in step) == [m.version for m in migrations.MIGRATIONS]


def test_failed_migration_leaves_the_database_as_it_was(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_db_engine(db_url)
    migrations.upgrade(engine)
    before = migrations.LATEST_VERSION

    def broken(conn: sa.Connection) -> None:
        sa.Table("half_done", sa.MetaData(), sa.Column("x", sa.Integer)).create(conn)
        raise RuntimeError("step 2 fails after creating a table")

    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, migrations.Migration(99, "broken", broken)))
    monkeypatch.setattr(migrations, "LATEST_VERSION", 99)
    with pytest.raises(RuntimeError):
        migrations.upgrade(engine)
    assert not sa.inspect(engine).has_table("half_done")
    with engine.connect() as conn:
        assert migrations.current_version(conn) == before
    engine.dispose()


def test_database_newer_than_the_code_is_refused(db_url: str) -> None:
    with Store.open(db_url) as store:
        with write_tx(store.engine) as conn:
            conn.execute(sa.text(f"INSERT INTO {migrations.VERSION_TABLE} (version, name, applied_at) "
                                 "VALUES (999, 'from the future', CURRENT_TIMESTAMP)"))
        with pytest.raises(ConfigError, match="version 999"):
            store.migrate()
        health = store.health()
        assert not health.ok and health.schema_version == 999


def test_default_database_lives_under_equilearn_home(isolated_home) -> None:
    settings = load_settings()
    with Store.open(settings=settings) as store:
        assert store.backend == "sqlite"
        assert (isolated_home / "equilearn.db").exists()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="EQUILEARN_DATABASE_URL"):
        Store.open("mysql://u@h/db")
    with pytest.raises(ConfigError, match="EQUILEARN_DATABASE_URL"):
        Store.open("not a url")


def test_upgrade_from_version_1_keeps_data_and_makes_the_log_append_only(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:  # a database created by the first release (migration 1 only)
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        patch.setattr(migrations, "LATEST_VERSION", 1)
        with Store.open(db_url) as old:
            old.ingest([Event("e1", "s1", "i1", 1.0)], per_student(lambda sid, st, evs: {"n": len(evs)}))
            old.record_served("s1", [{"resource_id": "r1", "nested": {"k": [1, 2.5, None]}}], model_set_version="v1",
                              model_versions={"m": "1"}, context={"k": 5, "note": "\u00e9"})
            with write_tx(old.engine) as conn:  # version 1 did not protect the log yet
                conn.execute(sa.text("UPDATE events SET correct = 1.0 WHERE event_id = 'e1'"))
    with Store.open(db_url, migrate=False) as store:
        assert store.migrate() == [v.version for v in migrations.MIGRATIONS[1:]]
        assert store.count_events() == 1 and store.get_state("s1").state == {"n": 1}
        served = store.served_for("s1")[0]  # migration 7 (PostgreSQL: JSONB -> json) keeps the served list's values
        assert served.items == [{"resource_id": "r1", "nested": {"k": [1, 2.5, None]}}]
        assert served.context == {"k": 5, "note": "\u00e9"}
        for statement in ("UPDATE events SET correct = 0.0", "DELETE FROM events"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), write_tx(store.engine) as conn:
                conn.execute(sa.text(statement))
        assert store.events_frame()["correct"].to_list() == [1.0]
        assert store.events_frame()["resource_id"].to_list() == [None]  # migration 6: no resource was named then
        retry = store.ingest([Event("e1", "s1", "i1", 1.0)], per_student(lambda sid, st, evs: {"n": len(evs)}))
        assert retry.results[0].status == "duplicate"  # the event's identity did not change with the new column
