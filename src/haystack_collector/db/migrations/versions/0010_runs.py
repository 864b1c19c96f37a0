"""The table of engine runs requested through the API is ``Runs`` (it was ``Jobs``).

"Job" meant three things in the code; an API-requested engine run is now a *run*, so its table,
its columns (``jobId`` → ``runId``, ``jobState`` → ``runState``, ...) and its index are renamed in
place: the rows are kept. On PostgreSQL the primary key, foreign key and id sequence, named
after the table, follow it. ``RENAME COLUMN`` is in SQLite 3.25+, MariaDB 10.5+ and PostgreSQL.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (
    "Id",
    "Action",
    "Settings",
    "State",
    "Created",
    "Started",
    "Finished",
    "ClaimedBy",
    "LeaseUntil",
    "ItemsStored",
    "EventsEnqueued",
    "Error",
    "CorrelationId",
    "RequestedBy",
)


def upgrade() -> None:
    _rename("Jobs", "Runs", "job", "run")


def downgrade() -> None:
    _rename("Runs", "Jobs", "run", "job")


def _rename(old: str, new: str, old_prefix: str, new_prefix: str) -> None:
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    op.drop_index(f"ix_{old}_state", table_name=old)
    op.rename_table(old, new)
    for suffix in COLUMNS:
        op.execute(
            f"ALTER TABLE {quote(new)} RENAME COLUMN"
            f" {quote(old_prefix + suffix)} TO {quote(new_prefix + suffix)}"
        )
    op.create_index(f"ix_{new}_state", new, [f"{new_prefix}State", f"{new_prefix}Created"])
    if bind.dialect.name == "postgresql":
        # The names PostgreSQL gave these when the table was created (CREATE TABLE "Jobs").
        renames = (
            ("CONSTRAINT", f"{old}_pkey", f"{new}_pkey"),
            ("CONSTRAINT", f"{old}_engineId_fkey", f"{new}_engineId_fkey"),
        )
        for kind, before, after in renames:
            op.execute(f"ALTER TABLE {quote(new)} RENAME {kind} {quote(before)} TO {quote(after)}")
        op.execute(
            f"ALTER SEQUENCE {quote(f'{old}_{old_prefix}Id_seq')}"
            f" RENAME TO {quote(f'{new}_{new_prefix}Id_seq')}"
        )
