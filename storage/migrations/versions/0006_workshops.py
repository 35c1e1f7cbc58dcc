"""Workshops: sessions with a capacity the database enforces, sign-up questions,
registrations (waitlist, offers, check-in, feedback), answers with the sensitive
ones kept apart; and an expiry for outbox rows (reminders never sent late).

Revision ID: 0006_workshops
Revises: 0005_broadcasts
Create Date: 2026-11-25 00:23:14.046965+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006_workshops"
down_revision: str | Sequence[str] | None = "0005_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "workshops",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("lab_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "title",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "description",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("map_url", sa.String(length=500), nullable=True),
        sa.Column("online_url", sa.String(length=500), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled')", name=op.f("ck_workshops_known_status")
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_workshops_positive_capacity")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_workshops_ends_after_start")),
        sa.CheckConstraint(
            "taken >= 0 AND taken <= capacity", name=op.f("ck_workshops_taken_within_capacity")
        ),
        sa.ForeignKeyConstraint(
            ["lab_id"], ["labs.id"], name=op.f("fk_workshops_lab_id_labs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshops")),
        sa.UniqueConstraint("slug", name=op.f("uq_workshops_slug")),
    )
    with op.batch_alter_table("workshops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workshops_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workshops_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "registrations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "workshop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "citizen_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_token", sa.String(length=64), nullable=False),
        sa.Column("coming_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_score", sa.SmallInteger(), nullable=True),
        sa.Column("feedback_comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'offered', 'cancelled', 'attended')",
            name=op.f("ck_registrations_known_status"),
        ),
        sa.CheckConstraint(
            "feedback_score IS NULL OR feedback_score BETWEEN 1 AND 5",
            name=op.f("ck_registrations_score_1_to_5"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_registrations_citizen_id_citizens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workshop_id"],
            ["workshops.id"],
            name=op.f("fk_registrations_workshop_id_workshops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("checkin_token", name=op.f("uq_registrations_checkin_token")),
        sa.UniqueConstraint(
            "workshop_id", "citizen_id", name=op.f("uq_registrations_workshop_id_citizen_id")
        ),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registrations_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_offer_expires_at"), ["offer_expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_registrations_queue", ["workshop_id", "status", "waiting_since", "id"], unique=False
        )

    op.create_table(
        "workshop_questions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "workshop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column(
            "prompt",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("sensitive", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('choice', 'text')", name=op.f("ck_workshop_questions_known_kind")
        ),
        sa.ForeignKeyConstraint(
            ["workshop_id"],
            ["workshops.id"],
            name=op.f("fk_workshop_questions_workshop_id_workshops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshop_questions")),
        sa.UniqueConstraint(
            "workshop_id", "position", name=op.f("uq_workshop_questions_workshop_id_position")
        ),
    )
    op.create_table(
        "registration_answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["workshop_questions.id"],
            name=op.f("fk_registration_answers_question_id_workshop_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_answers_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_answers")),
        sa.UniqueConstraint(
            "registration_id",
            "question_id",
            name=op.f("uq_registration_answers_registration_id_question_id"),
        ),
    )
    op.create_table(
        "sensitive_answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["workshop_questions.id"],
            name=op.f("fk_sensitive_answers_question_id_workshop_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_sensitive_answers_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensitive_answers")),
        sa.UniqueConstraint(
            "registration_id",
            "question_id",
            name=op.f("uq_sensitive_answers_registration_id_question_id"),
        ),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_after", sa.DateTime(timezone=True), nullable=True))
        # The sender drops expired rows on every claim: an index keeps that
        # cheap behind a broadcast of thousands of rows (most have no expiry).
        batch_op.create_index(batch_op.f("ix_outbox_not_after"), ["not_after"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_not_after"))
        batch_op.drop_column("not_after")

    op.drop_table("sensitive_answers")
    op.drop_table("registration_answers")
    op.drop_table("workshop_questions")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_queue")
        batch_op.drop_index(batch_op.f("ix_registrations_offer_expires_at"))
        batch_op.drop_index(batch_op.f("ix_registrations_citizen_id"))

    op.drop_table("registrations")
    with op.batch_alter_table("workshops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workshops_starts_at"))
        batch_op.drop_index(batch_op.f("ix_workshops_lab_id"))

    op.drop_table("workshops")
