"""The database servers the benchmarks use, and fresh databases on them.

Kept apart from tests/databases.py on purpose: a benchmark never touches a test database.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

SERVERS = {
    "mariadb": os.environ.get("HAYSTACK_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgresql": os.environ.get(
        "HAYSTACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
    ),
}


def recreate(backend: str, name: str) -> URL:
    """Drop and create a database on a server; returns its URL."""
    server = make_url(SERVERS[backend])
    admin_db = "postgres" if backend == "postgresql" else "mysql"
    admin = create_engine(server.set(database=admin_db), isolation_level="AUTOCOMMIT")
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
    return server.set(database=name)
