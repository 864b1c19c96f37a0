"""The original ``db.PeregrinDB_v2``: ``PeregrinDB`` with the 2.0 conventions, and its error.

It is ``haystack_collector.legacy.PeregrinDB`` (every unit of work through the store) with what
the 2.0 class changed:

* ``info()`` is the tuple ``('PeregrinDB', '2.0', description)``; ``get_id()`` is ``-1`` until
  ``connect_db`` registers the PeregrinDB engine and takes its id;
* ``get_pool_status()`` is ``{'status': 'not_connected'}`` before ``connect_db``, then
  ``{'status': 'active', 'pool_size', 'checked_in', 'checked_out', 'overflow'}``;
* a failed ``connect_db`` raises ``PeregrinDBError`` (the cause chained);
* ``addConfig(engine_id, name, value)`` takes the engine first; ``getConfig`` of a missing key
  is ``'n/a'`` and ``getItemURI`` of a missing item is ``''``.

The other methods are the base class's.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any

from haystack_collector import legacy
from haystack_collector.errors import DatabaseError, NotFoundError

__all__ = ["PeregrinDB", "PeregrinDBError"]

TITLE = "PeregrinDB"
VERSION = "2.0"
DESCRIPTION = "Peregrin database on Haystack's store, with connection pooling"
NOT_AVAILABLE = "n/a"


class PeregrinDBError(DatabaseError):
    """A PeregrinDB 2.0 operation failed; ``__cause__`` says why."""


class PeregrinDB(legacy.PeregrinDB):
    """``legacy.PeregrinDB`` with the 2.0 return shapes (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.engineId = -1

    def connect_db(
        self, config: configparser.RawConfigParser | Mapping[str, Any] | None = None
    ) -> None:
        """Connect as the base class does, then register this class's engine and take its id."""
        try:
            super().connect_db(config)
            self.engineId = self.addEngine(TITLE, VERSION, DESCRIPTION)
        except Exception as exc:
            self.close_db()
            raise PeregrinDBError(f"Failed to connect to database: {exc}") from exc

    def close_db(self) -> None:
        super().close_db()
        self.engineId = -1

    # The 2.0 class changed these return shapes; old callers of it expect them.
    def info(self) -> tuple[str, str, str]:  # type: ignore[override]
        return (TITLE, VERSION, DESCRIPTION)

    def get_id(self) -> int:
        return -1 if self.engineId is None else self.engineId

    def get_pool_status(self) -> dict[str, Any]:
        if self._db is None:
            return {"status": "not_connected"}
        pool = self._db.pool_status()
        return {
            "status": "active",
            "pool_size": pool.size,
            "checked_in": pool.checked_in,
            "checked_out": pool.checked_out,
            "overflow": pool.overflow,
        }

    def addConfig(  # type: ignore[override]
        self, engine_id: int, config_name: str, config_value: str | None
    ) -> bool:
        """Set a config key; True when the value changed. ``engine_id`` is the 2.0 caller's."""
        return super().addConfig(config_name, config_value)

    def getConfig(self, name: str) -> str:
        value = super().getConfig(name)
        return NOT_AVAILABLE if value is None else value

    def getItemURI(self, itemId: int) -> str:
        try:
            return super().getItemURI(itemId)
        except NotFoundError:
            return ""
