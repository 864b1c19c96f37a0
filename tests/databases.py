"""The test databases: SQLite in a temporary folder, and the MariaDB and PostgreSQL servers.

CI requires all three. A developer without the servers can narrow the run explicitly with
``HAYSTACK_TEST_BACKENDS=sqlite``; an unreachable server that was not excluded fails the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, create_engine, delete, func, select, text, update
from sqlalchemy.engine import URL, make_url

from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.db.schema import HAYSTACK_TABLES, PEREGRIN_TABLES, config, link_types
from haystack_collector.store.admin import primary_key

SERVER_URLS = {
    "mariadb": os.environ.get(
        "HAYSTACK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/haystack_test"
    ),
    "postgresql": os.environ.get(
        "HAYSTACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/haystack_test"
    ),
}
ALL_BACKENDS = ("sqlite", "mariadb", "postgresql")


def selected_backends() -> list[str]:
    wanted = os.environ.get("HAYSTACK_TEST_BACKENDS")
    if not wanted:
        return list(ALL_BACKENDS)
    if os.environ.get("CI"):
        raise RuntimeError("HAYSTACK_TEST_BACKENDS is for developers; CI runs every backend")
    chosen = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown:
        raise ValueError(f"HAYSTACK_TEST_BACKENDS: unknown backend(s) {sorted(unknown)}")
    return chosen


def server_url(backend: str, database: str | None = None) -> URL:
    url = make_url(SERVER_URLS[backend])
    return url.set(database=database) if database else url


def server_database_name(backend: str, name: str) -> str:
    """``name`` with the suffix of the configured URL's database (see below)."""
    return name + (server_url(backend).database or "").removeprefix("haystack_test")


def recreate_server_database(backend: str, name: str) -> URL:
    """Drop and create an empty database on a server; returns its URL.

    The name gets the suffix of the configured URL's database (``haystack_test_me`` gives
    ``_me``), so test runs given different URLs never drop each other's databases.
    """
    url = server_url(backend)
    name = server_database_name(backend, name)
    admin_db = "postgres" if backend == "postgresql" else "mysql"
    admin = create_engine(url.set(database=admin_db), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        admin.dispose()
    return url.set(database=name)


# Haystack's tables reference the Peregrin ones, so they come last (and are cleaned first).
_TABLES = PEREGRIN_TABLES + HAYSTACK_TABLES


class Baseline:
    """What a freshly migrated database holds (the seeds), so each test can return to it."""

    def __init__(self, db: Database) -> None:
        with db.read() as conn:
            self.max_ids = {
                t.name: conn.execute(select(func.max(primary_key(t)))).scalar() or 0
                for t in _TABLES
            }
            self.config = dict(
                conn.execute(select(config.c.configName, config.c.configValue)).all()
            )
            # Seeded link types by name: a test that downgrades and upgrades again seeds them
            # anew, under new ids, and they must stay.
            self.link_types = set(conn.execute(select(link_types.c.LinkTypeName)).scalars())

    def restore(self, db: Database) -> None:
        with db.transaction() as conn:
            for table in reversed(_TABLES):  # children before parents
                newer = primary_key(table) > self.max_ids[table.name]
                if table is link_types:
                    newer = and_(newer, link_types.c.LinkTypeName.not_in(self.link_types))
                conn.execute(delete(table).where(newer))
            for name, value in self.config.items():
                conn.execute(
                    update(config).where(config.c.configName == name).values(configValue=value)
                )
            for table in PEREGRIN_TABLES:
                if table.name in {"Engines", "EngineActions"}:
                    column = "EngineDisabled" if table.name == "Engines" else "engineActionDisabled"
                    conn.execute(update(table).values({column: False}))


@contextmanager
def migrated_database(url: str | URL, **options: Any) -> Iterator[Database]:
    db = Database(url, **options)
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
