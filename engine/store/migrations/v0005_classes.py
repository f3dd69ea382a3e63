"""Migration 5: classes and enrolments (OneRoster's model), teach keys' classes, teacher constraints per
student, and the pages' sessions. Frozen here: later schema changes get their own migration."""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.types import JSONDoc, UTCDateTime

ID_LENGTH = 255


def upgrade(conn: sa.Connection) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "classes", metadata,
        sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("title", sa.String(ID_LENGTH), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "enrolments", metadata,
        sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_enrolments_student", "student_id"),
    )
    sa.Table(
        "key_classes", metadata,
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("class_id", sa.String(ID_LENGTH), primary_key=True),
    )
    sa.Table(
        "teacher_constraints", metadata,
        sa.Column("student_id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("constraints", JSONDoc, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
    )
    sa.Table(
        "web_sessions", metadata,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
    )
    metadata.create_all(conn)
