"""API keys: stored only hashed, verified with scopes, revocable; the `equilearn keys` commands."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from engine.cli import main
from engine.errors import AuthError, ConfigError, NotFoundError, PermissionDeniedError
from engine.store import Store


def test_key_is_stored_only_as_its_sha256(store: Store) -> None:
    key, record = store.create_api_key("ingest,recommend", name="lms")
    prefix, key_id, secret = key.split("_", 2)
    assert prefix == "eqk" and key_id == record.id and len(secret) == 43
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM api_keys"))]
    assert len(rows) == 1
    assert rows[0]["secret_hash"] == hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()
    assert secret not in json.dumps(rows, default=str)
    assert record.scopes == {"ingest", "recommend"} and record.name == "lms"


def test_verify_checks_secret_scope_and_revocation(store: Store) -> None:
    key, record = store.create_api_key(["ingest"])
    assert store.verify_api_key(key, "ingest").id == record.id
    assert store.verify_api_key(key).id == record.id  # authentication only
    with pytest.raises(PermissionDeniedError, match="'recommend'"):
        store.verify_api_key(key, "recommend")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    for bad in (None, "", "garbage", tampered, key.replace(record.id, "0" * 16)):
        with pytest.raises(AuthError):
            store.verify_api_key(bad, "ingest")
    store.revoke_api_key(record.id)
    with pytest.raises(AuthError, match="revoked"):
        store.verify_api_key(key, "ingest")
    assert store.revoke_api_key(key).revoked_at == store.list_api_keys()[0].revoked_at  # idempotent, key text ok
    with pytest.raises(NotFoundError):
        store.revoke_api_key("ffffffffffffffff")


def test_scopes_are_exact_and_validated(store: Store) -> None:
    admin, _ = store.create_api_key("admin")
    with pytest.raises(PermissionDeniedError):
        store.verify_api_key(admin, "audit")  # admin does not imply the roster/audit scope
    with pytest.raises(ConfigError, match="superuser"):
        store.create_api_key("ingest,superuser")
    with pytest.raises(ConfigError):
        store.create_api_key("")
    assert store.list_api_keys() and len(store.list_api_keys()) == 1


def test_keys_cli_create_list_revoke(isolated_home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--scope", "ingest,recommend", "--name", "lms"]) == 0
    key = capsys.readouterr().out.strip()
    with Store.open() as store:  # the same database the CLI used (EQUILEARN_HOME)
        record = store.verify_api_key(key, "recommend")
    assert main(["keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["scopes"], k["revoked_at"]) for k in listed] == [(record.id, ["ingest", "recommend"], None)]
    assert key.split("_", 2)[2] not in json.dumps(listed)
    assert main(["keys", "revoke", record.id]) == 0
    capsys.readouterr()
    with Store.open() as store, pytest.raises(AuthError):
        store.verify_api_key(key)
    assert main(["keys", "create", "--scope", "root"]) == 2
    assert "unknown scope" in capsys.readouterr().err
    assert main(["keys", "revoke", "nope"]) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_cache_trusts_a_verified_key_for_its_lifetime_only(db_url: str) -> None:
    """A service process (key cache of 5 s) and the CLI (no cache) on one database: a revocation by the CLI
    reaches the service once the cached entry expires, and one through the service's own store at once."""
    clock = FakeClock()
    with Store.open(db_url, key_cache_s=5.0) as service, Store.open(db_url) as cli:
        service.key_cache._clock = clock  # noqa: SLF001 - a controllable clock for the test
        key, record = cli.create_api_key("recommend")
        assert service.cached_api_key(key, "recommend") is None  # never verified yet: the caller must read the database
        assert service.verify_api_key(key, "recommend").id == record.id
        assert service.cached_api_key(key, "recommend").id == record.id  # now answered from memory
        with pytest.raises(PermissionDeniedError):
            service.cached_api_key(key, "ingest")  # scopes are still checked on a cached record
        cli.revoke_api_key(record.id)
        clock.now += 4.9
        assert service.verify_api_key(key, "recommend").id == record.id  # within the lifetime: still trusted
        clock.now += 0.2
        with pytest.raises(AuthError, match="revoked"):
            service.verify_api_key(key, "recommend")

        other, other_record = cli.create_api_key("recommend")
        assert service.verify_api_key(other, "recommend").id == other_record.id
        service.revoke_api_key(other_record.id)  # through this store: the cache is cleared at once
        with pytest.raises(AuthError, match="revoked"):
            service.verify_api_key(other, "recommend")


def test_key_cache_never_keeps_a_wrong_key(db_url: str) -> None:
    with Store.open(db_url, key_cache_s=60.0) as service:
        key, record = service.create_api_key("ingest")
        tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
        for _ in range(2):
            with pytest.raises(AuthError, match="invalid"):
                service.verify_api_key(tampered, "ingest")
            assert service.cached_api_key(tampered, "ingest") is None
        with pytest.raises(AuthError, match="malformed"):
            service.cached_api_key("garbage", "ingest")
        assert service.verify_api_key(key, "ingest").id == record.id
