"""The application factory: one FastAPI app holding the database, settings and routers."""

from __future__ import annotations

from fastapi import FastAPI

from haystack_collector import __version__
from haystack_collector.api import errors
from haystack_collector.api.routes import (
    admin,
    config,
    engines,
    events,
    health,
    hosts,
    items,
    jobs,
    metrics,
    status,
    stream,
)
from haystack_collector.db import Database
from haystack_collector.settings import Settings


def create_app(settings: Settings, db: Database) -> FastAPI:
    """The API (and UI) over ``db``; the caller owns ``db`` and disposes of it."""
    app = FastAPI(
        title="Haystack",
        version=__version__,
        description="Self-hosted web collector: engines, items, queue, hosts and admin.",
    )
    app.state.settings = settings
    app.state.db = db
    errors.install(app)
    for module in (health, metrics, config, engines, items, status, jobs, events, hosts, admin):
        app.include_router(module.router)
    app.include_router(stream.router)
    return app
