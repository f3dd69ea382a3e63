"""The plain values going in and out of the store (frozen dataclasses; no SQLAlchemy objects leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventStatus = Literal["stored", "duplicate"]


@dataclass(frozen=True)
class Event:
    """One response as the service received it.

    `correct` is the score in [0, 1]; `timestamp` is when the student answered (UTC; None = not given;
    never fill it with the arrival time, or a retry would no longer be identical); `source` is `json` or
    `xapi`; `raw` optionally keeps the original xAPI statement; `resource_id` is the catalog resource the
    student used just before answering (None = none or not known), which teaches the other skills it covers.
    The event's identity for idempotency is (`event_id`, `student_id`, `item_id`, `correct`, `timestamp`,
    `resource_id`): `source` and `raw` are not compared.
    """

    event_id: str
    student_id: str
    item_id: str
    correct: float
    timestamp: datetime | None = None
    source: str = "json"
    raw: dict[str, Any] | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class LoggedEvent:
    """An event as stored: its position `seq` in the log and when the store received it."""

    seq: int
    received_at: datetime
    event: Event


@dataclass(frozen=True)
class EventResult:
    """What became of one event of a batch.

    `stored`: new, now in the log and folded into the student's state. `duplicate`: the same event was
    already stored; nothing was written, and `seq`/`received_at` are those of the original, so a retry
    can answer exactly as the first attempt did.
    """

    event_id: str
    status: EventStatus
    seq: int
    received_at: datetime


@dataclass(frozen=True)
class IngestResult:
    """Per-event results in the order of the batch, and the new state of every student that changed."""

    results: list[EventResult]
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def n_stored(self) -> int:
        return sum(r.status == "stored" for r in self.results)

    @property
    def n_duplicates(self) -> int:
        return sum(r.status == "duplicate" for r in self.results)


@dataclass(frozen=True)
class StoredState:
    """A student's mastery state (opaque JSON to the store), its write `version` and newest folded event."""

    student_id: str
    state: dict[str, Any]
    version: int
    last_seq: int | None
    updated_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    """A stored fairness-audit result for one model-set version, bound to the content it audited."""

    id: int
    model_set_version: str
    status: str
    report: dict[str, Any]
    created_at: datetime
    content_sha256: str | None = None  # sha256 of the audited set's content (None: recorded before migration 4)
    data_sha256: str | None = None  # fingerprint of the data the audit used, when known


@dataclass(frozen=True)
class ServedRecommendation:
    """One recommendation list as served: ranked `items` (each with its reason and propensity)."""

    id: int
    student_id: str
    served_at: datetime
    model_set_version: str
    model_versions: dict[str, Any]
    audit_status: str | None
    audit_id: int | None
    items: list[dict[str, Any]]
    context: dict[str, Any] | None


@dataclass(frozen=True)
class ApiKey:
    """An API key's public record (the secret and its hash never leave the store)."""

    id: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """True when the key holds `scope` itself; no scope implies another (admin cannot read the roster)."""
        return scope in self.scopes

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scopes": sorted(self.scopes),
                "created_at": self.created_at.isoformat(),
                "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat()}
