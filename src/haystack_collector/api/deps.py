"""Dependencies the routes declare with ``Annotated``: the database, settings and access checks.

Routes stay thin: they take ``DbDep``/``SettingsDep`` and call keyword-only store functions.
Writes and admin routes depend on ``require_token``; reads on ``read_access`` (open on
loopback by default, see ``Settings.api_read_access``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from haystack_collector.db import Database
from haystack_collector.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
