"""Inputs an outside review found answered with a 500, stored where no route could read them back, or silently
dropped: each now a named 4xx with nothing stored (SQLite and, with EQUILEARN_TEST_POSTGRES_URL, PostgreSQL)."""

from __future__ import annotations

import pytest

from engine.errors import DataValidationError
from engine.runtime.catalogs import catalog_from_dict, catalog_to_dict
from engine.catalog import load_catalog
from engine.store.roster import MAX_ATTRIBUTES
from tests.hostile.test_service_hostile import ITEM, statement


def _events(api) -> int:  # noqa: ANN001
    return api.runtime.store.count_events()


def test_an_xapi_score_too_large_for_a_float_is_a_422_naming_the_row(api):
    body = ('{"statements": [{"id": "x1", "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"}, "actor": {"account": '
            '{"name": "s"}}, "object": {"id": "%s"}, "result": {"score": {"scaled": 1%s}}}]}' % (ITEM, "0" * 400))
    r = api.post("/v1/events", "ingest", content=body)
    assert r.status_code == 422, r.text
    assert "score.scaled must be a number in [0, 1]" in r.text and len(r.text) < 2000  # the number is not echoed whole
    assert _events(api) == 0


@pytest.mark.parametrize("body", ['{"status": "FAIL", "report": {"note": "\\udc00"}}',
                                  '{"status": "FAIL", "report": {"\\ud800": 1}}'])
def test_an_unpaired_surrogate_is_refused_before_anything_is_stored(api, body):
    before = len(api.runtime.store.list_audits())
    r = api.post("/v1/audits", "audit", content=body)
    assert r.status_code == 400 and r.json()["type"] == "malformed_json", r.text
    assert "surrogate" in r.json()["detail"]
    assert len(api.runtime.store.list_audits()) == before  # a FAIL stored here would block the served set
    st = statement(1)
    st["actor"]["account"]["name"] = "s\udc00"
    r = api.post("/v1/events", "ingest", content=__import__("json").dumps({"statements": [st]}))
    assert r.status_code == 400 and "surrogate" in r.json()["detail"]
    assert _events(api) == 0


def test_a_key_given_twice_is_refused_not_resolved_to_the_last(api):
    body = '{"events": [{"event_id": "e1", "student_id": "s", "item_id": "%s", "correct": 1, "correct": 0}]}' % ITEM
    r = api.post("/v1/events", "ingest", content=body)
    assert r.status_code == 400 and "'correct' appears twice" in r.json()["detail"], r.text
    assert _events(api) == 0


def test_non_ascii_cookie_or_csrf_token_is_not_a_server_error(api):
    r = api.client.get("/app/", headers=[(b"cookie", "eq_session=abc.\u00e9".encode("latin-1"))], follow_redirects=False)
    assert r.status_code < 500 and r.status_code in (200, 303, 307, 401, 403), r.status_code
    api.client.get("/app/signin")
    r = api.client.post("/app/signin", content=b"csrf_token=%C3%A9&api_key=x", follow_redirects=False,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code < 500, r.status_code


@pytest.mark.parametrize("student_id, says", [("a/b", "'/'"), (".", "'.' or '..'"), ("..", "'.' or '..'"),
                                              ("s\n1", "control characters"), ("s\u202e1", "bidirectional"),
                                              (" s1", "spaces"), ("s1 ", "spaces")])
def test_a_student_id_no_url_can_carry_is_refused_with_its_row(api, student_id, says):
    ok = {"event_id": "e0", "student_id": "s0", "item_id": ITEM, "correct": 1}
    r = api.post("/v1/events", "ingest", json={"events": [ok, {**ok, "event_id": "e1", "student_id": student_id}]})
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert [p["location"] for p in problems] == ["body.events.1.student_id"] and says in r.json()["detail"], problems
    st = statement(1)
    st["actor"]["account"]["name"] = student_id  # the xAPI route reaches the store's own check
    r = api.post("/v1/events", "ingest", json={"statements": [statement(2), st]})
    assert r.status_code == 422 and says in r.text, r.text
    assert _events(api) == 0
    r = api.post("/v1/roster", "audit", json={"students": [{"student_id": student_id, "gender": "F"}]})
    assert r.status_code == 422 and says in r.text
    assert api.runtime.store.audit_scope_roster_records() == []
    with pytest.raises(DataValidationError, match=says.replace(".", "\\.").replace("'", ".")) as info:
        api.runtime.roster_upsert([{"student_id": "s1"}, {"student_id": student_id}])
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "student_id")]


def test_a_class_id_with_a_slash_is_refused(api):
    r = api.post("/v1/classes", "admin", json={"classes": [{"class_id": "7/A", "title": "7A"}], "enrolments": []})
    assert r.status_code == 422 and "'/'" in r.text, r.text
    assert api.runtime.store.list_classes() == []


def test_roster_width_is_capped_per_record_and_per_upload(api):
    wide = {"student_id": "s1", **{f"a{i}": 1 for i in range(MAX_ATTRIBUTES + 1)}}
    r = api.post("/v1/roster", "audit", json={"students": [wide]})
    assert r.status_code == 422 and f"at most {MAX_ATTRIBUTES}" in r.text, r.text
    spread = [{"student_id": f"s{i}", f"a{i}": 1} for i in range(MAX_ATTRIBUTES + 1)]
    r = api.post("/v1/roster", "audit", json={"students": spread})
    assert r.status_code == 422 and "distinct attribute names" in r.text, r.text
    assert api.runtime.store.audit_scope_roster_records() == []
    at_cap = {"student_id": "s1", **{f"a{i}": 1 for i in range(MAX_ATTRIBUTES)}}
    assert api.post("/v1/roster", "audit", json={"students": [at_cap]}).status_code == 200


def test_a_misspelt_catalog_column_or_key_is_named_not_dropped():
    bundle = catalog_to_dict(load_catalog(None))
    skill = bundle["skills"][3]
    assert skill.get("prerequisites")  # a skill with prerequisites, which a misspelt column would silently lose
    skill["prereqs"] = skill.pop("prerequisites")
    with pytest.raises(DataValidationError, match="unknown column 'prereqs': did you mean 'prerequisites'"):
        catalog_from_dict(bundle)
    bundle = catalog_to_dict(load_catalog(None))
    bundle["interventionz"] = bundle.pop("interventions")
    with pytest.raises(Exception, match="'interventionz' \\(did you mean 'interventions'\\?\\)"):
        catalog_from_dict(bundle)


@pytest.mark.parametrize("field, value, says", [("b", 1e300, "difficulty b"), ("a", 1e308, "discrimination a"),
                                                ("item_id", "i" * 300, "at most 255 characters")])
def test_item_values_the_engine_cannot_use_are_refused(field, value, says):
    bundle = catalog_to_dict(load_catalog(None))
    bundle["items"][0][field] = value
    with pytest.raises(DataValidationError, match=says):
        catalog_from_dict(bundle)


def test_the_409_names_the_conflicting_rows(api):
    event = {"event_id": "e1", "student_id": "s1", "item_id": ITEM, "correct": 1}
    assert api.post("/v1/events", "ingest", json={"events": [event]}).status_code == 200
    other = {**event, "event_id": "e2"}
    r = api.post("/v1/events", "ingest", json={"events": [other, {**event, "correct": 0}]})
    assert r.status_code == 409 and "row 2 ('e1')" in r.json()["detail"], r.text
    assert _events(api) == 1
