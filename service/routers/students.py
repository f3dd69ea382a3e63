"""A student's mastery and recommendations (scope `recommend`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request

from engine.runtime import Runtime
from service.deps import compute, get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, MasteryOut, RecommendationsOut

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/students", tags=["students"], responses=ERRORS,
                   dependencies=[Depends(require("recommend"))])

StudentId = Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$",
                 description="the platform's student id (1 to 255 characters, no NUL character)")


@router.get("/{student_id}/mastery", response_model=MasteryOut)
async def get_mastery(request: Request, student_id: str = StudentId, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Per-skill P(learned) (after forgetting, as of the latest response) with its SD, mastered flag and
    evidence count, and the IRT ability with its posterior SD. 404 for a student with no events."""
    return await compute(request, runtime.mastery, student_id)


@router.get("/{student_id}/recommendations", response_model=RecommendationsOut)
async def get_recommendations(request: Request, student_id: str = StudentId, k: int = Query(5, ge=1, le=50),
                              runtime: Runtime = Depends(get_runtime)) -> dict:
    """Top-k resources (each with the next item, score components, a plain-language reason and the
    propensity with which it was chosen), the model versions and the audit status of the model set.
    The list is logged before it is returned."""
    response, served = await compute(request, runtime.compute_recommendations, student_id, k)
    return {**response, "served_id": (await request.app.state.served_log.submit(served)).id}
