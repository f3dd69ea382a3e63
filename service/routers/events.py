"""POST /v1/events: a batch of responses (JSON or xAPI), idempotent by event id, 2xx only after commit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from engine.runtime import Runtime
from service.deps import get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, EventsIn, EventsOut

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1", tags=["events"], responses=ERRORS)


@router.post("/events", response_model=EventsOut, dependencies=[Depends(require("ingest"))])
def post_events(body: EventsIn, request: Request, runtime: Runtime = Depends(get_runtime)) -> EventsOut:
    """Store a batch and update mastery online. The whole batch is one transaction: a bad event (unknown
    item, score outside [0, 1], an event id reused with other content) rejects it all with 4xx and nothing
    is stored. Resending a batch is safe: events already stored come back as `duplicate` with their
    original `seq` and `received_at`."""
    if body.events is not None:
        batch = runtime.events_from_json([e.model_dump() for e in body.events])
    else:
        batch = runtime.events_from_xapi(body.statements or [])
    result = runtime.ingest(batch)
    metrics = request.app.state.metrics
    metrics.inc("events_stored_total", result.n_stored)
    metrics.inc("events_duplicate_total", result.n_duplicates)
    return EventsOut(accepted=len(result.results), stored=result.n_stored, duplicates=result.n_duplicates,
                     results=[r.__dict__ for r in result.results], students_updated=sorted(result.states))
