"""The page routes: sign-in and sign-out, teacher pages, equity-lead pages, `/` and the offline `/docs`.

Handlers only parse the request, check the session and the CSRF token, call `engine.runtime` and render a
template; walls (which classes, which students, which pages) are enforced by `engine.runtime.classroom` and
`engine.runtime.equity`, whose `PermissionDeniedError` becomes a 403 page here. Handlers are plain functions
(FastAPI runs them in worker threads): the pages read the database and compute, the API's event loop stays free.
"""

from __future__ import annotations

import inspect
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from engine.errors import AuthError, ConfigError, DataError, EquilearnError, NotFoundError, PermissionDeniedError
from engine.runtime import Runtime
from engine.runtime import classroom, equity, signin
from engine.runtime.classroom import Viewer
from service.web import charts, security

log = logging.getLogger("equilearn.web")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_URL = "/app/static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(static=STATIC_URL, csrf_field=security.CSRF_FIELD)
# ids in a URL path segment: every reserved character escaped, "/" included (Jinja's own urlencode keeps "/")
templates.env.filters["urlencode"] = lambda v: quote(str(v), safe="")
templates.env.filters["pct"] = lambda v: "n/a" if v is None else f"{v * 100:.0f}%"
templates.env.filters["num"] = lambda v, d=3: "n/a" if v is None else f"{v:.{d}f}"
templates.env.filters["signed"] = lambda v, d=3: "n/a" if v is None else f"{v:+.{d}f}"
templates.env.filters["date"] = lambda d: "n/a" if d is None else d.strftime("%a %d %b %Y")
templates.env.filters["when"] = lambda d: "n/a" if d is None else d.strftime("%d %b %Y %H:%M UTC")
templates.env.filters["week"] = lambda s: s[5:] if isinstance(s, str) and len(s) == 10 else s

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 64 * 1024


# ---- helpers --------------------------------------------------------------------------------------------
def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def _key(request: Request) -> bytes:
    return security.secret(runtime_of(request).settings.home)


def session_token(request: Request) -> str | None:
    return security.unsign(_key(request), request.cookies.get(security.SESSION_COOKIE))


def current(request: Request) -> tuple[Viewer | None, str | None]:
    token = session_token(request)
    return (signin.viewer(runtime_of(request), token), token) if token else (None, None)


def _lock_down(response: Response, csp: str) -> None:
    """Headers of every page: never cached, never framed, no referrer to other sites, and its own CSP."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = csp


def render(request: Request, name: str, context: dict[str, Any], status: int = 200, viewer: Viewer | None = None,
           token: str | None = None) -> HTMLResponse:
    started = getattr(request.state, "started", None)
    csrf = security.csrf_for_session(_key(request), token) if token else None
    response = templates.TemplateResponse(request, name, {"viewer": viewer, "csrf": csrf, **context}, status_code=status)
    _lock_down(response, "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def error_page(request: Request, status: int, title: str, message: str, viewer: Viewer | None = None,
               token: str | None = None) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "message": message, "status": status}, status, viewer, token)


def to_signin(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/app/signin?next={quote(target, safe='')}", status_code=303)


def page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A signed-in page: no session -> the sign-in page; the engine's errors -> an HTML error page."""

    def wrapped(request: Request, **kwargs: Any) -> Response:
        request.state.started = time.perf_counter()
        who, token = current(request)
        if who is None:
            return to_signin(request)
        try:
            return handler(request, who, token, **kwargs)
        except PermissionDeniedError as exc:
            return error_page(request, 403, "Not yours to open", str(exc), who, token)
        except NotFoundError as exc:
            return error_page(request, 404, "Not found", str(exc), who, token)
        except (ConfigError, DataError) as exc:
            return error_page(request, 422, "That did not work", str(exc), who, token)
        except EquilearnError as exc:
            return error_page(request, 503, "Not available right now", str(exc), who, token)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    params = [p for p in inspect.signature(handler).parameters.values() if p.name not in ("viewer", "token")]
    wrapped.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return wrapped


async def read_form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form (the pages post nothing else), at most MAX_FORM_BYTES."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        return {}


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def safe_next(target: str | None) -> str:
    return target if target and target.startswith("/app/") and not target.startswith("//") and "\\" not in target else "/app/"


# ---- /, /docs ---------------------------------------------------------------------------------------------
@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=307)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """Swagger UI from the service's own static files (works offline; no CDN). It runs an inline script, so it
    gets no script-src rule, but it may not be framed by another site (clickjacking) nor kept in a cache."""
    page = get_swagger_ui_html(openapi_url=request.app.openapi_url, title="equilearn API",
                               swagger_js_url=f"{STATIC_URL}/swagger/swagger-ui-bundle.js",
                               swagger_css_url=f"{STATIC_URL}/swagger/swagger-ui.css",
                               swagger_favicon_url=f"{STATIC_URL}/favicon.svg", oauth2_redirect_url=None,
                               swagger_ui_parameters={"validatorUrl": None})
    _lock_down(page, "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    return page


# ---- sign-in, sign-out ------------------------------------------------------------------------------------
def _signin_form(request: Request, status: int = 200, error: str | None = None, notice: str | None = None) -> HTMLResponse:
    key = _key(request)
    nonce = security.unsign(key, request.cookies.get(security.SIGNIN_COOKIE)) or secrets.token_urlsafe(16)
    response = render(request, "signin.html", {"signin_csrf": security.csrf_for_signin(key, nonce), "error": error,
                                               "notice": notice, "next": safe_next(request.query_params.get("next"))}, status)
    security.set_cookie(response, request, security.SIGNIN_COOKIE, security.sign(key, nonce), security.SIGNIN_COOKIE_SECONDS)
    return response


@router.get("/app/signin")
def signin_page(request: Request) -> Response:
    request.state.started = time.perf_counter()
    who, _ = current(request)
    if who is not None:
        return RedirectResponse("/app/", status_code=303)
    notice = "You are signed out." if request.query_params.get("signed_out") else None
    return _signin_form(request, notice=notice)


@router.post("/app/signin")
async def signin_submit(request: Request) -> Response:
    request.state.started = time.perf_counter()
    form = await read_form(request)
    key = _key(request)
    nonce = security.unsign(key, request.cookies.get(security.SIGNIN_COOKIE))
    if not security.same_origin(request) or nonce is None or not security.valid(security.csrf_for_signin(key, nonce), first(form, security.CSRF_FIELD)):
        return error_page(request, 403, "The form expired", "This sign-in form is no longer valid (or was sent from another "
                                                             "site). Open the sign-in page again and retry.")
    runtime = runtime_of(request)
    throttle = getattr(request.app.state, "key_throttle", None)
    client = request.client.host if request.client else "unknown"
    if throttle is not None and (wait := throttle.retry_after(client)) is not None:
        response = error_page(request, 429, "Too many attempts", f"Too many wrong keys from this address; try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        token, who = await run_in_threadpool(signin.sign_in, runtime, first(form, "api_key"))
    except AuthError:
        if throttle is not None:
            throttle.failed(client)
        return _signin_form(request, 401, error="That key was not recognised (or it was revoked). Paste the whole key, "
                                                "eqk_..., as printed by `equilearn keys create`.")
    except PermissionDeniedError as exc:
        return _signin_form(request, 403, error=str(exc))
    if who.audits:
        equity.warm(runtime)  # the equity statistics start computing now, in the background
    if who.teaches:
        classroom.warm(runtime)  # and the school's MTSS allocation
    response = RedirectResponse(safe_next(first(form, "next")), status_code=303)
    security.set_cookie(response, request, security.SESSION_COOKIE, security.sign(key, token), int(signin.SESSION_HOURS * 3600))
    security.delete_cookie(response, request, security.SIGNIN_COOKIE)
    return response


def check_csrf(request: Request, token: str | None, form: dict[str, list[str]]) -> bool:
    return (token is not None and security.same_origin(request)
            and security.valid(security.csrf_for_session(_key(request), token), first(form, security.CSRF_FIELD)))


@router.post("/app/signout")
async def signout(request: Request) -> Response:
    request.state.started = time.perf_counter()
    form = await read_form(request)
    token = session_token(request)
    if not check_csrf(request, token, form):
        return error_page(request, 403, "The form expired", "Sign-out needs the form of a page you opened; reload the page and retry.")
    await run_in_threadpool(signin.sign_out, runtime_of(request), token)
    response = RedirectResponse("/app/signin?signed_out=1", status_code=303)
    security.delete_cookie(response, request, security.SESSION_COOKIE)
    return response


# ---- home, teacher pages ----------------------------------------------------------------------------------
@router.get("/app/")
@page
def home(request: Request, viewer: Viewer, token: str) -> Response:
    runtime = runtime_of(request)
    classes = classroom.my_classes(runtime, viewer) if viewer.teaches else []
    return render(request, "home.html", {"classes": classes, "model": runtime.models()["model_set"]}, viewer=viewer, token=token)


@router.get("/app/classes/{class_id}")
@page
def class_page(request: Request, viewer: Viewer, token: str, class_id: str) -> Response:
    data = classroom.class_view(runtime_of(request), viewer, class_id)
    return render(request, "class.html", {"c": data}, viewer=viewer, token=token)


@router.get("/app/students/{student_id}")
@page
def student_page(request: Request, viewer: Viewer, token: str, student_id: str) -> Response:
    runtime = runtime_of(request)
    data = classroom.student_view(runtime, viewer, student_id)
    history = data["history"]
    practised = [(j, data["skill_names"][j]) for j in range(len(data["skill_ids"])) if history["answers"][j] > 0]
    practised.sort(key=lambda t: -int(history["answers"][t[0]]))
    panels = charts.skill_panels(history["days"], history["p"], practised[:12], data["mastery_threshold"])
    mastered_chart = charts.count_line(history["days"], history["mastered"], len(data["skill_ids"]))
    done = classroom.describe_action(runtime, request.query_params.get("done", ""), request.query_params.getlist("ids"))
    return render(request, "student.html", {"s": data, "panels": panels, "more_skills": max(0, len(practised) - 12),
                                            "mastered_chart": mastered_chart, "done": done,
                                            "back": request.query_params.get("class") if request.query_params.get("class") in viewer.classes else data["classes"][0]},
                  viewer=viewer, token=token)


@router.post("/app/students/{student_id}/actions")
async def student_action(request: Request, student_id: str) -> Response:
    request.state.started = time.perf_counter()
    form = await read_form(request)
    who, token = await run_in_threadpool(current, request)
    if who is None:
        return error_page(request, 401, "Signed out", "Your session ended; sign in again.")
    if not check_csrf(request, token, form):
        return error_page(request, 403, "The form expired", "This form is no longer valid (or was sent from another site). "
                                                             "Reload the page and retry.", who, token)
    action = first(form, "action")
    ids = [v for v in form.get("ids", []) if v]
    try:
        await run_in_threadpool(classroom.change_constraints, runtime_of(request), who, student_id, action, ids)
    except PermissionDeniedError as exc:
        return error_page(request, 403, "Not yours to change", str(exc), who, token)
    except (ConfigError, DataError, NotFoundError) as exc:
        return error_page(request, 422, "That did not work", str(exc), who, token)
    done = "&".join([f"done={quote(action, safe='')}"] + [f"ids={quote(i, safe='')}" for i in ids[:20]])
    target = f"/app/students/{quote(student_id, safe='')}?{done}#actions"
    return RedirectResponse(target, status_code=303)


# ---- equity-lead pages ------------------------------------------------------------------------------------
def _equity(request: Request, viewer: Viewer, token: str, name: str, build: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
    equity.require_equity_lead(viewer)
    data, status = equity.school_equity(runtime_of(request), viewer)
    if data is None:
        response = render(request, "computing.html", {"status": status, "section": name}, viewer=viewer, token=token)
        response.headers["Refresh"] = "3"
        return response
    return render(request, f"equity_{name}.html", {"e": data, "status": status, "section": name, **build(data)},
                  viewer=viewer, token=token)


def _blocks(blocks: list[dict[str, Any]], labels: list[str], **kw: Any) -> list[dict[str, Any]]:
    return [{"attribute": b["attribute"], "panels": charts.small_multiples(b, labels, **kw), "hidden": charts.hidden_groups(b)}
            for b in blocks]


@router.get("/app/equity/")
@page
def equity_outcomes(request: Request, viewer: Viewer, token: str) -> Response:
    def build(e: dict[str, Any]) -> dict[str, Any]:
        if not e.get("ready"):
            return {}
        weeks = [w[5:] for w in e["weeks"]]
        return {"success": _blocks(e["success"], weeks, pct=True),
                "growth": _blocks(e["growth"], weeks, pct=False, floor=0.02),
                "exposure": _blocks(e["exposure"], [w[5:] for w in e["exposure_weeks"]], pct=True)}
    return _equity(request, viewer, token, "outcomes", build)


@router.get("/app/equity/offers")
@page
def equity_offers(request: Request, viewer: Viewer, token: str) -> Response:
    def build(e: dict[str, Any]) -> dict[str, Any]:
        return {"bands": _blocks(e.get("bands", []), list(equity.BAND_LABELS), pct=True)} if e.get("ready") else {}
    return _equity(request, viewer, token, "offers", build)


@router.get("/app/equity/model")
@page
def equity_model(request: Request, viewer: Viewer, token: str) -> Response:
    def build(e: dict[str, Any]) -> dict[str, Any]:
        if not e.get("ready"):
            return {}
        weeks = e["identity"]["weeks"]
        points = [{"value": w.get("delta_auc") if w.get("tested") else None,
                   "lo": (w.get("delta_auc_ci") or [None, None])[0] if w.get("tested") else None,
                   "hi": (w.get("delta_auc_ci") or [None, None])[1] if w.get("tested") else None} for w in weeks]
        values = [v for p in points for v in (p["lo"], p["hi"], p["value"]) if v is not None]
        bound = next((c.max for c in equity.gate_policy().checks if c.metric == "identity_delta_auc"), None)
        y_range = charts._nice_range(values + ([bound] if bound else []), False, 0.01)  # noqa: SLF001
        svg = charts.panel("change in AUC from adding group membership, by week", [w["week"][5:] for w in weeks], points, None,
                           pct=False, y_range=y_range, bound=bound, width=560, height=220)
        return {"identity_svg": svg, "identity_bound": bound}
    return _equity(request, viewer, token, "model", build)


@router.get("/app/equity/audits")
@page
def equity_audits(request: Request, viewer: Viewer, token: str) -> Response:
    history = equity.audit_history(runtime_of(request), viewer)
    return _equity(request, viewer, token, "audits", lambda e: {"history": history})


@router.get("/app/equity/items")
@page
def equity_items(request: Request, viewer: Viewer, token: str) -> Response:
    items = equity.dif_items(runtime_of(request), viewer)
    return render(request, "equity_items.html", {"items": items, "section": "items"}, viewer=viewer, token=token)


@router.get("/app/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    request.state.started = time.perf_counter()
    who, token = current(request)
    return error_page(request, 404, "Page not found", "There is no such page. Use the links above.", who, token)
