"""Full-text search over item data: FTS5 on SQLite, FULLTEXT on MariaDB, GIN tsvector on PostgreSQL.

Each database indexes ItemData.itemDataValue its own way (see ``store.search``, which queries
these objects and names them):

- SQLite: a contentless FTS5 table ``ItemDataFts`` whose rowid is ``itemId << 32 | ItemDataId``,
  over the text rows (types str and json, and untyped legacy rows), kept in step by three
  triggers on ItemData and backfilled from it. A later migration that
  makes Alembic recreate ItemData on SQLite (batch mode) drops the triggers and must recreate
  them.
- MariaDB: an InnoDB FULLTEXT index (building it indexes the existing rows; the table is
  copied, which blocks writes to ItemData while it runs).
- PostgreSQL: a GIN index on ``to_tsvector('simple', left(itemDataValue, N))``; the prefix
  bounds the tsvector, which PostgreSQL refuses past 1 MB, so a huge body can always be stored.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The names store.search uses; kept literal here so this revision never changes with the code.
MYSQL_INDEX = "ft_ItemData_value"
POSTGRES_INDEX = "ix_ItemData_fts"
POSTGRES_PREFIX = 100_000

# rowid = itemId << 32 | ItemDataId: a match names its item without a lookup in ItemData, and
# rowid order is item order, so "newest items first" reads the index backwards and stops early.
_SQLITE_UP = (
    # Contentless: the words are indexed, the text stays in ItemData only. unicode61 folds case
    # and (remove_diacritics 2) accents, so "Café" finds "cafe".
    "CREATE VIRTUAL TABLE ItemDataFts USING fts5("
    "itemDataValue, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2')",
    # Only text is indexed (str, json, and legacy rows without a type): numbers, dates and
    # booleans hold no words worth finding, and skipping them keeps the batch store fast.
    "CREATE TRIGGER ItemDataFts_ai AFTER INSERT ON ItemData"
    " WHEN new.itemDataType IS NULL OR new.itemDataType IN ('str', 'json') BEGIN"
    " INSERT INTO ItemDataFts(rowid, itemDataValue)"
    " VALUES ((new.itemId << 32) | (new.ItemDataId & 4294967295), new.itemDataValue);"
    " END",
    # A contentless table forgets a row by being told the words it indexed for it.
    "CREATE TRIGGER ItemDataFts_ad AFTER DELETE ON ItemData"
    " WHEN old.itemDataType IS NULL OR old.itemDataType IN ('str', 'json') BEGIN"
    " INSERT INTO ItemDataFts(ItemDataFts, rowid, itemDataValue)"
    " VALUES ('delete', (old.itemId << 32) | (old.ItemDataId & 4294967295), old.itemDataValue);"
    " END",
    # One trigger for both halves, so the old words always go before the new ones come.
    "CREATE TRIGGER ItemDataFts_au AFTER UPDATE ON ItemData BEGIN"
    " INSERT INTO ItemDataFts(ItemDataFts, rowid, itemDataValue)"
    " SELECT 'delete', (old.itemId << 32) | (old.ItemDataId & 4294967295), old.itemDataValue"
    " WHERE old.itemDataType IS NULL OR old.itemDataType IN ('str', 'json');"
    " INSERT INTO ItemDataFts(rowid, itemDataValue)"
    " SELECT (new.itemId << 32) | (new.ItemDataId & 4294967295), new.itemDataValue"
    " WHERE new.itemDataType IS NULL OR new.itemDataType IN ('str', 'json');"
    " END",
    # Backfill the rows already there.
    "INSERT INTO ItemDataFts(rowid, itemDataValue)"
    " SELECT (itemId << 32) | (ItemDataId & 4294967295), itemDataValue FROM ItemData"
    " WHERE itemDataType IS NULL OR itemDataType IN ('str', 'json')",
)

_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS ItemDataFts_au",
    "DROP TRIGGER IF EXISTS ItemDataFts_ad",
    "DROP TRIGGER IF EXISTS ItemDataFts_ai",
    "DROP TABLE IF EXISTS ItemDataFts",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect in ("mysql", "mariadb"):
        # COPY: an in-place build reuses the hidden FTS_DOC_ID column a dropped FULLTEXT index
        # leaves behind and then misses rows written meanwhile (seen on MariaDB 10.11).
        op.execute(
            f"ALTER TABLE ItemData ADD FULLTEXT INDEX {MYSQL_INDEX} (itemDataValue), ALGORITHM=COPY"
        )
    elif dialect == "postgresql":
        op.execute(
            f'CREATE INDEX "{POSTGRES_INDEX}" ON "ItemData" USING gin'
            f""" (to_tsvector('simple', left("itemDataValue", {POSTGRES_PREFIX})))"""
        )
    else:  # pragma: no cover - Settings refuses other databases
        raise RuntimeError(f"no full-text search for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect in ("mysql", "mariadb"):
        # COPY also drops the hidden FTS_DOC_ID column, leaving the table as 0004 built it.
        op.execute(f"ALTER TABLE ItemData DROP INDEX {MYSQL_INDEX}, ALGORITHM=COPY")
    elif dialect == "postgresql":
        op.execute(f'DROP INDEX IF EXISTS "{POSTGRES_INDEX}"')
