"""The web UI: server-rendered pages over the JSON API, with static JS/CSS and no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from haystack_collector.ui.routes import router

STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR", "install_ui"]


def install_ui(app: FastAPI) -> None:
    """Serve the UI pages at ``/`` and their assets at ``/static`` (idempotent)."""
    if getattr(app.state, "ui_installed", False):
        return
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.state.ui_installed = True
