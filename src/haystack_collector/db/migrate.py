"""Schema upgrades with Alembic, including an existing Peregrin database in place."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from haystack_collector.db.database import Database

log = logging.getLogger("haystack.db.migrate")

MIGRATIONS = Path(__file__).with_name("migrations")
# The revision that is exactly the original Peregrin schema; a legacy database is stamped here.
PEREGRIN_BASELINE = "0001"
_PEREGRIN_MARKERS = frozenset({"Items", "ItemData", "ItemEvents", "Engines", "Actions"})


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Where a database's schema stands against the code's."""

    current: str | None
    head: str
    pending: tuple[str, ...]
    legacy_unversioned: bool

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.legacy_unversioned


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _is_unversioned_peregrin(conn: Connection) -> bool:
    tables = set(inspect(conn).get_table_names())
    return "alembic_version" not in tables and tables >= _PEREGRIN_MARKERS


def status(db: Database) -> MigrationStatus:
    """The current and head revisions and what an upgrade would apply."""
    script = _script()
    head = script.get_current_head()
    assert head is not None
    with db.read() as conn:
        legacy = _is_unversioned_peregrin(conn)
        current = MigrationContext.configure(conn).get_current_revision()
    base = PEREGRIN_BASELINE if legacy else current
    pending = tuple(
        rev.revision
        for rev in reversed(list(script.iterate_revisions(head, base)))
        if rev.revision != base
    )
    return MigrationStatus(current=current, head=head, pending=pending, legacy_unversioned=legacy)


def upgrade(db: Database, revision: str = "head") -> MigrationStatus:
    """Bring the schema to ``revision``; an unversioned Peregrin database is adopted first."""
    with db.transaction() as conn:
        if _is_unversioned_peregrin(conn):
            log.info(
                "existing Peregrin database found: adopting it at revision %s", PEREGRIN_BASELINE
            )
            command.stamp(_config(conn), PEREGRIN_BASELINE)
        command.upgrade(_config(conn), revision)
    after = status(db)
    log.info("database schema at revision %s", after.current)
    return after


def ensure_schema(db: Database) -> MigrationStatus:
    """Upgrade only when something is pending (cheap to call at every start)."""
    current = status(db)
    return upgrade(db) if not current.up_to_date else current
