"""Fairness-audit results (scope `audit`): recorded per model-set version; a FAIL blocks serving that set."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Response

from engine.runtime import Runtime
from engine.store.records import ApiKey
from service.deps import get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, AuditIn, AuditOut

audit_key = require("audit")  # one callable, so FastAPI checks the key once per request
router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/audits", tags=["audits"], responses=ERRORS,
                   dependencies=[Depends(audit_key)])


@router.post("", response_model=AuditOut, status_code=201, responses={200: {"model": AuditOut, "description": "a retry: "
                                                                             "the version's newest audit, nothing recorded"}})
def post_audit(body: AuditIn, response: Response, runtime: Runtime = Depends(get_runtime),
               key: ApiKey = Depends(audit_key)) -> dict:
    """Record an audit result (e.g. the gate's verdict from `equilearn audit`). If it concerns the served
    model set, its status applies at once: a FAIL stops recommendations while the gate is on. Resending the
    version's newest result records nothing (200). Lifting a FAIL (a PASS or INSUFFICIENT_EVIDENCE over it)
    needs a key with the admin scope as well as audit, and a `reason`; both are kept with the audit. The audit
    is bound to `content_sha256` (default: the served set's content when it concerns the served version): the
    service serves a model set only while the newest audit of its content is a PASS."""
    audit = runtime.create_audit(body.model_set_version, body.status, body.report, reason=body.reason,
                                 may_lift="admin" in key.scopes, by=f"key {key.id}",
                                 content_sha256=body.content_sha256, data_sha256=body.data_sha256)
    if audit.pop("duplicate", False):
        response.status_code = 200
    return audit


@router.get("/{audit_id}", response_model=AuditOut)
def get_audit(audit_id: int = Path(ge=1, le=2**62), runtime: Runtime = Depends(get_runtime)) -> dict:
    return runtime.get_audit(audit_id)
