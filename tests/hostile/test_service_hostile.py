"""Hostile and careless input to the HTTP API (issue 16): a named 4xx, nothing stored, no roster value in any
response or log line, on SQLite and (with EQUILEARN_TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from engine.errors import DataError, DataValidationError, PermissionDeniedError
from tests.hostile.conftest import MARKERS, log_text

ITEM = "add_whole-01"
ANSWERED = "http://adlnet.gov/expapi/verbs/answered"


def statement(i: int = 1, **extra: object) -> dict:
    return {"id": f"st-{i}", "actor": {"account": {"name": "s-x"}}, "verb": {"id": ANSWERED},
            "object": {"id": ITEM}, "result": {"success": True}, **extra}


def nested(depth: int) -> dict:
    """An object `depth` levels deep ({"a": {"a": ... {}}})."""
    doc: dict = {}
    for _ in range(depth - 1):
        doc = {"a": doc}
    return doc


def nested_text(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def assert_no_marker(*texts: str) -> None:
    for text in texts:
        for marker in MARKERS:
            assert marker not in text


# ---- 1. roster: NaN, NUL, other rows' values never echoed, no parameter dump ------------------------------------
def test_roster_nan_is_malformed_json_and_no_roster_value_is_logged(api, logs):
    body = ('{"students": [{"student_id": "s1", "group": NaN}, {"student_id": "s2", "gender": {"self": "%s"}, '
            '"ell": "%s"}]}' % MARKERS[:2])
    r = api.post("/v1/roster", "audit", content=body)
    assert r.status_code == 400 and r.json()["type"] == "malformed_json" and "NaN" in r.json()["detail"]
    assert api.runtime.store.audit_scope_roster_records() == []
    assert_no_marker(r.text, log_text(logs))


def test_roster_bad_rows_do_not_echo_other_rows_values(api, logs):
    students = [{"student_id": "s1", "group": MARKERS[0]}, {"student_id": "s2", "gender": {"self": MARKERS[1]}},
                {"student_id": "s3", "note": [MARKERS[2]]}, {"student_id": "s1", "group": MARKERS[0]}]
    r = api.post("/v1/roster", "audit", json={"students": students})
    assert r.status_code == 422 and r.json()["type"] == "invalid_request"
    locations = {p["location"] for p in r.json()["problems"]}
    assert {"body.students.1.gender", "body.students.2.note"} <= locations
    assert "whole number within" in r.json()["detail"]  # the rule, so the client can fix it
    assert api.runtime.store.audit_scope_roster_records() == []
    assert_no_marker(r.text, log_text(logs))
    # the engine's own validation (Python callers, and anything past the schema): rows and fixes, no values
    with pytest.raises(DataValidationError) as info:
        api.runtime.roster_upsert([{"student_id": "s1", "group": float("nan")}, *students[1:]])
    text = str(info.value)
    assert_no_marker(text, repr([p.__dict__ for p in info.value.problems]))
    assert {(p.row, p.column) for p in info.value.problems} == {(1, "group"), (2, "gender"), (3, "note"),
                                                                (4, "student_id")}
    assert "got NaN" in text and "the same student as row 1" in text
    assert api.runtime.store.audit_scope_roster_records() == []


def test_roster_nul_character_is_refused_before_the_database(api, logs):
    for students in ([{"student_id": "s1", "group": MARKERS[0] + "\u0000"}],
                     [{"student_id": "s1", "group": MARKERS[0]}, {"student_id": "s2", "g\u0000": MARKERS[1]}],
                     [{"student_id": "s\u00001", "group": MARKERS[0]}]):
        r = api.post("/v1/roster", "audit", json={"students": students})
        assert r.status_code == 422, r.text
        assert_no_marker(r.text)
    assert api.runtime.store.audit_scope_roster_records() == []
    with pytest.raises(DataValidationError, match="NUL"):
        api.runtime.roster_upsert([{"student_id": "s1", "group": MARKERS[0] + "\x00"}])
    text = log_text(logs)
    assert_no_marker(text)
    assert "[parameters:" not in text and "Jsonb(" not in text


def test_a_value_the_database_refuses_is_a_data_error_without_the_value(api, logs):
    """Past every check (here a served list's model versions, which `record_served` only requires to be an object):
    PostgreSQL refuses a NUL in JSONB; the error is a DataError (422) naming the SQLSTATE, with no data and no
    parameter dump, and nothing is stored."""
    store = api.runtime.store
    if store.backend != "postgresql":
        pytest.skip("SQLite stores NUL characters; the mapping is PostgreSQL's")
    with pytest.raises(DataError) as info:
        store.record_served("s-nul", [{"resource_id": "r1"}], model_set_version="v1",
                            model_versions={"note": MARKERS[0] + "\x00"})
    assert "SQLSTATE 22P05" in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
    assert_no_marker(str(info.value), log_text(logs))
    assert store.served_for("s-nul") == []


def test_sqlalchemy_statement_log_hides_parameters(api, logs):
    r = api.post("/v1/roster", "audit", json={"students": [{"student_id": "s1", "group": MARKERS[0]}]})
    assert r.status_code == 200
    assert any(rec.name.startswith("sqlalchemy.engine") for rec in logs.records)  # statements were logged
    assert_no_marker(log_text(logs))


def test_an_unexpected_database_error_is_logged_without_its_data(api, logs, monkeypatch):
    def broken(rows):
        raise sa.exc.DataError("INSERT INTO roster ...", {"attributes": MARKERS[0]}, ValueError(f"CONTEXT: {MARKERS[1]}"))

    monkeypatch.setattr(api.runtime, "roster_upsert", broken)
    r = api.post("/v1/roster", "audit", json={"students": [{"student_id": "s1", "group": "x"}]})
    assert r.status_code == 500 and r.json()["type"] == "internal"
    text = log_text(logs)
    assert "unhandled error" in text and "sqlalchemy.exc.DataError" in text and "test_service_hostile.py" in text
    assert_no_marker(r.text, text)


# ---- 2. audits: depth limit before anything is committed; retries record nothing -------------------------------
def test_audit_report_too_deep_is_refused_before_commit(api):
    before = api.runtime.store.list_audits()  # the fixture's PASS for the served content
    for depth in (66, 300, 5000):
        r = api.post("/v1/audits", "audit", content='{"status": "FAIL", "report": %s}' % nested_text(depth))
        assert r.status_code == 400 and r.json()["type"] == "malformed_json" and "64 levels" in r.json()["detail"], r.text
    assert api.runtime.store.list_audits() == before
    assert api.runtime.readiness()[0] is True  # no FAIL recorded: still serving
    with pytest.raises(DataError, match="64 levels"):  # the engine refuses it too (Python callers)
        api.runtime.create_audit(None, "FAIL", nested(300))
    assert api.runtime.store.list_audits() == before
    ok = api.post("/v1/audits", "audit", json={"status": "PASS", "report": nested(63)})  # 64 with the body's top level
    assert ok.status_code == 201 and api.get(f"/v1/audits/{ok.json()['id']}", "audit").status_code == 200


def test_audit_retry_records_nothing(api):
    body = {"status": "INSUFFICIENT_EVIDENCE", "report": {"n": 3, "groups": ["a", "b"], "gap": 0.25}}
    before = len(api.runtime.store.list_audits())  # the fixture's PASS for the served content
    first = api.post("/v1/audits", "audit", json=body)
    again = api.post("/v1/audits", "audit", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and len(api.runtime.store.list_audits()) == before + 1
    other = api.post("/v1/audits", "audit", json={**body, "report": {"n": 4}})
    assert other.status_code == 201 and len(api.runtime.store.list_audits()) == before + 2


# ---- 3. NUL characters: path ids, audits, xAPI -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/students/a%00b/mastery", "/v1/students/a%00b/recommendations",
                                  "/v1/students/%00/recommendations?k=3"])
def test_nul_in_a_student_id_path_is_422(api, path):
    r = api.get(path, "recommend")
    assert r.status_code == 422 and r.json()["problems"][0]["location"] == "path.student_id", r.text
    assert api.runtime.store.served_between() == []
    with pytest.raises(DataError, match="NUL"):
        api.runtime.compute_recommendations("a\x00b", 3)
    with pytest.raises(DataError, match="NUL"):
        api.runtime.mastery("a\x00b")


def test_nul_in_an_audit_is_422_and_nothing_is_stored(api):
    before = api.runtime.store.list_audits()  # the fixture's PASS for the served content
    for body in ({"status": "FAIL", "model_set_version": "test-set/1\u0000", "report": {}},
                 {"status": "FAIL", "report": {"why": "gap\u0000"}},
                 {"status": "FAIL", "report": {"by\u0000group": 1}},
                 {"status": "FAIL", "report": {"deep": [{"x": ["\u0000"]}]}},
                 {"status": "PASS", "reason": "because\u0000", "report": {}}):
        r = api.post("/v1/audits", "all", json=body)
        assert r.status_code == 422, (body, r.text)
    assert api.runtime.store.list_audits() == before and api.runtime.readiness()[0] is True
    with pytest.raises(DataError, match="NUL"):
        api.runtime.store.save_audit("v\x001", "PASS", {})


@pytest.mark.parametrize("where", ["id", "actor", "object", "context", "result", "extension_key"])
def test_nul_anywhere_in_an_xapi_statement_is_422(api, where):
    st = statement(1)
    if where == "id":
        st["id"] = "st-\u00001"
    elif where == "actor":
        st["actor"] = {"account": {"name": "s\u0000x"}}
    elif where == "object":
        st["object"] = {"id": f"{ITEM}\u0000"}
    elif where == "context":
        st["context"] = {"platform": "p\u0000"}
    elif where == "result":
        st["result"] = {"success": True, "response": "x\u0000"}
    else:
        st["context"] = {"extensions": {"http://x/\u0000": 1}}
    r = api.post("/v1/events", "ingest", json={"statements": [statement(2), st]})
    assert r.status_code == 422 and r.json()["type"] == "invalid_data", r.text
    assert any(p["row"] == 2 for p in r.json()["problems"])
    assert api.runtime.store.count_events() == 0


# ---- 4. timestamps that leave the datetime range on conversion to UTC --------------------------------------------
@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"])
def test_timestamp_overflowing_utc_is_422_naming_the_field(api, stamp):
    event = {"event_id": "e1", "student_id": "s1", "item_id": ITEM, "correct": 1, "timestamp": stamp}
    r = api.post("/v1/events", "ingest", json={"events": [{**event, "event_id": "e0", "timestamp": None}, event]})
    assert r.status_code == 422, r.text
    assert [(p["row"], p["column"]) for p in r.json()["problems"]] == [(2, "timestamp")]
    x = api.post("/v1/events", "ingest", json={"statements": [statement(1), statement(2, timestamp=stamp)]})
    assert x.status_code == 422 and [(p["row"], p["column"]) for p in x.json()["problems"]] == [(2, "timestamp")]
    assert api.runtime.store.count_events() == 0
    ok = api.post("/v1/events", "ingest", json={"events": [{**event, "timestamp": "9999-12-31T23:59:59Z"}]})
    assert ok.status_code == 200


# ---- 5. NaN is not JSON ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ['"id": NaN', '"id": Infinity', '"timestamp": NaN', '"timestamp": -Infinity'])
def test_xapi_nan_is_malformed_json(api, field):
    st = json.dumps(statement(1))[1:-1].replace('"id": "st-1"', "")
    body = '{"statements": [{%s, %s}]}' % (field, st.lstrip(", ").rstrip(", "))
    r = api.post("/v1/events", "ingest", content=body)
    assert r.status_code == 400 and r.json()["type"] == "malformed_json", r.text
    assert api.runtime.store.count_events() == 0


def test_nan_in_an_event_is_malformed_json(api):
    r = api.post("/v1/events", "ingest", content='{"events": [{"event_id": "e", "student_id": "s", "item_id": "%s", '
                                                   '"correct": NaN}]}' % ITEM)
    assert r.status_code == 400 and r.json()["type"] == "malformed_json"


# ---- 6. roster values keep their JSON type -----------------------------------------------------------------------
def test_roster_values_come_back_with_their_json_type(api):
    students = [{"student_id": "s1", "flag": True, "n": 3, "x": 1.5, "label": "a", "big": 2**53 - 1, "none": None},
                {"student_id": "s2", "flag": 3, "n": "3", "x": 2, "label": False, "big": -(2**53 - 1)}]
    assert api.post("/v1/roster", "audit", json={"students": students}).status_code == 200
    back = {s["student_id"]: s for s in api.get("/v1/roster", "audit").json()["students"]}
    for sent in students:
        for name, value in sent.items():
            assert back[sent["student_id"]][name] == value and type(back[sent["student_id"]][name]) is type(value), name
    assert back["s2"]["none"] is None  # an attribute another student has: null here
    r = api.post("/v1/roster", "audit", json={"students": [{"student_id": "s3", "big": 10**30}]})
    assert r.status_code == 422 and "send larger ones as text" in r.json()["detail"]
    with pytest.raises(DataValidationError, match=r"whole number beyond"):
        api.runtime.roster_upsert([{"student_id": "s3", "big": 10**30}])
    assert len(api.get("/v1/roster", "audit").json()["students"]) == 2


# ---- 8. lifting a FAIL needs the admin scope and a recorded reason -----------------------------------------------
def test_an_audit_key_cannot_lift_a_fail(api):
    ingest = api.post("/v1/events", "ingest", json={"events": [{"event_id": "e1", "student_id": "s1", "item_id": ITEM,
                                                                "correct": 1}]})
    assert ingest.status_code == 200
    assert api.post("/v1/audits", "audit", json={"status": "FAIL", "report": {"gap": 0.3}}).status_code == 201
    assert api.get("/v1/students/s1/recommendations", "recommend").status_code == 503
    for status in ("PASS", "INSUFFICIENT_EVIDENCE"):
        r = api.post("/v1/audits", "audit", json={"status": status, "reason": "looks fine to me"})
        assert r.status_code == 403 and "admin" in r.json()["detail"]
    no_reason = api.post("/v1/audits", "all", json={"status": "PASS"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    assert [a.status for a in api.runtime.store.list_audits()] == ["FAIL", "PASS"]  # the fixture's PASS, then the FAIL
    assert api.get("/v1/students/s1/recommendations", "recommend").status_code == 503
    lifted = api.post("/v1/audits", "all", json={"status": "PASS", "reason": "re-audited on the full cohort"})
    assert lifted.status_code == 201
    record = lifted.json()["report"]["lifted_fail"]
    assert record["reason"] == "re-audited on the full cohort" and record["audit_id"] == api.runtime.store.list_audits()[1].id
    assert record["by"].startswith("key ")
    assert api.get("/v1/students/s1/recommendations", "recommend").status_code == 200
    api.runtime.create_audit(None, "FAIL", {"gap": 0.4})
    with pytest.raises(PermissionDeniedError):  # the engine enforces it, not only the route
        api.runtime.create_audit(None, "PASS", {}, reason="x")
    reserved = api.post("/v1/audits", "all", json={"status": "FAIL", "report": {"lifted_fail": {}}})
    assert reserved.status_code == 422


# ---- 9. the schema states the rules; 405 names every method; bodies that are not JSON text -----------------------
def test_openapi_states_the_rules(api):
    schema = api.client.get("/openapi.json").json()
    parts = schema["components"]["schemas"]
    extra = parts["RosterRecord"]["additionalProperties"]["anyOf"]
    assert {e.get("type") for e in extra} == {"boolean", "integer", "number", "string", "null"}
    assert next(e for e in extra if e.get("type") == "integer")["maximum"] == 2**53 - 1
    bundle = parts["CatalogBundleIn"]
    assert {"skills", "items", "resources"} <= set(bundle["required"])
    assert all(bundle["properties"][t]["minItems"] == 1 for t in ("skills", "items", "resources"))
    assert "served catalog" in parts["EventIn"]["properties"]["item_id"]["description"]
    assert "64 levels" in parts["AuditIn"]["properties"]["report"]["description"]
    path = schema["paths"]["/v1/students/{student_id}/mastery"]["get"]["parameters"][0]
    assert path["schema"]["pattern"] == "^[^\\x00]+$"
    assert "429" in schema["paths"]["/v1/events"]["post"]["responses"]


def test_405_allow_lists_every_method_of_the_path(api):
    r = api.client.delete("/v1/roster", headers={"X-API-Key": api.keys["audit"]})
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    r = api.client.post("/v1/catalog/skills")
    assert r.status_code == 405 and r.headers["allow"] == "GET"


@pytest.mark.parametrize("body", [b'{"events": "\xff\xfe"}', b"\xef\xbb\xbf\x00\x81", b'{"statements": [' + b"[" * 3000
                                  + b"]" * 3000 + b"]}", b'{"events": [' + b"1" * 5000 + b"]}"])
def test_bodies_that_are_not_json_text_get_malformed_json(api, body):
    r = api.post("/v1/events", "ingest", content=body)
    assert r.status_code == 400 and r.json()["type"] == "malformed_json", r.text
