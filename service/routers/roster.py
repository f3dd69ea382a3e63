"""Demographic roster: `audit` scope only (no other scope can read or write it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from engine.runtime import Runtime
from service.deps import get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, RosterIn, RosterOut, RosterWritten

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/roster", tags=["roster"], responses=ERRORS,
                   dependencies=[Depends(require("audit"))])


@router.post("", response_model=RosterWritten)
def post_roster(body: RosterIn, runtime: Runtime = Depends(get_runtime)) -> RosterWritten:
    """Store (replace) students' attributes; one bad record rejects all, listing every problem."""
    return RosterWritten(written=runtime.roster_upsert([r.model_dump() for r in body.students]))


@router.get("", response_model=RosterOut)
def get_roster(runtime: Runtime = Depends(get_runtime)) -> RosterOut:
    students = runtime.roster_read()
    return RosterOut(count=len(students), students=students)
