"""Request and response models (pydantic); they are also the OpenAPI schema the docs and schemathesis use."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.runtime.settings import BATCH_LIMIT as MAX_BATCH

Id = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
Score = Annotated[float, Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False,
                               description="1 = correct, 0 = wrong, or a partial score in between")]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Id = Field(description="unique id chosen by the platform; a retry with the same id stores nothing twice")
    student_id: Id
    item_id: Id = Field(description="an item of the served catalog")
    correct: Score
    timestamp: datetime | None = Field(None, description="when the student answered (ISO 8601; no zone = UTC)")


class EventsIn(BaseModel):
    """Either `events` (our JSON) or `statements` (xAPI), not both; at most 1000 per request."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] | None = Field(None, min_length=1, max_length=MAX_BATCH)
    statements: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=MAX_BATCH,
                                                    description="xAPI statements with verb answered")

    @model_validator(mode="after")
    def _one_kind(self) -> EventsIn:
        if (self.events is None) == (self.statements is None):
            raise ValueError("give exactly one of 'events' or 'statements'")
        return self


class EventResultOut(BaseModel):
    event_id: str
    status: Literal["stored", "duplicate"]
    seq: int = Field(description="position in the log (the original's for a duplicate)")
    received_at: datetime


class EventsOut(BaseModel):
    accepted: int
    stored: int
    duplicates: int
    results: list[EventResultOut]
    students_updated: list[str]


class ModelSetInfo(BaseModel):
    name: str
    version: str
    source: str
    audit_status: str = Field(description="PASS, FAIL, INSUFFICIENT_EVIDENCE or NOT_AUDITED")
    audit_id: int | None
    warning: str | None = Field(description="set when a fallback model set (or built-in defaults) is served")
    catalog: str


class SkillMastery(BaseModel):
    skill_id: str
    name: str
    p_learned: float
    sd: float = Field(description="SD of the learned/not-learned state given P(learned): sqrt(p (1 - p))")
    mastered: bool
    evidence: int = Field(description="responses that practised the skill")
    last_practice_days: float | None


class Ability(BaseModel):
    theta: float
    sd: float


class MasteryOut(BaseModel):
    student_id: str
    n_responses: int
    ability: Ability
    as_of_days: float | None
    mastery_threshold: float
    skills: list[SkillMastery]
    model_set: ModelSetInfo
    model_versions: dict[str, str]


class RecommendationOut(BaseModel):
    rank: int
    resource_id: str
    title: str
    kind: str
    level: str
    skill_ids: list[str]
    item_id: str | None
    score: float | None
    components: dict[str, float | None]
    weights: dict[str, float | None]
    reason: str
    propensity: float | None
    item_propensity: float | None
    model_versions: dict[str, str]


class RecommendationsOut(BaseModel):
    student_id: str
    served_id: int
    recommendations: list[RecommendationOut]
    model_set: ModelSetInfo
    model_versions: dict[str, str]


class TableOut(BaseModel):
    count: int
    rows: list[dict[str, Any]]


class CatalogSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    catalog: str
    version: str
    skills: int
    items: int
    resources: int


class RosterRecord(BaseModel):
    """A student's attributes: `student_id` plus any attribute columns (string, number, true/false or null)."""

    model_config = ConfigDict(extra="allow")
    student_id: Id


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    students: list[RosterRecord] = Field(min_length=1, max_length=10_000)


class RosterWritten(BaseModel):
    written: int


class RosterOut(BaseModel):
    count: int
    students: list[dict[str, Any]]


class AuditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_set_version: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        None, description="name/version of the audited model set; default: the one served")
    status: Literal["PASS", "FAIL", "INSUFFICIENT_EVIDENCE"]
    report: dict[str, Any] = Field(default_factory=dict)


class AuditOut(BaseModel):
    id: int
    model_set_version: str
    status: str
    report: dict[str, Any]
    created_at: datetime


class ModelsOut(BaseModel):
    model_set: ModelSetInfo
    model_versions: dict[str, str]
    blocked: str | None
    catalog: dict[str, Any]
    data_fingerprint: str | None
    code_version: str | None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(extra="allow")
    ready: bool
    database: str
    model_set: ModelSetInfo | None


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    detail: str
    type: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
