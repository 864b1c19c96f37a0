"""Items and ItemEvents remember whether they came through the API (the SSRF guard reads it).

``itemEventOrigin`` is stamped on every event queued by work that came through the API, and
``ItemOrigin`` on items written through the admin API; NULL means the trusted command line.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ItemEvents") as batch:
        batch.add_column(sa.Column("itemEventOrigin", sa.String(16)))
    with op.batch_alter_table("Items") as batch:
        batch.add_column(sa.Column("ItemOrigin", sa.String(16)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would recreate Items, which the other tables' foreign keys refer to;
        # SQLite (3.35+) drops a plain column in place.
        op.execute('ALTER TABLE "Items" DROP COLUMN "ItemOrigin"')
    else:
        op.drop_column("Items", "ItemOrigin")
    with op.batch_alter_table("ItemEvents") as batch:
        batch.drop_column("itemEventOrigin")
