"""ItemEvents remember the correlation id of the work that queued them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ItemEvents") as batch:
        batch.add_column(sa.Column("itemEventCorrelationId", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("ItemEvents") as batch:
        batch.drop_column("itemEventCorrelationId")
