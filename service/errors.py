"""Exceptions -> HTTP responses: the engine's errors keep their text; nothing else leaks (no stack traces).

Body of every error: `{"detail": "<message>", "type": "<kind>"}` plus `problems` (row, column, value,
hint) for data errors, so a client can fix a whole batch in one pass.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def error_body(message: str, kind: str, **extra: object) -> dict[str, object]:
    return {"detail": message, "type": kind, **extra}


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
    return JSONResponse(error_body(str(exc), kind, **extra), status_code=status, headers=headers)


def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = where.get("ctx") or {}
        return JSONResponse(error_body(f"request body is not valid JSON ({ctx.get('error', 'parse error')})", "malformed_json"),
                            status_code=400)
    problems = [{"location": ".".join(str(x) for x in e.get("loc", ())), "hint": e.get("msg", "invalid")} for e in errors[:50]]
    first = problems[0] if problems else {"location": "?", "hint": "invalid"}
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return JSONResponse(error_body(f"invalid request: {first['location']}: {first['hint']}{more}", "invalid_request",
                                   problems=problems), status_code=422)


def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(error_body(str(exc.detail), "http_error"), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body(f"internal error (incident {incident}); the request may be retried", "internal"),
                        status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(EquilearnError, engine_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
