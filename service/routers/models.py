"""The served model set (scope `admin`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from engine.runtime import Runtime
from service.deps import get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, ModelsOut

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/models", tags=["models"], responses=ERRORS,
                   dependencies=[Depends(require("admin"))])


@router.get("", response_model=ModelsOut)
def get_models(runtime: Runtime = Depends(get_runtime)) -> dict:
    return runtime.models()


@router.post("/reload", response_model=ModelsOut)
def reload_models(runtime: Runtime = Depends(get_runtime)) -> dict:
    """Load the model set under the alias again (after the registry moved it) and serve it."""
    runtime.reload()
    return runtime.models()
