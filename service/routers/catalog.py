"""The served catalog: read with any valid key, replaced with an `admin` key."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from engine.runtime import Runtime
from service.deps import get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, CatalogBundleIn, CatalogSummary, TableOut

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/catalog", tags=["catalog"], responses=ERRORS)


def _table(runtime: Runtime, name: str) -> TableOut:
    rows = runtime.catalog_table(name)
    return TableOut(count=len(rows), rows=rows)


@router.get("/skills", response_model=TableOut, dependencies=[Depends(require(None))])
def skills(runtime: Runtime = Depends(get_runtime)) -> TableOut:
    return _table(runtime, "skills")


@router.get("/items", response_model=TableOut, dependencies=[Depends(require(None))])
def items(runtime: Runtime = Depends(get_runtime)) -> TableOut:
    return _table(runtime, "items")


@router.get("/resources", response_model=TableOut, dependencies=[Depends(require(None))])
def resources(runtime: Runtime = Depends(get_runtime)) -> TableOut:
    return _table(runtime, "resources")


@router.put("", response_model=CatalogSummary, dependencies=[Depends(require("admin"))])
def put_catalog(bundle: CatalogBundleIn, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Validate and serve a new catalog bundle; an invalid one is rejected (422, every problem listed)
    and the current catalog stays."""
    return runtime.put_catalog(bundle.model_dump(exclude_unset=True))
