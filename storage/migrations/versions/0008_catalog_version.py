"""The catalog's version: a number database triggers move whenever labs,
their phases or services change, so each process can keep the catalog in
memory and know, with the statement that starts every event, when it changed.

Revision ID: 0008_catalog_version
Revises: 0007_moderation2
Create Date: 2026-12-04 14:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import catalog_version

# revision identifiers, used by Alembic.
revision: str = "0008_catalog_version"
down_revision: str | Sequence[str] | None = "0007_moderation2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    for statement in catalog_version.create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in catalog_version.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("catalog_version")
