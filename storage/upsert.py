"""INSERT with ON CONFLICT for the session's dialect (SQLite and PostgreSQL both
have it, behind different constructors)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
