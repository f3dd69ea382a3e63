"""The pages' walls, sessions and CSRF, without a browser (TestClient): who may sign in, what a teacher may open,
that no demographic attribute reaches a teacher, that every form needs its CSRF token, and that a teacher's
action changes what the recommendations API returns."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import ROSTER_WORDS, csrf_of, sign_in


def test_root_leads_to_the_app_and_the_app_to_sign_in(client) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/app/"
    r = client.get("/app/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/signin")
    r = client.get("/app/classes/7A", follow_redirects=False)
    assert r.status_code == 303 and "next=%2Fapp%2Fclasses%2F7A" in r.headers["location"]


def test_docs_are_served_offline_and_redoc_is_gone(client) -> None:
    html = client.get("/docs").text
    assert "/app/static/swagger/swagger-ui-bundle.js" in html and "/app/static/swagger/swagger-ui.css" in html
    assert not re.search(r"(src|href)=[\"']https?://", html), "the docs page loads something from another host"
    assert '"validatorUrl": null' in html  # Swagger UI would otherwise fetch a badge from validator.swagger.io
    for asset in ("/app/static/swagger/swagger-ui-bundle.js", "/app/static/swagger/swagger-ui.css", "/app/static/app.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/redoc").status_code == 404


def test_docs_page_cannot_be_framed_nor_cached_and_the_api_is_not_cached(client, school) -> None:
    docs = client.get("/docs")
    assert docs.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["cache-control"] == "no-store"
    api = client.get("/v1/classes", headers={"X-API-Key": school.keys["teacher"]})
    assert api.headers["cache-control"] == "no-store" and api.headers["x-content-type-options"] == "nosniff"
    static = client.get("/app/static/app.css")
    assert static.headers["x-content-type-options"] == "nosniff" and "no-store" not in static.headers.get("cache-control", "")
    page = client.get("/app/signin")
    assert "base-uri 'none'" in page.headers["content-security-policy"]


def test_ids_in_links_escape_every_reserved_character() -> None:
    from service.web.pages import templates

    encode = templates.env.filters["urlencode"]
    assert encode('a/b?c#d "e"') == "a%2Fb%3Fc%23d%20%22e%22"  # RFC 3986 percent-encoding, by hand


@pytest.mark.parametrize("who,status,text", [("recommend", 403, "cannot sign in"), ("admin", 403, "cannot sign in"),
                                             ("nonsense", 401, "not recognised")])
def test_only_teach_and_audit_keys_sign_in(client, school, who, status, text) -> None:
    key = school.keys.get(who, "eqk_0123456789abcdef_" + "x" * 43)
    r = sign_in(client, key)
    assert r.status_code == status and text in r.text
    assert "eq_session" not in r.cookies


def test_session_cookie_is_signed_httponly_lax_and_sign_out_ends_it(client, school) -> None:
    r = sign_in(client, school.keys["teacher"])
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("eq_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/" in cookie
    value = client.cookies.get("eq_session")
    assert value and "." in value
    home = client.get("/app/")
    assert home.status_code == 200 and "Teacher of 7A" in home.text and "Maths 7A" in home.text
    # a tampered cookie is refused before anything is read
    client.cookies.set("eq_session", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert client.get("/app/", follow_redirects=False).status_code == 303
    client.cookies.set("eq_session", value)
    r = client.post("/app/signout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and "signed_out" in r.headers["location"]
    client.cookies.set("eq_session", value)  # the old cookie, replayed after sign-out, no longer works
    assert client.get("/app/", follow_redirects=False).status_code == 303


def test_a_teacher_sees_only_their_class_and_no_demographic_attribute(client, school) -> None:
    sign_in(client, school.keys["teacher"])
    page = client.get("/app/classes/7A")
    assert page.status_code == 200
    assert "Mastery by skill" in page.text and "Who needs more support" in page.text
    assert all(s in page.text for s in school.class_a)
    assert not any(s in page.text for s in school.class_b), "a student of another class is listed"
    student = client.get(f"/app/students/{school.class_a[0]}")
    assert student.status_code == 200 and "Next recommendations" in student.text
    for text in (page.text, student.text, client.get("/app/").text):
        assert not any(word in text for word in ROSTER_WORDS), "a demographic attribute reached a teacher page"
    for path in ("/app/classes/7B", f"/app/students/{school.class_b[0]}", "/app/students/nobody-at-all"):
        r = client.get(path)
        assert r.status_code == 403 and "only the classes your key is bound to" in r.text
    for path in ("/app/equity/", "/app/equity/offers", "/app/equity/model", "/app/equity/audits", "/app/equity/items"):
        r = client.get(path)
        assert r.status_code == 403 and "audit scope" in r.text


def test_an_equity_lead_cannot_open_class_pages(client, school) -> None:
    sign_in(client, school.keys["lead"])
    assert client.get("/app/classes/7A").status_code == 403
    assert client.get(f"/app/students/{school.class_a[0]}").status_code == 403
    assert client.get("/app/equity/items").status_code == 200


def _action(client, student: str, action: str, ids: list[str], csrf: str | None, **headers: str):
    data = [("action", action)] + [("ids", i) for i in ids] + ([("csrf_token", csrf)] if csrf is not None else [])
    body = "&".join(f"{k}={v}" for k, v in data)
    return client.post(f"/app/students/{student}/actions", content=body, follow_redirects=False,
                       headers={"content-type": "application/x-www-form-urlencoded", **headers})


def test_forms_without_their_csrf_token_are_refused(client, school, web_runtime) -> None:
    page = client.get("/app/signin")
    r = client.post("/app/signin", data={"api_key": school.keys["teacher"]}, follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text
    r = client.post("/app/signin", data={"api_key": school.keys["teacher"], "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.post("/app/signin", data={"api_key": school.keys["teacher"], "csrf_token": csrf_of(page.text)},
                       follow_redirects=False, headers={"origin": "https://evil.example"}).status_code == 403
    sign_in(client, school.keys["teacher"])
    student = school.class_a[1]
    csrf = csrf_of(client.get(f"/app/students/{student}").text)
    resource = web_runtime.policy.catalog.resource_ids[0]
    before = web_runtime.teacher_constraints(student)
    assert _action(client, student, "pin", [resource], None).status_code == 403
    assert _action(client, student, "pin", [resource], "x" * 43).status_code == 403
    assert _action(client, student, "pin", [resource], csrf, origin="https://evil.example").status_code == 403
    assert client.post("/app/signout", data={}, follow_redirects=False).status_code == 403
    assert web_runtime.teacher_constraints(student) == before
    assert _action(client, student, "pin", [resource], csrf).status_code == 303
    assert web_runtime.teacher_constraints(student)["pinned_resources"] == [resource]
    assert _action(client, student, "clear", [], csrf).status_code == 303


def test_a_teacher_cannot_change_a_student_of_another_class(client, school, web_runtime) -> None:
    sign_in(client, school.keys["teacher"])
    csrf = csrf_of(client.get("/app/").text)
    other = school.class_b[0]
    resource = web_runtime.policy.catalog.resource_ids[0]
    r = _action(client, other, "pin", [resource], csrf)
    assert r.status_code == 403 and web_runtime.teacher_constraints(other)["pinned_resources"] == []


def test_teacher_actions_change_what_the_recommendations_api_returns(client, school, web_runtime) -> None:
    sign_in(client, school.keys["teacher"])
    student = school.class_a[2]
    api = {"X-API-Key": school.keys["recommend"]}
    first = client.get(f"/v1/students/{student}/recommendations?k=5", headers=api).json()["recommendations"]
    csrf = csrf_of(client.get(f"/app/students/{student}").text)
    cat = web_runtime.policy.catalog
    shown = {r["resource_id"] for r in first}
    pin = next(r for r in cat.resource_ids if r not in shown)
    assert _action(client, student, "pin", [pin], csrf).status_code == 303
    recs = client.get(f"/v1/students/{student}/recommendations?k=5", headers=api).json()["recommendations"]
    assert recs[0]["resource_id"] == pin and recs[0]["propensity"] == 1.0
    # block what was recommended first: it never comes back
    blocked = first[0]["resource_id"] if first[0]["resource_id"] != pin else first[1]["resource_id"]
    assert _action(client, student, "block", [blocked], csrf).status_code == 303
    for _ in range(5):
        ids = [r["resource_id"] for r in client.get(f"/v1/students/{student}/recommendations?k=5", headers=api).json()["recommendations"]]
        assert blocked not in ids
    # assign one skill: every recommendation is on it or on a prerequisite still missing for it
    skill = cat.skill_ids[-1]
    assert _action(client, student, "clear", [], csrf).status_code == 303
    assert _action(client, student, "assign", [skill], csrf).status_code == 303
    allowed = {skill} | {cat.skill_ids[j] for j in range(cat.n_skills) if cat.graph.ancestors[cat.skill_index(skill), j]}
    for r in client.get(f"/v1/students/{student}/recommendations?k=5", headers=api).json()["recommendations"]:
        assert set(r["skill_ids"]) & allowed
    page = client.get(f"/app/students/{student}").text
    assert "Assigned skills" in page and cat.skill_names[-1] in page
    assert _action(client, student, "clear", [], csrf).status_code == 303
    assert web_runtime.teacher_constraints(student) == {"assigned_skills": [], "pinned_resources": [], "blocked_resources": []}


def test_an_unknown_resource_is_refused_with_a_message(client, school, web_runtime) -> None:
    sign_in(client, school.keys["teacher"])
    student = school.class_a[3]
    csrf = csrf_of(client.get(f"/app/students/{student}").text)
    r = _action(client, student, "pin", ["no-such-resource"], csrf)
    assert r.status_code == 422 and "no-such-resource" in r.text
    assert web_runtime.teacher_constraints(student)["pinned_resources"] == []


def test_revoking_the_key_ends_its_sessions(client, school, web_runtime) -> None:
    key, record = web_runtime.store.create_api_key("teach", "short-lived", classes=["7A"])
    sign_in(client, key)
    assert client.get("/app/").status_code == 200
    web_runtime.store.revoke_api_key(record.id)
    assert client.get("/app/", follow_redirects=False).status_code == 303  # EQUILEARN_KEY_CACHE_SECONDS=0 here


def test_classes_api_scopes_and_validation(client, school) -> None:
    body = {"classes": [{"class_id": "8C", "title": "Maths 8C"}], "enrolments": [{"class_id": "8C", "student_id": "x1"}]}
    assert client.post("/v1/classes", json=body).status_code == 401
    assert client.post("/v1/classes", json=body, headers={"X-API-Key": school.keys["recommend"]}).status_code == 403
    assert client.post("/v1/classes", json=body, headers={"X-API-Key": school.keys["teacher"]}).status_code == 403
    r = client.post("/v1/classes", json=body, headers={"X-API-Key": school.keys["admin"]})
    assert r.status_code == 200 and r.json() == {"classes": 1, "enrolments": 1}
    listed = client.get("/v1/classes", headers={"X-API-Key": school.keys["lead"]}).json()
    assert {c["class_id"] for c in listed["classes"]} >= {"7A", "7B", "8C"}
    bad = {"classes": [{"class_id": "8D"}], "enrolments": [{"class_id": "9Z", "student_id": "x1"}]}
    r = client.post("/v1/classes", json=bad, headers={"X-API-Key": school.keys["admin"]})
    assert r.status_code == 422 and r.json()["problems"][0]["column"] == "class_id"
    # re-uploading a class replaces its enrolments
    body["enrolments"] = [{"class_id": "8C", "student_id": "x2"}]
    client.post("/v1/classes", json=body, headers={"X-API-Key": school.keys["admin"]})
    listed = client.get("/v1/classes", headers={"X-API-Key": school.keys["admin"]}).json()
    assert next(c for c in listed["classes"] if c["class_id"] == "8C")["student_ids"] == ["x2"]
