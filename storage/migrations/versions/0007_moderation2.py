"""Moderation, second round: proposals waiting for moderation posted in the
moderators' group (proposal_reviews), and outbox rows that edit an earlier post.

Revision ID: 0007_moderation2
Revises: 0006_workshops
Create Date: 2026-11-25 01:30:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_moderation2"
down_revision: str | Sequence[str] | None = "0006_workshops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal_reviews",
        sa.Column("proposal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("post_message_id", sa.BigInteger(), nullable=True),
        sa.Column("prompt_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("prompt_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"],
                                name=op.f("fk_proposal_reviews_proposal_id_proposals"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_proposal_reviews")),
    )
    with op.batch_alter_table("proposal_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_proposal_reviews_prompt",
                              ["prompt_chat_id", "prompt_message_id"],
                              unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_known_kind"), type_="check")
        batch_op.create_check_constraint(
            "known_kind", "kind IN ('message', 'copy', 'topic', 'delete', 'commands', 'edit')"
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_known_kind"), type_="check")
        batch_op.create_check_constraint(
            "known_kind", "kind IN ('message', 'copy', 'topic', 'delete', 'commands')"
        )

    with op.batch_alter_table("proposal_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_proposal_reviews_prompt")
    op.drop_table("proposal_reviews")
