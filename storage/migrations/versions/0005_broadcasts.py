"""Broadcasts: news and workshop invitations from staff, delivered as outbox rows
linked to their broadcast (counts come from the outbox); a broadcast's rows can
be paused.

Revision ID: 0005_broadcasts
Revises: 0004_moderation
Create Date: 2026-11-25 00:35:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0005_broadcasts"
down_revision: str | Sequence[str] | None = "0004_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OLD_STATUSES = ("status IN ('pending', 'sending', 'sent', 'failed', 'blocked', 'cancelled', "
                "'held')")
NEW_STATUSES = ("status IN ('pending', 'sending', 'paused', 'sent', 'failed', 'blocked', "
                "'cancelled', 'held')")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("audience", Json, nullable=False),
        sa.Column("bodies", Json, nullable=False),
        sa.Column("buttons", Json, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('news', 'workshop_invitation')",
                           name=op.f("ck_broadcasts_known_kind")),
        sa.CheckConstraint("status IN ('draft', 'queued', 'paused', 'cancelled', 'done')",
                           name=op.f("ck_broadcasts_known_status")),
        sa.ForeignKeyConstraint(["created_by"], ["citizens.id"],
                                name=op.f("fk_broadcasts_created_by_citizens"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcasts_created_by"), ["created_by"],
                              unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_id", BigId, nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_broadcast_id"), ["broadcast_id"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_outbox_broadcast_id_broadcasts"),
                                    "broadcasts", ["broadcast_id"], ["id"],
                                    ondelete="SET NULL")
        batch_op.drop_constraint(batch_op.f("ck_outbox_known_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_known_status"), NEW_STATUSES)


def downgrade() -> None:
    # Paused rows were never sent: they wait again as pending.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'paused'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_known_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_known_status"), OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f("fk_outbox_broadcast_id_broadcasts"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_broadcast_id"))
        batch_op.drop_column("broadcast_id")

    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcasts_created_by"))
    op.drop_table("broadcasts")
