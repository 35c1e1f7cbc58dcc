"""Initial schema

Citizens, roles, consents, preferences, labs, phases, services, opinions,
processed updates and conversation states.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:55:55+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column types as they are in this revision, spelled out rather than
# imported from storage.types: a migration must keep meaning what it meant.
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL needs BIGINT.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)

FALSE = sa.text("false")
TRUE = sa.text("true")


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("telegram_id", BIG_ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=128), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.Column("last_seen", UTC_DATETIME, nullable=False),
        sa.Column("blocked_bot", sa.Boolean(), server_default=FALSE, nullable=False),
        sa.Column("blocked_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_citizens_telegram_id")),
    )
    op.create_index(op.f("ix_citizens_last_seen"), "citizens", ["last_seen"])

    op.create_table(
        "conversation_states",
        sa.Column("chat_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("user_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_conversation_states")),
    )
    op.create_index(op.f("ix_conversation_states_updated_at"), "conversation_states",
                    ["updated_at"])

    op.create_table(
        "labs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", JSON, nullable=False),
        sa.Column("description", JSON, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
        sa.UniqueConstraint("slug", name=op.f("uq_labs_slug")),
    )

    op.create_table(
        "processed_updates",
        sa.Column("update_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("seen_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_index(op.f("ix_processed_updates_seen_at"), "processed_updates", ["seen_at"])

    op.create_table(
        "consents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("citizen_id", BIG_ID, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("text_version", sa.String(length=16), nullable=False),
        sa.Column("given_at", UTC_DATETIME, nullable=False),
        sa.Column("withdrawn_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_consents_citizen_id_citizens"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_citizen_purpose", "consents", ["citizen_id", "purpose"])

    op.create_table(
        "lab_phases",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("lab_id", BIG_ID, nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("opens_at", UTC_DATETIME, nullable=False),
        sa.Column("closes_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "phase IN ('opinions', 'proposals', 'ratings', 'workshops', 'results')",
            name=op.f("ck_lab_phases_known_phase"),
        ),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_lab_phases_lab_id_labs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_phases")),
        sa.UniqueConstraint("lab_id", "phase", name=op.f("uq_lab_phases_lab_id_phase")),
    )

    op.create_table(
        "notification_preferences",
        sa.Column("citizen_id", BIG_ID, nullable=False),
        sa.Column("participation_updates", sa.Boolean(), server_default=TRUE, nullable=False),
        sa.Column("news", sa.Boolean(), server_default=FALSE, nullable=False),
        sa.Column("workshop_invitations", sa.Boolean(), server_default=FALSE, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_notification_preferences_citizen_id_citizens"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_notification_preferences")),
    )

    op.create_table(
        "roles",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("citizen_id", BIG_ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", BIG_ID, nullable=True),
        sa.Column("granted_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("role IN ('moderator', 'staff', 'admin')",
                           name=op.f("ck_roles_known_role")),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_roles_citizen_id_citizens"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["granted_by"], ["citizens.id"],
                                name=op.f("fk_roles_granted_by_citizens"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("citizen_id", "role", name=op.f("uq_roles_citizen_id_role")),
    )

    op.create_table(
        "services",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("lab_id", BIG_ID, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", JSON, nullable=False),
        sa.Column("description", JSON, nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_services_lab_id_labs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("lab_id", "slug", name=op.f("uq_services_lab_id_slug")),
    )
    op.create_index(op.f("ix_services_lab_id"), "services", ["lab_id"])

    op.create_table(
        "opinions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("citizen_id", BIG_ID, nullable=True),
        sa.Column("service_id", BIG_ID, nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("media_file_id", sa.String(length=256), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_opinions_rating_1_to_5")),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name=op.f("fk_opinions_citizen_id_citizens"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"],
                                name=op.f("fk_opinions_service_id_services"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinions")),
    )
    op.create_index(op.f("ix_opinions_citizen_id"), "opinions", ["citizen_id"])
    op.create_index("ix_opinions_service_created", "opinions", ["service_id", "created_at"])


def downgrade() -> None:
    # Dependants first; dropping a table drops its indexes and constraints.
    for table in ("opinions", "services", "roles", "notification_preferences", "lab_phases",
                  "consents", "processed_updates", "labs", "conversation_states", "citizens"):
        op.drop_table(table)
