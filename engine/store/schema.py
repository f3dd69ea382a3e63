"""The store's tables as the code uses them now (SQLAlchemy Core).

Databases get these tables only through `engine.store.migrations`; a test checks that a database migrated
from empty matches this metadata exactly, so the two cannot drift apart.

- `events`: the append-only response log (migration 2's triggers refuse UPDATE and DELETE). `seq` is the global append order (replays follow it);
  `payload_hash` (sha256 of the event's content) tells an identical retry from a reused id; `resource_id` (migration
  6) names the resource the student used just before the answer, when the platform says.
- `mastery_states`: one JSON state per student; `version` counts writes (optimistic concurrency for
  `put_state`), `last_seq` is the newest event folded into the state.
- `roster`: demographic attributes, kept apart and read only by the audit-scope functions.
- `served_recommendations`: every list served, with its items (reasons, propensities), model versions and
  the audit status of the model set at the time.
- `audits`: fairness-audit results per model-set version (immutable evidence for the deployment gate), each
  bound to the sha256 of the audited set's content (`content_sha256`) and, when known, of its data.
- `api_keys`: hashed API keys with scopes.
- `generations`: named counters bumped when something every service process serves changes (`policy`).
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.types import BigIntKey, JSONDoc, UTCDateTime, WholeJSON

ID_LENGTH = 255  # longest student, item, event or model-set id accepted
AUDIT_STATUSES = ("PASS", "FAIL", "INSUFFICIENT_EVIDENCE")
EVENT_SOURCES = ("json", "xapi")

metadata = sa.MetaData()

events = sa.Table(
    "events", metadata,
    sa.Column("seq", BigIntKey, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("student_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("item_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("correct", sa.Float, nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("raw", JSONDoc, nullable=True),
    sa.Column("resource_id", sa.String(ID_LENGTH), nullable=True),  # the resource used before the answer (migration 6)
    sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    sa.CheckConstraint("correct >= 0 AND correct <= 1", name="ck_events_correct_range"),
    sa.CheckConstraint("source IN ('json', 'xapi')", name="ck_events_source"),
    sa.Index("ix_events_student_seq", "student_id", "seq"),
)

mastery_states = sa.Table(
    "mastery_states", metadata,
    sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("state", WholeJSON, nullable=True),  # NULL only inside an ingest transaction (a lock placeholder)
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

roster = sa.Table(
    "roster", metadata,
    sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("attributes", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

audits = sa.Table(
    "audits", metadata,
    sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
    sa.Column("model_set_version", sa.String(ID_LENGTH), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("report", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=True),  # the audited set's content hash (migration 4)
    sa.Column("data_sha256", sa.String(ID_LENGTH), nullable=True),  # fingerprint of the data the audit used, if known
    sa.CheckConstraint("status IN ('PASS', 'FAIL', 'INSUFFICIENT_EVIDENCE')", name="ck_audits_status"),
    sa.Index("ix_audits_version_created", "model_set_version", "created_at"),
    sa.Index("ix_audits_content_created", "content_sha256", "created_at"),
)

served_recommendations = sa.Table(
    "served_recommendations", metadata,
    sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
    sa.Column("student_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("served_at", UTCDateTime, nullable=False),
    sa.Column("model_set_version", sa.String(ID_LENGTH), nullable=False),
    sa.Column("model_versions", JSONDoc, nullable=False),
    sa.Column("audit_status", sa.String(32), nullable=True),
    sa.Column("audit_id", sa.BigInteger, sa.ForeignKey("audits.id", name="fk_served_audit"), nullable=True),
    sa.Column("items", WholeJSON, nullable=False),
    sa.Column("context", WholeJSON, nullable=True),
    sa.Index("ix_served_student_time", "student_id", "served_at"),
    sa.Index("ix_served_time", "served_at"),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(ID_LENGTH), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

generations = sa.Table(
    "generations", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# ---- classes, enrolments, teacher constraints, page sessions (migration 5) ----
# `classes` and `enrolments` follow OneRoster's model (a class has an id and a title; an enrolment puts a
# student in a class); `key_classes` binds a `teach` key to the classes its holder teaches;
# `teacher_constraints` holds a teacher's assigned skills and pinned/blocked resources per student (the
# recommender's TeacherConstraints); `web_sessions` the signed-in pages' sessions (only a digest of the token).

classes = sa.Table(
    "classes", metadata,
    sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("title", sa.String(ID_LENGTH), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

enrolments = sa.Table(
    "enrolments", metadata,
    sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_enrolments_student", "student_id"),
)

key_classes = sa.Table(
    "key_classes", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
)

teacher_constraints = sa.Table(
    "teacher_constraints", metadata,
    sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("constraints", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=True),
)

web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
)
