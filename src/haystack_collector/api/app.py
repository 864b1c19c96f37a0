"""The application factory: one FastAPI app holding the database, settings and routers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from haystack_collector import __version__
from haystack_collector import metrics as metrics_module
from haystack_collector.api import deps, errors, middleware
from haystack_collector.api.models import ErrorOut, error_responses
from haystack_collector.api.routes import (
    admin,
    config,
    engines,
    events,
    health,
    hosts,
    items,
    metrics,
    postings,
    revisits,
    runs,
    status,
    stream,
    watches,
)
from haystack_collector.api.routes import versions as item_versions
from haystack_collector.db import Database
from haystack_collector.settings import Settings
from haystack_collector.ui import install_ui


def create_app(settings: Settings, db: Database) -> FastAPI:
    """The API (and UI) over ``db``; the caller owns ``db`` and disposes of it."""
    app = FastAPI(
        title="Haystack",
        version=__version__,
        description="Self-hosted web collector: engines, items, queue, hosts and admin.",
    )
    app.state.settings = settings
    app.state.db = db
    metrics_module.enable()  # this process answers /metrics: keep the counters from now on
    app.state.read_lane = deps.ReadLane.for_database(settings, db)
    errors.install(app)
    middleware.install(app, settings)
    for module in (
        health,
        metrics,
        config,
        engines,
        items,
        postings,
        status,
        runs,
        events,
        hosts,
        admin,
    ):
        app.include_router(module.router)
    app.include_router(watches.router)
    app.include_router(watches.notifications_router)
    app.include_router(runs.legacy_router)
    app.include_router(revisits.router)
    app.include_router(stream.router)
    app.include_router(item_versions.router)
    deps.document_read_access(app, settings)
    _document_unreadable_bodies(app)
    install_ui(app)
    return app


def _document_unreadable_bodies(app: FastAPI) -> None:
    """Document the 400 every route with a JSON body gives for a body that is not JSON, and
    the 413 for one over ``api_max_body_bytes``, as ErrorOut like every other error.

    FastAPI answers ``{"detail": "There was an error parsing the body"}`` with 400 before any
    route code runs, and leaves the status out of /openapi.json.
    """
    generate = app.openapi
    bodyless = error_responses(400, 413)

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI after the first call; updated in place
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in _error_schemas().items():
            schemas.setdefault(name, definition)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    responses = operation.setdefault("responses", {})
                    for code, answer in bodyless.items():
                        responses.setdefault(str(code), _described(answer["description"]))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_schemas() -> dict[str, Any]:
    """ErrorOut's JSON schema and the schemas it refers to, as /openapi.json's components."""
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {ErrorOut.__name__: schema, **nested}


def _described(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}}
        },
    }
