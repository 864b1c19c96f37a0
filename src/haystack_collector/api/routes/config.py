"""``GET /api/config`` and ``PUT /api/config/{key}``: the Config table, as the original served it.

A value arrives as the original took it, in the query (``?value=...``), or as a JSON body
``{"value": ...}``; numbers and booleans are stored as their JSON text, ``null`` clears the
value. A change writes a Status row (``store.set_config``). Values of keys whose names look
secret, and values that hold a secret (URL credentials, webhook URLs, token-like strings: see
``masking``), are masked for readers without a token.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel

from haystack_collector.api.deps import DbDep, ReadAccess, WriteAccess
from haystack_collector.api.models import WRITE_ERRORS
from haystack_collector.db.schema import CONFIG_NAME_MAX
from haystack_collector.errors import ConfigError
from haystack_collector.masking import mask_value
from haystack_collector.store.status import all_config, set_config

router = APIRouter(prefix="/api/config", tags=["config"], responses=WRITE_ERRORS)

JsonScalar = str | int | float | bool | None


class ConfigValue(BaseModel):
    value: JsonScalar


class ConfigChange(BaseModel):
    key: str
    value: str | None
    changed: bool


def _text(value: JsonScalar) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)  # true, 3, 1.5: as JSON writes them


@router.get("", response_model=dict[str, str | None])
def get_config(db: DbDep, principal: ReadAccess) -> dict[str, str | None]:
    """Every config key and its value."""
    values = db.run_read(all_config)
    if principal is not None and principal.authenticated:
        return values
    return {key: mask_value(key, value) for key, value in values.items()}


@router.put("/{key}", response_model=ConfigChange)
def put_config(
    db: DbDep,
    _principal: WriteAccess,
    key: Annotated[str, Path(min_length=1, max_length=CONFIG_NAME_MAX)],
    value: Annotated[str | None, Query(description="The new value (or send a JSON body).")] = None,
    body: Annotated[ConfigValue | None, Body(description='{"value": ...}')] = None,
) -> ConfigChange:
    """Set a config key (created when new); a change is recorded as a Status row."""
    if value is not None and body is not None and _text(body.value) != value:
        raise ConfigError("give the value once: in the query or in the body", setting=key)
    if value is None and body is None:
        raise ConfigError('no value: send ?value=... or a JSON body {"value": ...}', setting=key)
    new = value if value is not None else _text(body.value if body is not None else None)
    changed = db.run(set_config, name=key, value=new)
    return ConfigChange(key=key, value=new, changed=changed)
