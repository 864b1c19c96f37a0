"""The Config rows MaxConcurrentJobs and DefaultDelay, now followed by running workers, lose
the value 5 they were seeded with: an empty row leaves workers as their settings say.

Until now nothing read either row, so a 5 in them (this project's seed, and the original's)
never changed anything; keeping it would now cap every worker at 5 jobs and space its requests
to a host 5 s apart. Any other value was chosen by someone and is kept.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAMES = ("MaxConcurrentJobs", "DefaultDelay")
SEEDED = "5"

_config = sa.table("Config", sa.column("configName"), sa.column("configValue"))


def upgrade() -> None:
    op.execute(
        _config.update()
        .where(_config.c.configName.in_(NAMES), _config.c.configValue == SEEDED)
        .values(configValue="")
    )


def downgrade() -> None:
    op.execute(
        _config.update()
        .where(
            _config.c.configName.in_(NAMES),
            sa.or_(_config.c.configValue.is_(None), _config.c.configValue == ""),
        )
        .values(configValue=SEEDED)
    )
