"""Status messages and the Config key/value settings (a change writes a Status row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import (
    CONFIG_NAME_MAX,
    SYSTEM_ENGINE,
    actions,
    config,
    engines,
    status,
)
from haystack_collector.errors import NotFoundError
from haystack_collector.masking import mask_text, mask_value
from haystack_collector.store._sql import (
    check_length,
    from_db,
    insert_ignoring_duplicates,
    to_db,
    utcnow,
)
from haystack_collector.store.catalog import get_action_id, get_engine_id

# MariaDB's TEXT holds 64 KiB; at four bytes a character this many always fit.
CONFIG_VALUE_MAX = 16_000


@dataclass(frozen=True, slots=True)
class StatusRow:
    status_id: int
    engine_id: int | None
    action_id: int | None
    message: str
    date: datetime | None
    engine: str | None = None  # the engine's and action's names
    action: str | None = None


def add_status(
    conn: Connection,
    *,
    message: str,
    engine_id: int | None = None,
    action_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Record a message; credentials and tokens in it are masked (anyone may read Status)."""
    result = conn.execute(
        status.insert().values(
            engineId=engine_id,
            actionId=action_id,
            StatusMessage=mask_text(message),
            StatusDate=to_db(at) or utcnow(),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def _with_names() -> Select[Any]:
    """Status rows with their engine's and action's names (None for neither)."""
    return (
        select(status, engines.c.EngineName, actions.c.actionName)
        .outerjoin(engines, engines.c.EngineId == status.c.engineId)
        .outerjoin(actions, actions.c.actionId == status.c.actionId)
    )


def _status_row(row: Row[Any]) -> StatusRow:
    return StatusRow(
        status_id=row.statusId,
        engine_id=row.engineId,
        action_id=row.actionId,
        message=row.StatusMessage or "",
        date=from_db(row.StatusDate),
        engine=row.EngineName,
        action=row.actionName,
    )


def recent_status(
    conn: Connection,
    *,
    limit: int = 50,
    offset: int = 0,
    engine_id: int | None = None,
    action_id: int | None = None,
) -> list[StatusRow]:
    """Newest first, with their engine's and action's names."""
    query = _with_names()
    if engine_id is not None:
        query = query.where(status.c.engineId == engine_id)
    if action_id is not None:
        query = query.where(status.c.actionId == action_id)
    rows = conn.execute(
        query.order_by(status.c.StatusDate.desc(), status.c.statusId.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_status_row(row) for row in rows]


def status_log(
    conn: Connection,
    *,
    limit: int = 50,
    engine: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
) -> list[StatusRow]:
    """Status rows with their engine's and action's names, filtered by those names: newest
    first, or oldest first after ``after_id`` (what a stream needs). An unknown engine or
    action name is NotFoundError."""
    query = _with_names()
    if engine is not None:
        ids = conn.execute(select(engines.c.EngineId).where(engines.c.EngineName == engine))
        engine_ids = list(ids.scalars())  # every version of the engine
        if not engine_ids:
            raise NotFoundError(f"no engine named {engine!r}")
        query = query.where(status.c.engineId.in_(engine_ids))
    if action is not None:
        action_id = get_action_id(conn, name=action)
        if action_id is None:
            raise NotFoundError(f"no action named {action!r}")
        query = query.where(status.c.actionId == action_id)
    if after_id is None:
        query = query.order_by(status.c.statusId.desc())
    else:
        query = query.where(status.c.statusId > after_id).order_by(status.c.statusId)
    return [_status_row(row) for row in conn.execute(query.limit(limit))]


def last_status_id(conn: Connection) -> int:
    """The newest Status row's id (0 when there is none)."""
    newest = conn.execute(select(status.c.statusId).order_by(status.c.statusId.desc()).limit(1))
    return int(newest.scalar() or 0)


def get_config(conn: Connection, *, name: str, default: str | None = None) -> str | None:
    value = conn.execute(select(config.c.configValue).where(config.c.configName == name)).first()
    return default if value is None else value[0]


def all_config(conn: Connection) -> dict[str, str | None]:
    rows = conn.execute(
        select(config.c.configName, config.c.configValue).order_by(config.c.configName)
    )
    return dict(rows.all())


def set_config(conn: Connection, *, name: str, value: str | None) -> bool:
    """Set a config key, creating it if new; a change is recorded as a Status row.

    Returns True when the value changed.
    """
    check_length("config name", name, CONFIG_NAME_MAX)
    check_length(f"config value of {name}", value, CONFIG_VALUE_MAX)
    now = utcnow()
    previous = get_config(conn, name=name, default=None)
    created = insert_ignoring_duplicates(
        conn,
        config,
        [{"configName": name, "configValue": value, "configUpdated": now}],
        unique=("configName",),
    )
    if not created:
        if previous == value:
            return False
        conn.execute(
            update(config)
            .where(config.c.configName == name)
            .values(configValue=value, configUpdated=now)
        )
    shown, was = mask_value(name, value), mask_value(name, previous)
    if shown != value or was != previous:
        message = f"Config {name} changed"  # the Status log is readable by anyone with the UI
    else:
        message = f"Config {name} set to {value!r}" + ("" if created else f" (was {previous!r})")
    add_status(
        conn,
        message=message,
        engine_id=get_engine_id(conn, name=SYSTEM_ENGINE[0], version=SYSTEM_ENGINE[1]),
        action_id=get_action_id(conn, name="config"),
        at=now,
    )
    return True
