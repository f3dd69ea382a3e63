"""Classes and enrolments (OneRoster's model: a class with an id and a title; an enrolment puts a student in a
class): the teacher pages show a `teach` key only its classes' students. Scope `admin` or `audit` (whoever
manages the school's roster); no demographic attribute is involved."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import PermissionDeniedError
from engine.runtime import Runtime
from engine.store.records import ApiKey
from service.deps import api_key_header, get_runtime, require
from service.jsonbody import StrictJSONRoute
from service.schemas import ERRORS, Id

CLASS_SCOPES = ("admin", "audit")
ClassId = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00\s](?:[^\x00]*[^\x00\s])?$",
                               description="the class's sourcedId (no NUL character, no surrounding spaces)")]
_any_key = require(None)


async def class_manager(request: Request, key: str | None = Security(api_key_header),
                        runtime: Runtime = Depends(get_runtime)) -> ApiKey:
    """A valid key (401 otherwise) holding admin or audit (403 otherwise)."""
    record = await _any_key(request, key, runtime)
    if not any(record.allows(s) for s in CLASS_SCOPES):
        raise PermissionDeniedError(f"API key {record.id} lacks the 'admin' or 'audit' scope needed to manage classes "
                                    f"(it has: {', '.join(sorted(record.scopes))})")
    return record


router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/classes", tags=["classes"], responses=ERRORS,
                   dependencies=[Depends(class_manager)])


class ClassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    class_id: ClassId
    title: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00]*\S[^\x00]*$")] | None = Field(
        None, description="shown to teachers; default: the class id")


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    class_id: ClassId
    student_id: Id


class ClassesIn(BaseModel):
    """Every class listed is created or retitled and its enrolments are replaced by those listed for it here (a
    class listed without enrolments is emptied); classes not listed keep theirs. Enrolments must name a class of
    the same upload."""

    model_config = ConfigDict(extra="forbid")
    classes: list[ClassIn] = Field(min_length=1, max_length=1000)
    enrolments: list[EnrolmentIn] = Field(default_factory=list, max_length=100_000)


class ClassesWritten(BaseModel):
    classes: int
    enrolments: int


class ClassOut(BaseModel):
    class_id: str
    title: str
    students: int
    student_ids: list[str]


class ClassesOut(BaseModel):
    count: int
    classes: list[ClassOut]


@router.post("", response_model=ClassesWritten)
def post_classes(body: ClassesIn, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Create or update classes and replace their enrolments (all or nothing; every problem is listed)."""
    return runtime.upsert_classes([{"class_id": c.class_id, "title": c.title or c.class_id} for c in body.classes],
                                  [e.model_dump() for e in body.enrolments])


@router.get("", response_model=ClassesOut)
def get_classes(runtime: Runtime = Depends(get_runtime)) -> dict:
    classes = runtime.list_classes()
    return {"count": len(classes), "classes": classes}
