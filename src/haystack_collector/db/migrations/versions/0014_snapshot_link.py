"""The link type ``snapshot``: the right item is a snapshot (rendered HTML, a screenshot or a
PDF) of the left one, stored as a file named by its SHA-256.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NAME = "snapshot"
DESCRIPTION = "The right item is a snapshot (rendered HTML, screenshot or PDF) of the left one"

_link_types = sa.table("LinkTypes", sa.column("LinkTypeName"), sa.column("LinkTypeDesc"))
_links = sa.table("ItemLinks", sa.column("linkTypeId"))
_types = sa.table("LinkTypes", sa.column("LinkTypeId"), sa.column("LinkTypeName"))


def upgrade() -> None:
    bind = op.get_bind()
    have = bind.execute(
        sa.select(_link_types.c.LinkTypeName).where(_link_types.c.LinkTypeName == NAME)
    ).first()
    if have is None:
        op.execute(_link_types.insert().values(LinkTypeName=NAME, LinkTypeDesc=DESCRIPTION))


def downgrade() -> None:
    # The links of the type go with it: they would point at a type that no longer exists.
    type_id = sa.select(_types.c.LinkTypeId).where(_types.c.LinkTypeName == NAME).scalar_subquery()
    op.execute(_links.delete().where(_links.c.linkTypeId == type_id))
    op.execute(_link_types.delete().where(_link_types.c.LinkTypeName == NAME))
