"""Request and response models (pydantic); they are also the OpenAPI schema the docs and schemathesis use."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt,
                      StrictStr, ValidationError, ValidatorFunctionWrapHandler, WithJsonSchema, WrapValidator, model_validator)
from pydantic_core import PydanticCustomError

from engine.runtime.settings import BATCH_LIMIT as MAX_BATCH
from engine.store.ids import path_id_problem
from engine.store.types import MAX_SAFE_INTEGER

NO_NUL = r"^[^\x00]*$"  # PostgreSQL cannot store U+0000; both backends refuse it
Id = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
STUDENT_ID_RULE = ("the student's id; it stands in URL paths (/v1/students/{id}/...), so it holds no '/', no control "
                   "characters or bidirectional overrides, no surrounding spaces, and is not '.' or '..' "
                   "(engine/store/ids.py)")


def _path_id(value: str) -> str:
    if (hint := path_id_problem(value)) is not None:
        raise PydanticCustomError("student_id", "student_id {hint}", {"hint": hint})
    return value


# What the schema can say of the rule (no '.' / '..' exclusion: the OpenAPI pattern dialect has no lookaround)
_NOT_IN_PATH = "\\x00-\\x1f\\x7f-\\x9f\u202a-\u202e\u2066-\u2069/"
StudentId = Annotated[str, AfterValidator(_path_id), WithJsonSchema(
    {"type": "string", "minLength": 1, "maxLength": 255, "description": STUDENT_ID_RULE,
     "pattern": f"^[^{_NOT_IN_PATH}\\s](?:[^{_NOT_IN_PATH}]*[^{_NOT_IN_PATH}\\s])?$"}), Id]
Text = Annotated[StrictStr, Field(max_length=10_000, pattern=NO_NUL)]
ROSTER_VALUE_RULE = ("attribute values must be text without NUL characters, a whole number within ±(2^53 - 1) (send larger "
                     "ones as text), a finite number, true/false or null")


def _fraction_or_exponent(value: Any) -> Any:
    """A JSON integer is a whole number, never silently a float (10**30 would come back as 1e+30)."""
    if isinstance(value, int):
        raise ValueError(f"whole numbers must lie within ±{MAX_SAFE_INTEGER} (I-JSON); send larger ones as text")
    return value


def _one_roster_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One error per refused roster value (instead of one per alternative), and without the value."""
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("roster_value", ROSTER_VALUE_RULE) from None


# A roster value is a scalar that comes back with its JSON type; whole numbers within I-JSON's exact range.
_RosterScalar = (Annotated[StrictBool, Field(title="boolean")]
                 | Annotated[StrictInt, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER, title="whole number")]
                 | Annotated[StrictFloat, BeforeValidator(_fraction_or_exponent), Field(allow_inf_nan=False, title="number")]
                 | Annotated[Text, Field(title="text")]
                 | None)
RosterValue = Annotated[_RosterScalar, WrapValidator(_one_roster_error)]
SCORE_DESCRIPTION = "1 = correct, 0 = wrong, or a partial score in between; true and false mean 1 and 0"


def _bool_as_score(value: Any) -> Any:
    """JSON true / false as 1 / 0: what a platform that records right and wrong as booleans sends (xAPI's
    `result.success` is one too); anything else goes on to the strict number check."""
    return float(value) if isinstance(value, bool) else value


Score = Annotated[float, BeforeValidator(_bool_as_score),
                  Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False, description=SCORE_DESCRIPTION),
                  WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "boolean"}],
                                  "description": SCORE_DESCRIPTION})]


def _iso_text(value: Any) -> Any:
    """A timestamp is ISO 8601 text, as the schema says (`format: date-time`): pydantic would also read a number,
    or a string of digits, as Unix seconds, and a careless client's event would land in 1970."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("timestamp must be ISO 8601 text such as 2024-05-01T12:00:00Z, not a number")
    return value


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Id = Field(description="unique id chosen by the platform; a retry with the same id stores nothing twice")
    student_id: StudentId
    item_id: Id = Field(description="an item id of the served catalog (GET /v1/catalog/items); any other id rejects "
                                    "the whole batch with 422")
    correct: Score
    timestamp: Annotated[datetime | None, BeforeValidator(_iso_text)] = Field(
        None, description="when the student answered (ISO 8601; no zone = UTC); it must stay within "
                          "0001-01-01..9999-12-31 once converted to UTC")
    resource_id: Id | None = Field(None, description="the catalog resource (GET /v1/catalog/resources) the student used "
                                                     "just before this answer; the skills it covers learn too. Absent: "
                                                     "none or not known. Part of the event's identity for retries")


# "exactly one of events or statements" as JSON Schema (the rule `_one_kind` enforces): one of them is a list,
# the other absent or null. Stated so that clients and schemathesis generate bodies the server can accept.
_ONE_KIND = {"oneOf": [
    {"required": ["events"], "properties": {"events": {"type": "array"}, "statements": {"type": "null"}}},
    {"required": ["statements"], "properties": {"statements": {"type": "array"}, "events": {"type": "null"}}},
]}


class EventsIn(BaseModel):
    """Either `events` (our JSON) or `statements` (xAPI), not both; at most 1000 per request."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_KIND)
    events: list[EventIn] | None = Field(None, min_length=1, max_length=MAX_BATCH)
    statements: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=MAX_BATCH,
                                                    description="xAPI statements with verb answered; `id` required, "
                                                                "no NUL character (U+0000) anywhere in a statement")

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
    source: str = Field(description="the kind of source: file, registry or builtin (never a path)")
    content: str = Field(description="sha256: and the first 12 hex digits of the set's content hash, which its audits are bound to")
    audit_status: str = Field(description="the newest audit of this content in the service's audit table: PASS, FAIL, "
                                          "INSUFFICIENT_EVIDENCE or NOT_AUDITED")
    audit_id: int | None
    warning: str | None = Field(description="set when a fallback model set, built-in defaults, or (development only) an "
                                            "unaudited model set is served")
    catalog: str


class Ability(BaseModel):
    theta: float
    sd: float


class SkillMastery(BaseModel):
    skill_id: str
    name: str
    p_learned: float
    sd: float = Field(description="SD of the learned/not-learned state given P(learned): sqrt(p (1 - p))")
    mastered: bool
    evidence: int = Field(description="responses that practised the skill")
    last_practice_days: float | None
    ability: Ability = Field(description="the skill's own ability on the IRT scale (the general ability, widened, "
                                         "until the skill is practised)")
    typical_success: float = Field(description="predicted P(correct) on the skill's typical item")
    p_ability_mastered: float = Field(description="P(typical success >= the mastery level): `mastered` needs both "
                                                  "p_answered >= mastery_threshold and this >= the engine's "
                                                  "ability_confirms (0.5 by default; 0.8 when a learning law is served)")
    p_answered: float = Field(description="P(learned) from the answers alone (what resources taught the skill without an "
                                          "answer left out), aged as the mastered claim assumes: the P `mastered` reads")
    taught: bool = Field(False, description="p_learned was raised by a resource covering the skill since its last "
                                            "answer (an event's resource_id): the recommender waits for an answer before "
                                            "moving on; `mastered` reads p_answered, which no resource moves")




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
    rank: int = Field(description="position in the list as served: slots are drawn one by one with probability "
                                  "softmax(score / temperature) (docs/engine.md, Selection), so rank 1 can score below "
                                  "rank 2; `propensity` is that slot's probability")
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
    placement: bool = Field(False, description="a placement question: the student's level is not known yet, so the "
                                               "item was chosen to measure it (cold start), not to teach")
    item_p: float | None = Field(None, description="the item's predicted success for this student when the list was "
                                                   "served (null for placement questions); the service's served log keeps "
                                                   "it, and `model build --from-store` measures each resource by how the "
                                                   "answer that follows it beats this prediction")


class RecommendationsOut(BaseModel):
    student_id: str
    served_id: int
    recommendations: list[RecommendationOut]
    model_set: ModelSetInfo
    model_versions: dict[str, str]


class TableOut(BaseModel):
    count: int
    rows: list[dict[str, Any]]


class CatalogBundleIn(BaseModel):
    """A one-document catalog bundle. Beyond this shape the server checks every record (ids, skills an item
    names, prerequisite cycles, resource kinds and levels) and answers 422 listing every problem."""

    model_config = ConfigDict(extra="allow")
    name: StrictStr | None = Field(None, max_length=255, pattern=NO_NUL)
    version: StrictStr | StrictInt | None = None
    description: StrictStr | None = None
    skills: list[dict[str, Any]] = Field(min_length=1, description="skill_id, prerequisites (skill ids), name (default: the id)")
    items: list[dict[str, Any]] = Field(min_length=1, description="item_id, skill_ids, IRT parameters a, b (c)")
    resources: list[dict[str, Any]] = Field(min_length=1, description="resource_id, kind, skill_ids, level; optional tier "
                                                                      "(default 1), minutes, capacity, title")
    interventions: list[dict[str, Any]] | None = None
    skill_params: list[dict[str, Any]] | None = None


class CatalogSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    catalog: str
    version: str
    skills: int
    items: int
    resources: int


class RosterRecord(BaseModel):
    """A student's attributes: `student_id` plus any attribute columns, each a scalar: text (no NUL), a whole
    number within ±(2^53 - 1), a finite number, true/false or null. Values come back with the same JSON type."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, RosterValue] = Field(init=False)  # type: ignore[assignment]
    student_id: StudentId


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    students: list[RosterRecord] = Field(min_length=1, max_length=10_000)


class RosterWritten(BaseModel):
    written: int


class RosterOut(BaseModel):
    count: int
    students: list[dict[str, Any]]


class AuditIn(BaseModel):
    """A result equal to the version's newest audit (status and report) is a retry: nothing is recorded and that
    audit is answered with 200. A PASS or INSUFFICIENT_EVIDENCE for a version whose newest audit FAILED lifts the
    FAIL: it needs a key with the admin scope as well as audit (else 403) and a `reason` (else 422)."""

    model_config = ConfigDict(extra="forbid")
    model_set_version: Id | None = Field(None, description="name/version of the audited model set; default: the one served")
    status: Literal["PASS", "FAIL", "INSUFFICIENT_EVIDENCE"]
    report: dict[str, Any] = Field(default_factory=dict, description="any JSON object, at most 64 levels deep, with no "
                                                                     "NUL character (U+0000) in a key or string; the key "
                                                                     "`lifted_fail` is reserved")
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)] | None = Field(
        None, description="why a FAIL is lifted (required then, recorded under report.lifted_fail); with an admin key, "
                          "a PASS with a reason over content without a PASS is recorded as an override (report.override)")
    content_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="sha256 of the audited model set's content (64 hex digits); default: the served set's, "
                          "when model_set_version is the served one. The gate serves content whose newest audit is a PASS")
    data_sha256: Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)] | None = Field(
        None, description="fingerprint of the data the audit used, when known")


class AuditOut(BaseModel):
    id: int
    model_set_version: str
    status: str
    report: dict[str, Any]
    created_at: datetime
    content_sha256: str | None = None
    data_sha256: str | None = None


class LearningOut(BaseModel):
    """What the served recommender has learned from the answers that followed served lists (docs/service.md)."""

    outcomes: int = Field(description="outcomes in the served resource statistics: the build's and those counted since")
    outcomes_since_build: int = Field(
        description="outcomes this process counted from the logs since the set's build (at its load and each catch-up)")
    lists_waiting: int = Field(description="students' newest served lists with no answer yet")
    served_read_through_id: int = Field(description="the newest served list read")
    events_read_through_seq: int = Field(description="the newest event read")


class ModelsOut(BaseModel):
    model_set: ModelSetInfo
    model_versions: dict[str, str]
    blocked: str | None
    catalog: dict[str, Any]
    data_fingerprint: str | None
    code_version: str | None
    learning: LearningOut


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(extra="allow")
    ready: bool
    database: str
    model_set: ModelSetInfo | None
    refused: str | None = Field(None, description="why a newer model set was refused (e.g. an alias set in MLflow on a "
                                                   "version whose content has no PASS); the one shown is still served")


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    detail: str
    type: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
ERRORS[429] = {"model": ErrorOut, "description": "too many failed API keys from this address; retry after `Retry-After` s"}
