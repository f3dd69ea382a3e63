"""Exceptions -> HTTP responses: the engine's errors keep their text; nothing else leaks (no stack traces).

Body of every error: `{"detail": "<message>", "type": "<kind>"}` plus `problems` (row, column, value,
hint) for data errors, so a client can fix a whole batch in one pass.

Logs: an unexpected error is logged with its traceback and an incident id; a database error in it is
described by `engine.store.database.describe_db_error` (driver class, SQLSTATE, primary message), never by
its full text, which may quote the statement's data (roster values, events).
"""

from __future__ import annotations

import json
import logging
import math
import traceback
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from engine.errors import (AuditGateError, AuthError, ConfigError, ConflictError, DataError, DataValidationError, EquilearnError,
                           NotFoundError, PermissionDeniedError, UnavailableError)

log = logging.getLogger("equilearn.service")

STATUS = [  # most specific first
    (AuthError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (AuditGateError, 409, "audit_gate"),
    (DataValidationError, 422, "invalid_data"),
    (DataError, 422, "invalid_data"),
    (ConfigError, 400, "bad_request"),
    (UnavailableError, 503, "unavailable"),
]


def _safe(value: object) -> object:
    """A problem's value as JSON can carry it: NaN and infinities (not JSON) as text, long text cut."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def error_body(message: str, kind: str, **extra: object) -> dict[str, object]:
    return {"detail": message, "type": kind, **extra}


def _response(body: dict[str, object], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error response that can always be written: whatever the body holds is made JSON first."""
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError):
        body = _jsonable(body)
    return JSONResponse(body, status_code=status, headers=headers)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return _safe(value)


def engine_error(_: Request, exc: EquilearnError) -> JSONResponse:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            break
    else:
        status, kind = 400, "bad_request"
    extra: dict[str, object] = {}
    if isinstance(exc, DataValidationError):
        extra["problems"] = [{"row": p.row, "column": p.column, "value": _safe(p.value), "hint": p.hint}
                             for p in exc.problems[:DataValidationError.max_listed]]
    headers = {"WWW-Authenticate": "APIKey"} if status == 401 else ({"Retry-After": "1"} if status == 503 else None)
    return _response(error_body(str(exc), kind, **extra), status, headers)


def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = where.get("ctx") or {}
        return _response(error_body(f"request body is not valid JSON ({ctx.get('error', 'parse error')})", "malformed_json"), 400)
    problems = [{"location": ".".join(str(x) for x in e.get("loc", ())), "hint": e.get("msg", "invalid")} for e in errors[:50]]
    first = problems[0] if problems else {"location": "?", "hint": "invalid"}
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return JSONResponse(error_body(f"invalid request: {first['location']}: {first['hint']}{more}", "invalid_request",
                                   problems=problems), status_code=422)


HTTP_KINDS = {400: "malformed_json", 429: "throttled"}


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (a 405's `Allow`): Starlette's own 405 names only the
    first route that matched the path, e.g. POST where GET is served too."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    if allowed and getattr(request.app.state, "cors_origins", None):
        allowed.append("OPTIONS")
    return allowed


def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    detail = str(exc.detail)
    if exc.status_code == 405:
        allow = allowed_methods(request)
        headers["Allow"] = ", ".join(allow)
        detail = f"method {request.method} not allowed here; use {' or '.join(allow) or 'another path'}"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "request body is not valid JSON (it could not be parsed)"
    return _response(error_body(detail, HTTP_KINDS.get(exc.status_code, "http_error")), exc.status_code, headers or None)


def _redacted_traceback(exc: BaseException) -> str:
    """The traceback of `exc` (and of what caused it), with every database error's text replaced by its
    safe description: SQLAlchemy and driver messages may quote the data of the failed statement."""
    from engine.store.database import describe_db_error  # noqa: PLC0415 - only on the error path

    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__ or ""
        db = module.startswith(("sqlalchemy", "psycopg", "sqlite3")) or hasattr(current, "sqlstate")
        if db:
            text = f"{type(current).__module__}.{type(current).__qualname__} ({describe_db_error(current)}; text not logged)"
        else:
            text = "".join(traceback.format_exception_only(type(current), current)).strip()
        block = "".join(traceback.format_tb(current.__traceback__)) + text
        lines.insert(0, block)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nwhich led to:\n".join(lines)


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    # the route template, not the path: a path holds student and class ids
    route = getattr(request.scope.get("route"), "path", None) or "unmatched route"
    log.error("unhandled error %s on %s %s\n%s", incident, request.method, route, _redacted_traceback(exc))
    return JSONResponse(error_body(f"internal error (incident {incident}); the request may be retried", "internal"),
                        status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(EquilearnError, engine_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
