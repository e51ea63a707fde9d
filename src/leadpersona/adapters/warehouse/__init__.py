"""The SQL warehouse: SQLAlchemy 2 models, the engine, and the Alembic migrations that own them."""
