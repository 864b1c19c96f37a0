"""Fixtures shared by every test: databases on all three backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from haystack_collector.db import Database
from tests.databases import Baseline, migrated_database, recreate_server_database, selected_backends
from tests.jssite import JsSite, Recorder, serve_jssite, serve_recorder

# The command-line tests' user shell; the browser tests' live `haystack serve` and Chromium pages.
pytest_plugins = ("tests.e2e.cli_fixtures", "tests.e2e.ui_fixtures")


@pytest.fixture(scope="session")
def _migrated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[Database, Baseline]]]:
    """One migrated database per backend for the whole run; tests share it and clean up."""
    opened: dict[str, tuple[Database, Baseline]] = {}
    stack = []
    try:
        for backend in selected_backends():
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'haystack.db'}"
            else:
                url = str(
                    recreate_server_database(backend, "haystack_test").render_as_string(
                        hide_password=False
                    )
                )
            manager = migrated_database(url, pool_size=5, max_overflow=10)
            db = manager.__enter__()
            stack.append(manager)
            opened[backend] = (db, Baseline(db))
        yield opened
    finally:
        for manager in reversed(stack):
            manager.__exit__(None, None, None)


@pytest.fixture(params=selected_backends())
def db(
    request: pytest.FixtureRequest, _migrated: dict[str, tuple[Database, Baseline]]
) -> Iterator[Database]:
    """A migrated database on each backend, returned to its seeded state after the test."""
    database, baseline = _migrated[request.param]
    try:
        yield database
    finally:
        baseline.restore(database)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A private migrated SQLite database, for tests that change server-wide state."""
    with migrated_database(f"sqlite:///{tmp_path / 'haystack.db'}") as database:
        yield database


@pytest.fixture
def jssite() -> Iterator[JsSite]:
    """The local JavaScript site (tests/jssite.py) on 127.0.0.1 and a free port."""
    with serve_jssite() as site:
        yield site


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """Another loopback server (127.0.0.2) recording what reached it: the guard's target."""
    with serve_recorder() as found:
        yield found
