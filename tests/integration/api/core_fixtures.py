"""Builders for the API core tests: an app over the test database, clients, tokens, logs."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haystack_collector.api.app import create_app
from haystack_collector.db import Database
from haystack_collector.logs import ContextFilter, get_logger
from haystack_collector.settings import Settings
from haystack_collector.store.tokens import create_token

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)  # TEST-NET-3: never loopback
# The API answers only Host names it knows (DNS rebinding); TestClient's own is "testserver".
LOCAL_URL = "http://localhost"
_names = itertools.count(1)


def core_settings(**overrides: Any) -> Settings:
    """Settings with a rate limit no test reaches unless it sets one; no env file."""
    values: dict[str, Any] = {
        "database_url": "sqlite:///unused-by-the-api.db",
        "api_rate_limit": 100_000.0,
        "api_rate_burst": 100_000,
    }
    return Settings(_env_file=None, **(values | overrides))


def core_app(db: Database, **overrides: Any) -> FastAPI:
    return create_app(core_settings(**overrides), db)


@contextmanager
def client_for(app: FastAPI, *, client: tuple[str, int] = LOOPBACK) -> Iterator[TestClient]:
    with TestClient(app, base_url=LOCAL_URL, client=client) as test_client:
        yield test_client


def mint(db: Database, name: str | None = None) -> tuple[str, dict[str, str]]:
    """A new token's name and the header that presents it."""
    chosen = name or f"core-{next(_names)}"
    secret = db.run(create_token, name=chosen)
    return chosen, {"Authorization": f"Bearer {secret}"}


class Captured(logging.Handler):
    """Records of the ``haystack`` logger with the correlation id the context gave them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def ids_of(self, fragment: str) -> list[str | None]:
        return [
            getattr(record, "correlation_id", None)
            for record in self.records
            if fragment in record.getMessage()
        ]


@contextmanager
def captured_logs() -> Iterator[Captured]:
    logger = get_logger("haystack")
    handler = Captured()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` behind a real uvicorn on 127.0.0.1 (a free port) in a thread; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 10 s")
