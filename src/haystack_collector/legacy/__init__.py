"""``PeregrinDB``: the original Peregrin database class, re-implemented on top of the store.

Old collectors keep working unchanged: the class keeps its camelCase method names, argument
order and return shapes, but every method is now one unit of work through ``Database.run``
(a pooled connection, committed on success, rolled back on error, retried whole when the
server dropped the connection). No SQL is written here: each method calls the store
(``haystack_collector.store``, or ``store.admin`` for the admin helpers).

Mapping, original -> store:

* ``connect_db(config)``: ``database_pool.create_database_config``, ``load_settings``,
  ``Database.from_settings``, ``ensure_schema``; ``close_db``: ``Database.dispose``
* ``addStatus`` / ``getStatus``: ``add_status`` / ``recent_status`` (newest first)
* ``addConfig`` / ``getConfig``: ``set_config`` / ``get_config``
* ``addEngine`` / ``getEngineDisabled``: ``register_engine`` / ``is_engine_disabled``
* ``addAction`` / ``addEngineAction``: ``register_action`` / ``register_engine_action``
* ``addItem`` / ``addNewItem``: ``get_or_create_item`` + ``enqueue_events``
* ``getItemURI``: ``get_item``; ``addItemData``: ``add_item_data``
* ``getItemData``: ``find_items_by_data``; ``getItemDataList``: ``get_item_data``;
  ``getItemDataAll``: ``get_item_data_all``
* ``addItemEvent`` / ``updateItem``: ``enqueue_event`` / ``complete_event``
* ``getItemList``: ``get_action_id`` + ``pending_items``; ``addItemLink``: ``add_link``
* the admin helpers (``getEngines`` ... ``deleteRecord``): ``store.admin``, whitelisted
  tables only

Differences from the original:

* ``commit_db()`` does nothing: each call commits its own unit of work, so there is never
  anything left to commit. It is kept so old code runs as is.
* Events and links are idempotent: queueing an event that is already queued (or done), or
  stating a link twice, adds no row (``addItemEvent``/``addItemLink`` return False).
* Items are unique by URI: ``addItem`` on a known URI returns the existing id, moves its
  date and queues the events; ``addNewItem`` returns the sentinel ``-1`` (``ITEM_EXISTS``)
  and changes nothing.
* Item data keeps its Python type (an int comes back as an int); legacy rows read as text.
* Naive datetimes are taken as UTC; dates come back as aware UTC datetimes.
* Names of tables and columns in the admin helpers are looked up in the schema, never
  pasted into SQL; an unknown one raises ``UnknownNameError`` (a ``NotFoundError`` and a
  ``ValueError``). A missing record raises ``NotFoundError``; so does ``getItemURI`` of a
  missing item and ``getEngineDisabled`` of a missing engine.
* ``connect_db`` reads every config shape of the original ``create_database_config`` (see
  ``legacy.database_pool``), also accepts ``{"database_url": ...}`` (or ``{"url": ...}``), and
  creates or upgrades the schema; ``close_db`` disposes of the pool.

The original improvement modules live beside this one, as thin adapters over today's modules:
``legacy.logging_config`` (over ``logs``), ``legacy.retry_utils`` (over ``resilience``),
``legacy.database_pool`` (the config, opened by ``connect_db`` through ``db.Database``) and
``legacy.PeregrinDB_v2`` (this class with the 2.0 conventions).
"""

from __future__ import annotations

import configparser
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db.database import Database
from haystack_collector.db.migrate import ensure_schema
from haystack_collector.errors import ConfigError, DatabaseError, NotFoundError
from haystack_collector.legacy.database_pool import (
    CONNECTION_FIELDS,
    create_database_config,
    database_config_parts,
    ini_sections,
)
from haystack_collector.settings import legacy_ini_values, load_settings
from haystack_collector.store import admin
from haystack_collector.store.values import ItemValue, encode

__all__ = ["ITEM_EXISTS", "ActionList", "PeregrinDB", "UnknownNameError"]

P = ParamSpec("P")
T = TypeVar("T")

ITEM_EXISTS = -1
"""What ``addNewItem`` returns when the URI is already stored."""

ActionList = Iterable[int | str] | int | str
"""Action ids or names; a single id or name stands for a list of one."""

_URL_KEYS = ("database_url", "url")


class UnknownNameError(NotFoundError, ValueError):
    """A table or column name the admin helpers do not know (nothing reached the database)."""


class PeregrinDB:
    """The original Peregrin API; ``connect_db`` first (or wrap a Database: ``from_database``)."""

    def __init__(self) -> None:
        self._db: Database | None = None
        self._owns_db = False
        self.engineId: int | None = None

    @classmethod
    def from_database(cls, db: Database) -> PeregrinDB:
        """Wrap an open, migrated Database (tests, or code that already has one).

        ``close_db`` then detaches without disposing of the pool, which stays the owner's.
        """
        legacy = cls()
        legacy._db = db
        return legacy

    # Connection -------------------------------------------------------------------------------

    def connect_db(
        self, config: configparser.RawConfigParser | Mapping[str, Any] | None = None
    ) -> None:
        """Open the pooled database described by ``config`` and bring its schema up to date.

        ``config`` takes every shape the original ``create_database_config`` did: a flat dict
        (``host``, ``port``, ``user``, ``password``, ``database``, ``charset``, ``pool_size``,
        ...), a ConfigParser read from the original INI file or a dict shaped like it (a
        ``[Database]`` section with ``Server``, ``User``, ``Password``, ``Schema``, ``PoolSize``,
        ...), and ``None`` or a config naming no database, which reads the ``DB_*`` environment
        variables. ``{"database_url": "sqlite:///haystack.db"}`` opens any supported database.
        Pool options the config does not give fall back to the environment and defaults as in
        ``load_settings``. An unknown option is a ConfigError naming it.
        """
        settings = load_settings(**_settings_from_config(config))
        db = Database.from_settings(settings)
        try:
            ensure_schema(db)
        except BaseException:
            db.dispose()
            raise
        self.close_db()
        self._db, self._owns_db = db, True

    def commit_db(self) -> None:
        """Nothing to do: every method commits its own unit of work. Kept for old callers."""

    def close_db(self) -> None:
        """Close the pool's connections (if this object opened it) and detach from it."""
        if self._db is not None and self._owns_db:
            self._db.dispose()
        self._db, self._owns_db = None, False

    def info(self) -> dict[str, Any]:
        """Which database this is (password masked), the current engine id and the pool."""
        if self._db is None:
            return {"connected": False, "engine_id": self.engineId}
        url = self._db.url
        return {
            "connected": True,
            "url": self._db.safe_url,
            "dialect": self._db.dialect,
            "server": url.host,
            "port": url.port,
            "database": url.database,
            "user": url.username,
            "engine_id": self.engineId,
            "pool": self._database().pool_status().as_dict(),
        }

    def get_pool_status(self) -> dict[str, int]:
        """The pool as ``{"size", "checked_in", "checked_out", "overflow"}``."""
        return self._database().pool_status().as_dict()

    def get_id(self) -> int | None:
        """The current engine id, as given to ``set_id`` (None before)."""
        return self.engineId

    def set_id(self, engineId: int | None) -> None:
        self.engineId = engineId

    # Status and config ------------------------------------------------------------------------

    def addStatus(self, engineId: int | None, actionId: int | None, message: str) -> int:
        """Record a status message; returns its statusId."""
        return self._run(store.add_status, message=message, engine_id=engineId, action_id=actionId)

    def getStatus(
        self, limit: int = 50
    ) -> list[tuple[int, int | None, int | None, str, datetime | None]]:
        """The newest ``limit`` status rows as (statusId, engineId, actionId, message, date)."""
        rows = self._read(store.recent_status, limit=limit)
        return [(r.status_id, r.engine_id, r.action_id, r.message, r.date) for r in rows]

    def addConfig(self, name: str, value: str | None) -> bool:
        """Set a config key (created if new); True when the value changed."""
        return self._run(store.set_config, name=name, value=value)

    def getConfig(self, name: str) -> str | None:
        return self._read(store.get_config, name=name)

    # Engines and actions ----------------------------------------------------------------------

    def addEngine(self, name: str, version: str, desc: str | None = None) -> int:
        """The engine's id, registering it on first sight."""
        return self._run(store.register_engine, name=name, version=version, description=desc)

    def getEngineDisabled(self, engineId: int) -> bool:
        """Whether the engine is disabled; NotFoundError for an unknown engine."""
        return self._read(store.is_engine_disabled, engine_id=engineId)

    def addAction(self, name: str, desc: str | None = None) -> int:
        """The action's id, registering it on first sight."""
        return self._run(store.register_action, name=name, description=desc)

    def addEngineAction(
        self, engineId: int, actionId: int, function: str | None, params: str | None = None
    ) -> int:
        """Declare that an engine performs an action; returns the engineActionId."""
        return self._run(
            store.register_engine_action,
            engine_id=engineId,
            action_id=actionId,
            function=function,
            params=params,
        )

    # Items ------------------------------------------------------------------------------------

    def addItem(
        self, engineId: int, uri: str, date: datetime | str | None, *actionLists: ActionList
    ) -> int:
        """The item's id (created if new, its date set to ``date``), with an event queued for
        each action (id or name) of each action list."""
        return self._run(_add_item, engineId, uri, _when(date), actionLists, only_new=False)

    def addNewItem(
        self, engineId: int, uri: str, date: datetime | str | None, *actionLists: ActionList
    ) -> int:
        """Like ``addItem`` for a new URI; ``-1`` (and no change) when the URI is known."""
        return self._run(_add_item, engineId, uri, _when(date), actionLists, only_new=True)

    def getItemURI(self, itemId: int) -> str:
        """The item's URI; NotFoundError when there is no such item."""
        item = self._read(store.get_item, item_id=itemId)
        if item is None:
            raise NotFoundError(f"no item with id {itemId}")
        return item.uri

    def addItemData(self, itemId: int, name: str, value: ItemValue, seq: int | None = None) -> int:
        """Add a value under a key (after the key's last value unless ``seq``); the row id."""
        return self._run(store.add_item_data, item_id=itemId, key=name, value=value, seq=seq)

    def getItemData(self, name: str) -> list[tuple[int, ItemValue]]:
        """Every ``(itemId, value)`` stored under the key, by item and sequence."""
        return self._read(store.find_items_by_data, key=name)

    def getItemDataList(self, itemId: int, name: str) -> list[ItemValue]:
        """An item's values of one key, in sequence order."""
        return self._read(store.get_item_data, item_id=itemId, key=name)

    def getItemDataAll(self, itemId: int) -> list[tuple[str, ItemValue, int]]:
        """All of an item's data as ``(name, value, seq)``, by name then sequence."""
        rows = self._read(store.get_item_data_all, item_id=itemId)
        return [(row.key, row.value, row.seq) for row in rows]

    def addItemEvent(self, engineId: int, actionId: int, itemId: int) -> bool:
        """Queue the item for the engine's action; False when it was queued already."""
        return self._run(
            store.enqueue_event, engine_id=engineId, action_id=actionId, item_id=itemId
        )

    def updateItem(
        self, engineId: int, itemId: int, actionId: int, date: datetime | str | None = None
    ) -> bool:
        """Mark the item's event for the action done at ``date`` (now if None).

        True if a pending event was completed; an unknown or already done event is left alone.
        """
        return self._run(
            store.complete_event,
            engine_id=engineId,
            action_id=actionId,
            item_id=itemId,
            at=_when(date),
        )

    def getItemList(self, engineId: int, actionName: str) -> list[tuple[int, str]]:
        """Pending ``(itemId, uri)`` pairs awaiting the engine's action, oldest first.

        An unknown action name has no pending items (the original joined on the name).
        """
        return self._read(_pending_by_action_name, engineId, actionName)

    def addItemLink(self, engineId: int | None, left: int, right: int, linkTypeName: str) -> bool:
        """Link two items; False when the link existed. NotFoundError for an unknown type."""
        return self._run(
            store.add_link, engine_id=engineId, left=left, right=right, link_type=linkTypeName
        )

    # Admin ------------------------------------------------------------------------------------

    def getEngines(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._rows("Engines", limit, offset)

    def getItems(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._rows("Items", limit, offset)

    def getItemDataPaginated(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._rows("ItemData", limit, offset)

    def getActions(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._rows("Actions", limit, offset)

    def getAllConfig(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._rows("Config", limit, offset)

    def getTableCount(self, table: str) -> int:
        """Rows in a known table; UnknownNameError for any other name."""
        return self._read(admin.table_count, table=_known_table(table))

    def searchTable(
        self, table: str, term: str, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A page of the rows where some column contains ``term`` (taken literally)."""
        return self._read(
            admin.table_rows, table=_known_table(table), limit=limit, offset=offset, search=term
        )

    def updateEngine(
        self, engineId: int, fields: Mapping[str, Any] | None = None, **more: Any
    ) -> None:
        """Change an engine's columns, given as a dict and/or keywords (``EngineDesc=...``)."""
        values = {**(fields or {}), **more}
        known = admin.known_table("Engines")
        unknown = sorted(set(values) - set(known.columns.keys()))
        if unknown:
            raise UnknownNameError(f"Engines has no column {unknown[0]!r}")
        self._run(admin.update_record, table=known.name, record_id=engineId, values=values)

    def updateItemData(self, itemDataId: int, value: ItemValue) -> None:
        """Replace the value of one ItemData row (its type tag follows the new value)."""
        text, tag = encode(value)
        self._run(
            admin.update_record,
            table="ItemData",
            record_id=itemDataId,
            values={"itemDataValue": text, "itemDataType": tag},
        )

    def deleteRecord(self, table: str, recordId: int) -> None:
        """Delete a row of a known table (an item takes its data, events and links along)."""
        self._run(admin.delete_record, table=_known_table(table), record_id=recordId)

    # Plumbing ---------------------------------------------------------------------------------

    def _database(self) -> Database:
        if self._db is None:
            raise DatabaseError("PeregrinDB is not connected: call connect_db(config) first")
        return self._db

    def _run(
        self, work: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return self._database().run(work, *args, **kwargs)

    def _read(
        self, work: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return self._database().run_read(work, *args, **kwargs)

    def _rows(self, table: str, limit: int, offset: int) -> list[dict[str, Any]]:
        return self._read(admin.table_rows, table=table, limit=limit, offset=offset)

    def __repr__(self) -> str:
        where = "not connected" if self._db is None else self._db.safe_url
        return f"PeregrinDB({where}, engineId={self.engineId})"


# Units of work made of store calls -----------------------------------------------------------


def _add_item(
    conn: Connection,
    engine_id: int,
    uri: str,
    date: datetime | None,
    action_lists: tuple[ActionList, ...],
    *,
    only_new: bool,
) -> int:
    if only_new and store.find_item_id(conn, uri=uri) is not None:
        return ITEM_EXISTS
    ref = store.get_or_create_item(conn, uri=uri, engine_id=engine_id, date=date)
    if only_new and not ref.created:  # another writer stored it since the check above
        return ITEM_EXISTS
    events = [
        store.EventSpec(engine_id=engine_id, action_id=action_id, item_id=ref.item_id)
        for action_id in _action_ids(conn, action_lists)
    ]
    if events:
        store.enqueue_events(conn, events=events)
    return ref.item_id


def _action_ids(conn: Connection, action_lists: tuple[ActionList, ...]) -> list[int]:
    ids: list[int] = []
    for actions in action_lists:
        # A bare id or name is a list of one (a string must not be read letter by letter).
        for action in [actions] if isinstance(actions, int | str) else actions:
            action_id = (
                store.require_action_id(conn, name=action) if isinstance(action, str) else action
            )
            if action_id not in ids:
                ids.append(action_id)
    return ids


def _pending_by_action_name(
    conn: Connection, engine_id: int, action_name: str
) -> list[tuple[int, str]]:
    action_id = store.get_action_id(conn, name=action_name)
    if action_id is None:
        return []
    return store.pending_items(conn, engine_id=engine_id, action_id=action_id)


# Helpers -------------------------------------------------------------------------------------


def _known_table(name: str) -> str:
    """The name, if the admin whitelist has it; checked before any connection is taken."""
    try:
        return admin.known_table(name).name
    except NotFoundError as exc:
        raise UnknownNameError(str(exc)) from None


def _when(date: datetime | str | None) -> datetime | None:
    """The original passed datetimes or ``'YYYY-MM-DD HH:MM:SS'`` strings."""
    return datetime.fromisoformat(date) if isinstance(date, str) else date


def _settings_from_config(
    config: configparser.RawConfigParser | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``load_settings`` overrides: the database (as a URL) and the pool options the config
    gives, plus the other options of an INI-shaped config ([Paths], [Threads], ...)."""
    source: configparser.RawConfigParser | dict[str, Any]
    if isinstance(config, configparser.RawConfigParser):
        source, sections, url = config, ini_sections(config), None
    else:
        items = dict(config or {})
        urls = [items.pop(key) for key in _URL_KEYS if key in items]
        source, url = items, next((u for u in urls if u), None)
        sections = {str(k): v for k, v in items.items() if isinstance(v, Mapping)}
    values = _other_ini_values(sections)
    if url:
        # The URL names the database; flat keys may only tune the pool.
        flat = {k: v for k, v in source.items() if not isinstance(v, Mapping)}
        parts = database_config_parts(flat)
        named = sorted(parts.keys() & (CONNECTION_FIELDS | {"charset"}))
        if named:
            raise ConfigError(
                f"connect_db: {named[0]!r} and a database_url both name the database; give one",
                setting=named[0],
            )
        values["database_url"] = str(url)
    else:
        parts = database_config_parts(source)
        database = create_database_config(source)
        values["database_url"] = database.url.render_as_string(hide_password=False)
    values.update({key: parts[key] for key in _POOL_FIELDS if key in parts})
    return values


_POOL_FIELDS = ("pool_size", "max_overflow", "pool_timeout", "pool_recycle", "pool_pre_ping")


def _other_ini_values(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The settings the INI's other sections carry; [Database] is read by database_pool."""
    parser = configparser.ConfigParser(interpolation=None)  # as read_legacy_ini reads the file
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_dict(
        {
            name: {str(k): str(v) for k, v in section.items() if v is not None}
            for name, section in sections.items()
            if name.lower() != "database"
        }
    )
    return legacy_ini_values(parser)
