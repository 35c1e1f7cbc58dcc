"""A number that changes whenever the catalog (labs, their phases, services) does.

Most steps of a journey read the open labs and their services, and they
change only when staff import a new catalog. Each process keeps the catalog
in memory (:class:`storage.catalog_cache.CatalogSnapshot`) and reads this number in
the statement that starts every event, which it runs anyway: the snapshot
is used while the number is the one it was read at. The number is kept by
database triggers, so every writer (``participa import``, a migration, an
operator's SQL by hand) moves it in the transaction that changes the
catalog, and no process ever shows a catalog older than the last commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

TABLE = "catalog_version"
CATALOG_TABLES = ("labs", "lab_phases", "services")
_BUMP = f"UPDATE {TABLE} SET version = version + 1 WHERE id = 1"
_FUNCTION = "bump_catalog_version"


def create_statements(dialect: str) -> list[str]:
    """The row and the triggers, once the tables exist."""
    statements = [f"INSERT INTO {TABLE} (id, version) VALUES (1, 0)"]
    if dialect == "postgresql":
        statements.append(
            f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {_BUMP}; RETURN NULL; END $$")
        statements += [
            f"CREATE TRIGGER {table}_catalog_version AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
            for table in CATALOG_TABLES]
    else:  # SQLite: row triggers only, one per operation
        statements += [
            f"CREATE TRIGGER {table}_catalog_version_{operation.lower()} AFTER {operation} "
            f"ON {table} BEGIN {_BUMP}; END"
            for table in CATALOG_TABLES for operation in ("INSERT", "UPDATE", "DELETE")]
    return statements


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_catalog_version ON {table}"
                for table in CATALOG_TABLES] + [f"DROP FUNCTION IF EXISTS {_FUNCTION}()"]
    return [f"DROP TRIGGER IF EXISTS {table}_catalog_version_{operation}"
            for table in CATALOG_TABLES for operation in ("insert", "update", "delete")]


def create_with_metadata(_target: Any, connection: Connection, **kw: Any) -> None:
    """``after_create`` of the models' metadata: the same as the migration,
    when this create_all made the table (a second create_all changes nothing)."""
    if TABLE not in {table.name for table in kw.get("tables") or ()}:
        return
    for statement in create_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)
