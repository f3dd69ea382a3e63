"""Liveness, readiness and metrics (no key: for probes and scrapers; they reveal no learner data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from engine.runtime import Runtime
from service.deps import get_runtime
from service.jsonbody import StrictJSONRoute
from service.schemas import Health, Readiness

router = APIRouter(route_class=StrictJSONRoute, tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    """200 when the database answers and a model set is loaded and allowed; 503 otherwise, saying why
    (including a fallback to the last approved model set)."""
    ready, details = runtime.readiness()
    body = Readiness(ready=ready, **details).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, runtime: Runtime = Depends(get_runtime)) -> PlainTextResponse:
    policy = runtime._policy  # noqa: SLF001 - may be None; metrics must not fail
    info = None if policy is None else policy.model_set_info()
    return PlainTextResponse(request.app.state.metrics.render(info), media_type="text/plain; version=0.0.4")
