"""win-back: the automatic text to an overdue customer (off by default, an optional offer) and
the lapse each customer last had one for

Revision ID: 0017_winback
Revises: 0016_moments
Create Date: 2026-12-02 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0017_winback"
down_revision: str | None = "0016_moments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("business", sa.Column("winback_texts", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))  # fmt: skip
    op.add_column("business", sa.Column("winback_offer",
                                        sqlmodel.sql.sqltypes.AutoString(length=160),
                                        nullable=True))  # fmt: skip
    op.add_column("customer", sa.Column("winback_for", app.models.UTCDateTime(timezone=True),
                                        nullable=True))  # fmt: skip


def downgrade() -> None:
    op.drop_column("customer", "winback_for")
    op.drop_column("business", "winback_offer")
    op.drop_column("business", "winback_texts")
