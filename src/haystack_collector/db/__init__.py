"""Database access: the engine factory and pool, the schema and its migrations."""

from __future__ import annotations

from haystack_collector.db.database import Database, Health, PoolStatus, map_db_error

__all__ = ["Database", "Health", "PoolStatus", "map_db_error"]
