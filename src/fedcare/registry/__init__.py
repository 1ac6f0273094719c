"""Model registry: registered models, API keys and the prediction log (SQLAlchemy + Alembic).

SQLite file by default (``sqlite:///fedcare.db``), PostgreSQL by URL
(``FEDCARE_DATABASE_URL=postgresql+psycopg://user@host/db``); the schema is created and
migrated by Alembic when the registry is opened.
"""

from fedcare.registry._registry import (
    CONSOLE_ROLES,
    ROLES,
    ApiKey,
    ModelRecord,
    Registry,
    User,
    content_hash,
    database_url,
    downgrade,
    upgrade,
)

__all__ = ["CONSOLE_ROLES", "ROLES", "ApiKey", "ModelRecord", "Registry", "User",
           "content_hash", "database_url", "downgrade", "upgrade"]
