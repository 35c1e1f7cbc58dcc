"""Storage: SQLAlchemy models, queries, the unit of work, locks and limits."""
