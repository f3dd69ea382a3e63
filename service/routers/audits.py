"""Fairness-audit results (scope `audit`): recorded per model-set version; a FAIL blocks serving that set."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from engine.runtime import Runtime
from service.deps import get_runtime, require
from service.schemas import ERRORS, AuditIn, AuditOut

router = APIRouter(prefix="/v1/audits", tags=["audits"], responses=ERRORS, dependencies=[Depends(require("audit"))])


@router.post("", response_model=AuditOut, status_code=201)
def post_audit(body: AuditIn, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Record an audit result (e.g. the gate's verdict from `equilearn audit`). If it concerns the served
    model set, its status applies at once: a FAIL stops recommendations while the gate is on."""
    return runtime.create_audit(body.model_set_version, body.status, body.report)


@router.get("/{audit_id}", response_model=AuditOut)
def get_audit(audit_id: int = Path(ge=1, le=2**62), runtime: Runtime = Depends(get_runtime)) -> dict:
    return runtime.get_audit(audit_id)
