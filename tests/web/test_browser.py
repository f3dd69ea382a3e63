"""The pages in a real browser: Debian's chromium driven by Playwright against a real uvicorn on 127.0.0.1.

Each test signs in as a person would (the key typed into the form), checks what that person would read, and
saves a screenshot into docs/screenshots/. One server and one browser serve the whole module. Every request a
page makes is recorded: none may leave the service (no CDN, no font or script from elsewhere)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.web.conftest import ROSTER_WORDS, shot

pytestmark = pytest.mark.browser


def only_this_service(page, server: str) -> None:
    outside = [u for u in page.requests if not (u.startswith(server) or u.startswith("data:") or u.startswith("about:"))]
    assert not outside, f"requests to other hosts: {outside[:5]}"


def test_teacher_class_page(page_for, server, school) -> None:
    page = page_for(school.keys["teacher"])
    assert page.get_by_role("heading", name="Hello, Teacher of 7A").is_visible()
    page.get_by_role("link", name="Maths 7A").click()
    page.wait_for_url("**/app/classes/7A")
    assert page.get_by_role("heading", name="Mastery by skill").is_visible()
    assert page.get_by_role("heading", name="Who needs more support (tier 2 or 3)").is_visible()
    assert page.get_by_role("heading", name="Ready for advanced work, not offered any").is_visible()
    rows = page.locator("table.heat tbody tr")
    assert rows.count() == len(school.class_a)
    assert rows.first.locator("td.m").count() == 32  # students x the demo catalog's 32 skills
    text = page.inner_text("main")
    assert not any(word in text for word in ROSTER_WORDS)
    assert "Places a week" in text
    shot(page, "class")
    only_this_service(page, server)


def test_student_page_and_a_pin_that_reaches_the_api(page_for, server, school) -> None:
    student = school.class_a[4]
    page = page_for(school.keys["teacher"])
    page.goto(f"/app/students/{student}?class=7A")
    assert page.get_by_role("heading", name="Next recommendations").is_visible()
    assert page.locator("ol.recs li").count() >= 3
    assert page.get_by_role("heading", name="Mastery over time").is_visible()
    assert page.locator("ul.multiples svg").count() >= 1
    api = httpx.Client(base_url=server, headers={"X-API-Key": school.keys["recommend"]})
    shown = {r["resource_id"] for r in api.get(f"/v1/students/{student}/recommendations?k=5").json()["recommendations"]}
    options = page.locator("#pin-resource option")
    value, label = next((v, options.nth(i).inner_text()) for i in range(1, options.count())
                        if (v := options.nth(i).get_attribute("value")) not in shown)
    title = label.rsplit(" (", 1)[0]
    page.get_by_label("Pin a resource (shown first)").select_option(value)
    page.get_by_role("button", name="Pin", exact=True).click()
    page.wait_for_url("**done=*")
    assert page.get_by_role("status").filter(has_text="Pinned").is_visible()
    assert title in page.locator("section[aria-labelledby=now-h]").inner_text()
    recs = api.get(f"/v1/students/{student}/recommendations?k=5").json()["recommendations"]
    assert recs[0]["resource_id"] == value  # the teacher's pin comes first in the API's answer
    assert page.locator("ol.recs li").first.inner_text().startswith(title)
    shot(page, "student")
    page.get_by_role("button", name=f"Unpin {title}").click()
    page.wait_for_url("**done=*")
    assert title not in page.locator("section[aria-labelledby=now-h]").inner_text()
    only_this_service(page, server)


def test_walls_in_the_browser(page_for, server, school) -> None:
    page = page_for(school.keys["teacher"])
    for path in ("/app/classes/7B", f"/app/students/{school.class_b[0]}"):
        response = page.goto(path)
        assert response.status == 403
        assert page.get_by_role("heading", name="Not yours to open").is_visible()
    response = page.goto("/app/equity/")
    assert response.status == 403 and "audit scope" in page.inner_text("main")
    shot(page, "forbidden")
    signed_out = page_for(None)
    signed_out.goto("/app/signin")
    signed_out.get_by_label("Your key").fill(school.keys["recommend"])
    signed_out.get_by_role("button", name="Sign in").click()
    assert "cannot sign in to the pages" in signed_out.get_by_role("alert").inner_text()
    shot(signed_out, "signin-refused")


def _equity_page(page, path: str):
    for _ in range(200):  # the first view may find the statistics still being computed (the page says so)
        response = page.goto(path)
        if "being computed" not in page.inner_text("main"):
            return response
        time.sleep(0.1)
    raise AssertionError("the equity statistics were not computed in 20 s")


def test_equity_lead_pages(page_for, server, school) -> None:
    page = page_for(school.keys["lead"])
    assert page.get_by_role("link", name="Outcomes by group over time").is_visible()
    _equity_page(page, "/app/equity/")
    assert page.get_by_role("heading", name="Outcomes by group, week by week").is_visible()
    text = page.inner_text("main")
    assert "Success rate" in text and "Mastery growth" in text and "What it is:" in text
    assert page.locator("ul.multiples svg").count() >= 6
    assert "hidden" in text  # small intersections are suppressed, and say so
    shot(page, "equity-outcomes")
    _equity_page(page, "/app/equity/offers")
    assert "at equal readiness" in page.inner_text("main")
    shot(page, "equity-offers")
    _equity_page(page, "/app/equity/model")
    assert "Week by week" in page.inner_text("main") and page.locator("figure svg").count() == 1
    shot(page, "equity-identity")
    _equity_page(page, "/app/equity/audits")
    text = page.inner_text("main")
    assert "The policy's checks on this school's data" in text and "Recorded audits, per model set" in text
    assert "more students" in text  # INSUFFICIENT_EVIDENCE rows say how many more students would settle them
    shot(page, "equity-audits")
    page.goto("/app/equity/items")
    text = page.inner_text("main")
    assert all(item in text for item in school.dif_items)  # the field test's planted DIF items are flagged (class C)
    assert "review it" in text  # not withheld by the served model set yet
    shot(page, "equity-items")
    only_this_service(page, server)


def test_docs_work_without_internet(page_for, server) -> None:
    page = page_for(None)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "equilearn" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() >= 14
    shot(page, "docs")
    only_this_service(page, server)


def test_keyboard_reaches_the_main_controls(page_for, server, school) -> None:
    page = page_for(None)
    page.goto("/app/signin")
    # the key field has the focus on arrival: `autofocus` is applied at the browser's next rendering step, which may
    # come after the load event that goto waits for, so wait for it (a page without autofocus never gets there)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'api_key'", timeout=5000)
    page.keyboard.type(school.keys["teacher"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/")
    page.goto(f"/app/students/{school.class_a[5]}?class=7A")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")  # skips the navigation: the next Tab lands in the page's own content
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(f"/app/students/{school.class_a[5]}?class=7A")
    reached = []
    for _ in range(200):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if "block-resource" in reached and "Block" in reached:
            break
    for control in ("Skip to main content", "Sign out", "assign-skills", "Assign", "pin-resource", "Pin", "block-resource", "Block"):
        assert control in reached, f"{control!r} is not reachable with the Tab key"
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # a visible focus indicator
    # the class heatmap scrolls with the keyboard (a focusable region) and every student link is reachable
    page.goto("/app/classes/7A")
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent.trim()"))
        if school.class_a[0] in names:
            break
    assert school.class_a[0] in names
