"""Engines, actions, what each engine can do, and link types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import (
    ACTION_NAME_MAX,
    ENGINE_NAME_MAX,
    ENGINE_VERSION_MAX,
    actions,
    engine_actions,
    engines,
    link_types,
)
from haystack_collector.errors import NotFoundError
from haystack_collector.store._sql import check_length, from_db, insert_ignoring_duplicates, utcnow


@dataclass(frozen=True, slots=True)
class EngineRow:
    engine_id: int
    name: str
    version: str
    description: str | None
    disabled: bool
    created: datetime | None


@dataclass(frozen=True, slots=True)
class EngineActionRow:
    engine_action_id: int
    engine_id: int
    action_id: int
    action_name: str
    function: str | None
    params: str | None
    disabled: bool


def register_engine(
    conn: Connection, *, name: str, version: str, description: str | None = None
) -> int:
    """The engine's id, creating it on first sight; a new description replaces the old."""
    check_length("engine name", name, ENGINE_NAME_MAX)
    check_length("engine version", version, ENGINE_VERSION_MAX)
    insert_ignoring_duplicates(
        conn,
        engines,
        [
            {
                "EngineName": name,
                "EngineVersion": version,
                "EngineDesc": description,
                "EngineCreated": utcnow(),
            }
        ],
        unique=("EngineName", "EngineVersion"),
    )
    engine_id = get_engine_id(conn, name=name, version=version)
    if engine_id is None:  # pragma: no cover - the insert above guarantees a row
        raise NotFoundError(f"engine {name} {version} could not be registered")
    if description is not None:
        conn.execute(
            update(engines)
            .where(
                engines.c.EngineId == engine_id, engines.c.EngineDesc.is_distinct_from(description)
            )
            .values(EngineDesc=description)
        )
    return engine_id


def get_engine_id(conn: Connection, *, name: str, version: str | None = None) -> int | None:
    """An engine's id by name (and version; without one, the newest registered)."""
    query = select(engines.c.EngineId).where(engines.c.EngineName == name)
    if version is not None:
        query = query.where(engines.c.EngineVersion == version)
    return conn.execute(query.order_by(engines.c.EngineId.desc()).limit(1)).scalar()


def get_engine(conn: Connection, *, engine_id: int) -> EngineRow | None:
    row = conn.execute(select(engines).where(engines.c.EngineId == engine_id)).first()
    return None if row is None else _engine_row(row)


def list_engines(conn: Connection) -> list[EngineRow]:
    rows = conn.execute(select(engines).order_by(engines.c.EngineName, engines.c.EngineVersion))
    return [_engine_row(row) for row in rows]


def set_engine_disabled(conn: Connection, *, engine_id: int, disabled: bool) -> None:
    result = conn.execute(
        update(engines).where(engines.c.EngineId == engine_id).values(EngineDisabled=disabled)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no engine with id {engine_id}")


def is_engine_disabled(conn: Connection, *, engine_id: int) -> bool:
    disabled = conn.execute(
        select(engines.c.EngineDisabled).where(engines.c.EngineId == engine_id)
    ).scalar()
    if disabled is None:
        raise NotFoundError(f"no engine with id {engine_id}")
    return bool(disabled)


def register_action(conn: Connection, *, name: str, description: str | None = None) -> int:
    """The action's id, creating it on first sight."""
    check_length("action name", name, ACTION_NAME_MAX)
    insert_ignoring_duplicates(
        conn,
        actions,
        [{"actionName": name, "actionDesc": description, "actionCreated": utcnow()}],
        unique=("actionName",),
    )
    action_id = get_action_id(conn, name=name)
    assert action_id is not None
    return action_id


def get_action_id(conn: Connection, *, name: str) -> int | None:
    return conn.execute(select(actions.c.actionId).where(actions.c.actionName == name)).scalar()


def require_action_id(conn: Connection, *, name: str) -> int:
    action_id = get_action_id(conn, name=name)
    if action_id is None:
        raise NotFoundError(f"no action named {name!r}")
    return action_id


def register_engine_action(
    conn: Connection,
    *,
    engine_id: int,
    action_id: int,
    function: str | None = None,
    params: str | None = None,
) -> int:
    """Declare that an engine performs an action (idempotent; function and params updated)."""
    check_length("action function", function, 100)
    insert_ignoring_duplicates(
        conn,
        engine_actions,
        [
            {
                "engineId": engine_id,
                "actionId": action_id,
                "actionFunction": function,
                "actionParams": params,
                "engineActionCreated": utcnow(),
            }
        ],
        unique=("engineId", "actionId"),
    )
    where = (engine_actions.c.engineId == engine_id, engine_actions.c.actionId == action_id)
    conn.execute(
        update(engine_actions).where(*where).values(actionFunction=function, actionParams=params)
    )
    found = conn.execute(select(engine_actions.c.engineActionId).where(*where)).scalar()
    if found is None:
        raise NotFoundError(f"engine {engine_id} or action {action_id} does not exist")
    return int(found)


def list_engine_actions(conn: Connection, *, engine_id: int) -> list[EngineActionRow]:
    rows = conn.execute(
        select(engine_actions, actions.c.actionName)
        .join(actions, actions.c.actionId == engine_actions.c.actionId)
        .where(engine_actions.c.engineId == engine_id)
        .order_by(actions.c.actionName)
    )
    return [
        EngineActionRow(
            engine_action_id=row.engineActionId,
            engine_id=row.engineId,
            action_id=row.actionId,
            action_name=row.actionName,
            function=row.actionFunction,
            params=row.actionParams,
            disabled=bool(row.engineActionDisabled),
        )
        for row in rows
    ]


def set_engine_action_disabled(
    conn: Connection, *, engine_id: int, action_id: int, disabled: bool
) -> None:
    result = conn.execute(
        update(engine_actions)
        .where(engine_actions.c.engineId == engine_id, engine_actions.c.actionId == action_id)
        .values(engineActionDisabled=disabled)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"engine {engine_id} has no action {action_id}")


def get_link_type_id(conn: Connection, *, name: str) -> int:
    found = conn.execute(
        select(link_types.c.LinkTypeId).where(link_types.c.LinkTypeName == name)
    ).scalar()
    if found is None:
        raise NotFoundError(f"no link type named {name!r}")
    return int(found)


def link_type_ids(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(link_types.c.LinkTypeName, link_types.c.LinkTypeId)).all())


def _engine_row(row: Row[Any]) -> EngineRow:
    return EngineRow(
        engine_id=row.EngineId,
        name=row.EngineName,
        version=row.EngineVersion,
        description=row.EngineDesc,
        disabled=bool(row.EngineDisabled),
        created=from_db(row.EngineCreated),
    )
