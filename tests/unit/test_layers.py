"""Only ``store/`` and ``db/`` build SQL: every other module reaches the database through them.

Engines go through their action context and the queue, routes and the UI through store
functions. The guard reads each module's syntax tree: no SQLAlchemy statement builders, no
tables from ``db.schema``, no ``execute`` calls. ``Connection`` may be named as a type, to hand
a connection to store functions within one transaction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Table

from haystack_collector.db import schema

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "haystack_collector"
LAYERS = ("store", "db")  # where SQL belongs

# What may come from SQLAlchemy outside the layers: types, URLs, errors, and the connection
# event the memory queue uses to act when its caller's transaction commits.
ALLOWED_FROM_SQLALCHEMY = {"Connection", "URL", "make_url", "SQLAlchemyError", "event"}
EXECUTING = {"execute", "executemany", "exec_driver_sql"}
SCHEMA = "haystack_collector.db.schema"
TABLES = {name for name, value in vars(schema).items() if isinstance(value, Table)}


def violations(source: str) -> list[str]:
    """What in ``source`` builds or runs SQL, one line each."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy" or alias.name == SCHEMA:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [alias.name for alias in node.names]
            if node.module.split(".")[0] == "sqlalchemy":
                bad = [name for name in names if name not in ALLOWED_FROM_SQLALCHEMY]
            elif node.module == SCHEMA:
                bad = [name for name in names if name in TABLES or name == "*"]
            elif node.module == "haystack_collector.db":
                bad = [name for name in names if name == "schema"]
            else:
                bad = []
            found += [f"line {node.lineno}: from {node.module} import {name}" for name in bad]
        elif isinstance(node, ast.Attribute) and node.attr in EXECUTING:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def outside_the_layers() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in LAYERS
    ]


def test_the_guard_reads_every_module_outside_the_layers() -> None:
    checked = {path.relative_to(PACKAGE).as_posix() for path in outside_the_layers()}
    assert {"engines/sites.py", "ui/charts.py", "api/routes/status.py", "queue/sql.py"} <= checked
    assert {"legacy/__init__.py", "legacy/PeregrinDB_v2.py", "worker.py"} <= checked
    assert not any(name.startswith(("store/", "db/")) for name in checked)
    assert {"items", "item_events", "item_data", "runs", "status"} <= TABLES


def test_no_module_outside_store_and_db_builds_or_runs_sql() -> None:
    found = {
        path.relative_to(PACKAGE).as_posix(): problems
        for path in outside_the_layers()
        if (problems := violations(path.read_text(encoding="utf-8")))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select",
        "from sqlalchemy import func, update",
        "from sqlalchemy.orm import aliased",
        "import sqlalchemy as sa",
        "from haystack_collector.db.schema import items",
        "from haystack_collector.db.schema import *",
        "from haystack_collector.db import schema",
        "import haystack_collector.db.schema",
        "conn.execute(query)",
        "rows = self.conn.exec_driver_sql('select 1')",
    ],
)
def test_the_guard_catches_sql_built_or_run(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy.engine import Connection",
        "from sqlalchemy.engine import URL, make_url",
        "from haystack_collector.db.schema import URI_MAX, CONFIG_NAME_MAX",
        "from haystack_collector import store\nstore.store_items(conn, engine_id=1, records=[])",
        "db.run(store.finish_claimed, event_ids=[1])",
    ],
)
def test_the_guard_lets_store_calls_and_types_through(source: str) -> None:
    assert violations(source) == []
